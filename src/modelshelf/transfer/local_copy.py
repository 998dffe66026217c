"""Verified copies of blobs that are files on this machine (``file://`` stores).

A pull from a local store needs no byte in userspace to copy: :func:`download_local` asks the
kernel to clone the file (``FICLONE``: btrfs, XFS, bcachefs) or to copy it
(``os.copy_file_range``: an in-kernel copy, server-side on NFS), in ``CHUNK_SIZE`` chunks, and
falls back to ``pread``/``pwrite`` where neither works (across filesystems on old kernels).
The sha256 is of what was *written*: each chunk is read back from the new file (its pages are
hot in the page cache) while the next chunk is copied, so the check covers exactly the bytes that
land in the cache, and a blob that changes in the store while it is copied fails it.

The store is outside input: the blob is opened without following a symbolic link in its place
or in any folder on its way (each part opened with ``O_NOFOLLOW`` from the one before: the store
folder is a resolved path, so a link in it was planted there), without blocking on a FIFO
(``O_NONBLOCK``), and must be a regular file of the size the manifest records before a byte is
copied.
"""

from __future__ import annotations

import errno
import hashlib
import mmap
import os
import stat
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from modelshelf import constants
from modelshelf._dir_fd import open_folder
from modelshelf.errors import CacheWriteError, IntegrityError, StoreAuthError, StoreError
from modelshelf.transfer.progress import ProgressTask

__all__ = ["download_local"]

_FICLONE = 0x40049409  # Linux ioctl: clone a file's extents
_MAP_AT_LEAST = 1024 * 1024  # hash spans this large through a mapping
_OPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK


def _open_no_links(path: Path) -> int:
    """``os.open(path)`` following no symbolic link in any part of ``path``: each folder is
    opened from the one before it with ``O_NOFOLLOW`` (``ELOOP`` on a link), so a link swapped
    in after any check is not followed either."""
    if os.open not in os.supports_dir_fd or not path.is_absolute():
        return os.open(path, _OPEN_FLAGS)  # no openat here: the last part still is not followed
    *folders, name = path.parts[1:]
    fd = os.open(path.anchor, os.O_RDONLY | os.O_CLOEXEC | os.O_DIRECTORY)
    try:
        for folder in folders:
            inner = open_folder(folder, fd)  # ELOOP for a link, also with O_DIRECTORY
            os.close(fd)
            fd = inner
        return os.open(name, _OPEN_FLAGS, dir_fd=fd)
    finally:
        os.close(fd)


def _open_blob(path: Path, size: int, expected: str, label: str, where: str) -> int:
    """A descriptor of the blob file, refused unless it is a regular file of ``size`` bytes."""
    try:
        fd = _open_no_links(path)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise IntegrityError(label, expected, "nothing: the blob is missing", where) from exc
    except PermissionError as exc:
        raise StoreAuthError(
            f"{where}: cannot read the blob ({exc.strerror}); check the permissions of the"
            " store folder"
        ) from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            what = "a symbolic link in its place or on its path in the store (not followed)"
            raise IntegrityError(label, expected, what, where) from exc
        raise StoreError(f"{where}: cannot open the blob: {exc.strerror or exc}") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise IntegrityError(label, expected, "something that is not a regular file", where)
    if info.st_size != size:
        os.close(fd)
        actual = f"an object of {info.st_size} bytes instead of {size}"
        raise IntegrityError(label, expected, actual, where)
    return fd


def _clone(src: int, dst: int) -> bool:
    """Clone the whole of ``src`` into ``dst`` (copy on write); False where unsupported.

    Tried for every blob, as ``cp`` does: one refused ioctl costs less than the two ``fstat``
    calls that remembering a refusal per pair of filesystems would take.
    """
    if not sys.platform.startswith("linux"):
        return False
    import fcntl

    try:
        fcntl.ioctl(dst, _FICLONE, src)
    except OSError:
        return False
    return True


def _copy_chunk(src: int, dst: int, start: int, end: int) -> int:
    """Copy bytes ``[start, end)`` at the same offsets; how many were copied (fewer at EOF).

    ``os.copy_file_range`` first; on any refusal (EXDEV, ENOSYS, EINVAL, ...) the rest goes by
    ``pread``/``pwrite``, whose errors then say what really failed.
    """
    offset = start
    if hasattr(os, "copy_file_range"):
        try:
            while offset < end:
                done = os.copy_file_range(src, dst, end - offset, offset, offset)
                if done == 0:
                    return offset - start
                offset += done
            return offset - start
        except OSError:
            pass
    while offset < end:
        data = os.pread(src, min(end - offset, constants.CHUNK_SIZE), offset)
        if not data:
            break
        view = memoryview(data)
        while view:
            try:
                view = view[os.pwrite(dst, view, offset + len(data) - len(view)) :]
            except OSError as exc:
                raise _CacheWriteFailedError(exc) from exc
        offset += len(data)
    return offset - start


class _CacheWriteFailedError(Exception):
    """A write into the cache failed (told apart from a read of the store)."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _hash_back(dst: int, start: int, length: int, digest: hashlib._Hash, buffer: bytearray) -> int:
    """Feed bytes ``[start, start + length)`` of ``dst`` to ``digest``; how many were read.

    Large spans are mapped (``mmap``: no copy into userspace, about a third less CPU than
    ``pread`` here); small ones are read into ``buffer`` (one syscall, no mapping to set up).
    ``dst`` is this pull's own temporary file (mode 0600), which nothing else truncates.
    """
    try:
        if length >= _MAP_AT_LEAST and start % mmap.ALLOCATIONGRANULARITY == 0:
            with mmap.mmap(dst, length, prot=mmap.PROT_READ, offset=start) as mapped:
                digest.update(mapped)
            return length
        view = memoryview(buffer)
        read = 0
        while read < length:
            got = os.preadv(dst, [view[: min(len(view), length - read)]], start + read)
            if got == 0:
                break
            digest.update(view[:got])
            read += got
        return read
    except OSError as exc:
        raise _CacheWriteFailedError(exc) from exc


def download_local(
    path: Path,
    size: int,
    expected_sha256: str,
    dest: Path,
    *,
    label: str,
    where: str,
    progress: ProgressTask | None = None,
) -> None:
    """Copy the local blob file ``path`` to the new file ``dest``, checking size and sha256.

    The local counterpart of :func:`modelshelf.transfer.download.download_verified`, with its
    contract: ``dest`` is left for the caller to delete on failure.

    Raises:
        IntegrityError: the blob is missing, a link, not a regular file, of another size, or
            what was written does not hash to ``expected_sha256``.
        CacheWriteError: ``dest`` could not be written (a full disk).
        StoreError: the blob could not be read.
    """
    src = _open_blob(path, size, expected_sha256, label, where)
    try:
        try:
            dst = os.open(dest, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise CacheWriteError(label, str(dest.parent), exc) from exc
        try:
            actual, received = _copy_and_hash(src, dst, size, progress)
        except _CacheWriteFailedError as exc:
            raise CacheWriteError(label, str(dest.parent), exc.cause) from exc.cause
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS):
                raise CacheWriteError(label, str(dest.parent), exc) from exc
            raise StoreError(f"{where}: cannot read the blob: {exc.strerror or exc}") from exc
        finally:
            os.close(dst)
    finally:
        os.close(src)
    if received != size:
        actual = f"an object of {received} bytes instead of {size} (it changed while copied)"
        raise IntegrityError(label, expected_sha256, actual, where)
    if actual != expected_sha256:
        raise IntegrityError(label, expected_sha256, actual, where)


def _copy_and_hash(src: int, dst: int, size: int, progress: ProgressTask | None) -> tuple[str, int]:
    """Copy ``size`` bytes and hash what was written, chunk ``k`` while ``k + 1`` is copied.

    Returns:
        The sha256 (hex) of the bytes written, and how many were written.
    """
    digest = hashlib.sha256()
    chunk = constants.CHUNK_SIZE
    buffer = bytearray(min(_MAP_AT_LEAST, size))
    if size and _clone(src, dst):
        total = min(os.fstat(dst).st_size, size + 1)  # one byte too many is enough to refuse
        received = 0
        for start in range(0, total, chunk):
            got = _hash_back(dst, start, min(chunk, total - start), digest, buffer)
            received += got
            if progress is not None:
                progress.advance(got)
        return digest.hexdigest(), received
    starts = range(0, size, chunk)
    if len(starts) <= 1:
        copied = _copy_chunk(src, dst, 0, size)
        received = _hash_back(dst, 0, copied, digest, buffer)
        if progress is not None:
            progress.advance(received)
        return digest.hexdigest(), received
    received = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="modelshelf-copy") as pool:
        pending: Future[int] = pool.submit(_copy_chunk, src, dst, 0, min(chunk, size))
        for start in starts:
            copied = pending.result()
            following = start + chunk
            if copied == chunk and following < size:
                pending = pool.submit(
                    _copy_chunk, src, dst, following, min(following + chunk, size)
                )
            got = _hash_back(dst, start, copied, digest, buffer)
            received += got
            if progress is not None:
                progress.advance(got)
            if got < chunk:
                break
    return digest.hexdigest(), received
