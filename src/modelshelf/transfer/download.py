"""Concurrent, hashed downloads from a store into local files (uploads: ``verified_upload``).

A blob of one range (16 MiB) is one GET whose pieces are written and hashed as they arrive,
in the thread that receives them. A larger blob is a series of ranged GETs: a bounded window
of them streams into the file at their offsets, and each finished range is read back in order
and hashed, so what is hashed is what the file holds and memory is a few pieces per request.
A blob of a local-folder store is copied in the kernel instead (``local_copy``).
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Protocol, TypeVar

from modelshelf import constants
from modelshelf.backends.base import Backend, without_secrets
from modelshelf.errors import (
    CacheWriteError,
    IntegrityError,
    ObjectNotFoundError,
    StoreAuthError,
    StoreError,
    StoreUnreachableError,
)
from modelshelf.transfer.local_copy import download_local
from modelshelf.transfer.progress import ProgressTask

__all__ = [
    "LocalBlob",
    "download_verified",
    "fetch_into",
    "hash_file",
    "hash_object",
    "run_concurrently",
    "run_per_blob",
]

T = TypeVar("T")
R = TypeVar("R")


class _Blob(Protocol):
    """What :func:`run_per_blob` needs of an entry (a manifest's ``FileEntry``)."""

    @property
    def sha256(self) -> str: ...

    @property
    def size(self) -> int: ...


E = TypeVar("E", bound=_Blob)


def hash_file(path: Path, progress: ProgressTask | None = None) -> str:
    """The sha256 (hex) of a local file, read in large chunks."""
    digest = hashlib.sha256()
    with path.open("rb", buffering=0) as handle:
        while chunk := handle.read(constants.CHUNK_SIZE):
            digest.update(chunk)
            if progress is not None:
                progress.advance(len(chunk))
    return digest.hexdigest()


def run_concurrently(
    fn: Callable[[T], R], items: Sequence[T], max_workers: int | None = None
) -> list[R]:
    """``[fn(i) for i in items]`` on a bounded thread pool, in order; the first error wins.

    On an error, work not yet started is cancelled before the error is raised, so a failing
    pull stops quickly instead of finishing every other download first.
    """
    if not items:
        return []
    workers = min(max_workers or constants.max_concurrency(), len(items))
    if workers == 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="modelshelf") as pool:
        futures = {pool.submit(fn, item): index for index, item in enumerate(items)}
        results: list[R | None] = [None] * len(items)
        try:
            for future in as_completed(futures):
                results[futures[future]] = future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return results  # type: ignore[return-value]


def run_per_blob(
    fn: Callable[[E], R], entries: Sequence[E], *, local: bool = False
) -> dict[str, R]:
    """``{entry.sha256: fn(entry)}``: blobs of at most one range share one bounded pool; larger
    ones run one after another, each with its own window of ranges, so requests in flight
    stay bounded either way.

    Args:
        local: the blobs are local files (:class:`LocalBlob`), copied with no ranges in flight:
            all share the pool, largest first, so the longest hash (sha256 is sequential)
            starts at once and the others fill the remaining cores beside it.
    """
    if local:
        ordered = sorted(entries, key=lambda e: e.size, reverse=True)
        return dict(zip([e.sha256 for e in ordered], run_concurrently(fn, ordered), strict=True))
    small = [e for e in entries if e.size <= constants.RANGE_SIZE]
    large = [e for e in entries if e.size > constants.RANGE_SIZE]
    found = dict(zip([e.sha256 for e in small], run_concurrently(fn, small), strict=True))
    found.update({e.sha256: fn(e) for e in large})
    return found


def _ranges(size: int, range_size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, size, range_size):
        yield start, min(start + range_size, size)


class BlobReader(Protocol):
    """Read access to one stored blob, as a store layout hands it out (``Store.open_blob``)."""

    @property
    def name(self) -> str:
        """The blob's name within its store (the key, for a bucket)."""
        ...

    @property
    def where(self) -> str:
        """Where the blob lies, for error messages (``s3://bucket/prefix/blobs/sha256/ab/...``)."""
        ...

    def size(self) -> int:
        """The stored size; raises ObjectNotFoundError when the blob is missing."""
        ...

    def read_range(self, start: int, end: int) -> bytes | memoryview:
        """Bytes ``[start, end)``."""
        ...

    def read_chunks(self, start: int, end: int) -> Iterator[bytes | memoryview]:
        """Bytes ``[start, end)`` as they arrive, in pieces (for writing and hashing on the way)."""
        ...


class ObjectBlob:
    """A blob that is one object under one key of a :class:`Backend` (the bucket layout)."""

    def __init__(self, backend: Backend, key: str) -> None:
        self.backend = backend
        self.key = key

    @property
    def name(self) -> str:
        return self.key

    @property
    def where(self) -> str:
        return f"{without_secrets(self.backend.url)}/{self.key}"

    def size(self) -> int:
        return self.backend.head(self.key).size

    def read_range(self, start: int, end: int) -> bytes | memoryview:
        return self.backend.get_range(self.key, start, end)

    def read_chunks(self, start: int, end: int) -> Iterator[bytes | memoryview]:
        return self.backend.get_range_chunks(self.key, start, end, constants.STREAM_CHUNK_SIZE)


class LocalBlob(ObjectBlob):
    """An object of a local-folder backend that is also the file ``path`` on this machine:
    :func:`download_verified` copies it in the kernel (:mod:`modelshelf.transfer.local_copy`)."""

    def __init__(self, backend: Backend, key: str, path: Path) -> None:
        super().__init__(backend, key)
        self.path = path


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    view = data
    while view:
        view = view[os.pwrite(fd, view, offset + data.nbytes - view.nbytes) :]


def _ranges_in_order(blob: BlobReader, size: int) -> Iterator[memoryview]:
    """The blob's bytes by ranges, a bounded window of them in flight, yielded in order."""
    # A generator, never a list: the size comes from a manifest, and a claim of 2**62 bytes
    # must not plan 2**38 ranges up front (callers compare it with the real size first).
    ranges = _ranges(size, constants.RANGE_SIZE)
    if size <= constants.RANGE_SIZE:
        yield from (memoryview(blob.read_range(start, end)) for start, end in ranges)
        return
    yield from _in_window(lambda start, end: memoryview(blob.read_range(start, end)), ranges)


def _in_window(fetch: Callable[[int, int], R], ranges: Iterator[tuple[int, int]]) -> Iterator[R]:
    """``fetch`` of each range on a pool, a bounded window ahead; results in order."""
    window = max(2, constants.max_concurrency())
    pending: deque[Future[R]] = deque()
    with ThreadPoolExecutor(max_workers=window, thread_name_prefix="modelshelf-range") as pool:
        try:
            for start, end in ranges:
                pending.append(pool.submit(fetch, start, end))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _write_pieces(blob: BlobReader, fd: int, start: int, end: int) -> Iterator[memoryview]:
    """Write ``[start, end)`` of the blob into ``fd`` at its offsets as the pieces arrive."""
    position = start
    # A small range comes in one piece: one call instead of a stream's several per file.
    small = end - start <= constants.WHOLE_READ_SIZE
    for piece in (blob.read_range(start, end),) if small else blob.read_chunks(start, end):
        data = memoryview(piece)
        if data.nbytes > end - position:
            raise StoreError(
                f"{blob.where}: the store sent more than the {end - start} bytes asked for at"
                f" offset {start}; it does not honour ranged reads"
            )
        _pwrite_all(fd, data, position)
        position += data.nbytes
        yield data


def fetch_into(blob: BlobReader, size: int, fd: int) -> Iterator[memoryview]:
    """Write the blob into ``fd`` (opened for reading too); yield its bytes in order.

    One range: each piece is yielded as soon as it is written, in the thread that received
    it, so it is hashed while still in the CPU's cache. Several ranges: a window of them
    streams into the file on a pool, and each finished range is read back in order (its pages
    are in memory) through a mapping. Either way a pull holds a few pieces per request
    in flight, not whole ranges, and what is hashed is what the file holds. A range that
    comes back short ends the stream early: the caller sees too few bytes.
    """
    if size == 0:
        return  # nothing to read: no request
    if size <= constants.RANGE_SIZE:
        yield from _write_pieces(blob, fd, 0, size)
        return

    def fetch(start: int, end: int) -> tuple[int, int, int]:
        return start, end, sum(p.nbytes for p in _write_pieces(blob, fd, start, end))

    for start, end, written in _in_window(fetch, _ranges(size, constants.RANGE_SIZE)):
        if written and start % mmap.ALLOCATIONGRANULARITY:  # only with odd range sizes
            yield memoryview(os.pread(fd, written, start))
        elif written:
            # Mapped, not read into a buffer: no copy into userspace (a third less CPU for a
            # 768 MiB blob). The file is this pull's own temp file: nothing else truncates it.
            with mmap.mmap(fd, written, prot=mmap.PROT_READ, offset=start) as mapped:
                view = memoryview(mapped)
                try:
                    yield view
                finally:
                    view.release()
        if written < end - start:
            return


def hash_object(
    blob: BlobReader, size: int, progress: ProgressTask | None = None
) -> tuple[str, int]:
    """The sha256 (hex) and length of the first ``size`` bytes of a blob, read by ranges.

    The same bounded window of ranged GETs as a download, hashed in order, nothing written.
    """
    digest = hashlib.sha256()
    received = 0
    for chunk in _ranges_in_order(blob, size):
        digest.update(chunk)
        received += chunk.nbytes
        if progress is not None:
            progress.advance(chunk.nbytes)
    return digest.hexdigest(), received


def _explain_damage(blob: BlobReader, size: int, expected: str, label: str, exc: Exception) -> None:
    """Turn a failed read of a missing or truncated blob into the IntegrityError it is."""
    try:
        _check_real_size(blob, size, expected, label)
    except IntegrityError as damage:
        raise damage from exc


def _check_real_size(blob: BlobReader, size: int, expected: str, label: str) -> None:
    """Raise :class:`IntegrityError` unless the blob holds ``size`` bytes."""
    where = blob.where
    try:
        actual = blob.size()
    except ObjectNotFoundError as exc:
        raise IntegrityError(label, expected, "nothing: the blob is missing", where) from exc
    except StoreError:
        return  # the store cannot tell us more now (restarting): report the read's own failure
    if actual != size:
        raise IntegrityError(
            label, expected, f"an object of {actual} bytes instead of {size}", where
        )


def download_verified(
    blob: BlobReader,
    size: int,
    expected_sha256: str,
    dest: Path,
    *,
    label: str,
    progress: ProgressTask | None = None,
) -> None:
    """Write the blob to the new file ``dest``, checking size and sha256 on the way.

    Args:
        label: what to call the content in an error (the file's path in its asset).

    Raises:
        IntegrityError: the bytes do not hash to ``expected_sha256`` or have the wrong size;
            ``dest`` is then left for the caller to delete.
        CacheWriteError: ``dest`` could not be written (a full disk); left for the caller too.
    """
    if isinstance(blob, LocalBlob):
        download_local(
            blob.path, size, expected_sha256, dest, label=label, where=blob.where, progress=progress
        )
        return
    if size > constants.RANGE_SIZE:
        # One HEAD before planning many ranges: a manifest that lies about the size fails here,
        # naming both sizes, instead of fetching (or planning) ranges for bytes that are not
        # there. A single range needs no HEAD: a short or long object fails the checks below.
        _check_real_size(blob, size, expected_sha256, label)
    digest = hashlib.sha256()
    received = 0
    try:
        # Read and write: a large blob is hashed by reading back what was written.
        fd = os.open(dest, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise CacheWriteError(label, str(dest.parent), exc) from exc
    try:
        for chunk in fetch_into(blob, size, fd):
            digest.update(chunk)
            received += chunk.nbytes
            if progress is not None:
                progress.advance(chunk.nbytes)
    except (StoreUnreachableError, StoreAuthError):
        raise
    except StoreError as exc:
        _explain_damage(blob, size, expected_sha256, label, exc)
        raise
    except OSError as exc:  # the store's failures are StoreErrors: this is the local write
        raise CacheWriteError(label, str(dest.parent), exc) from exc
    finally:
        os.close(fd)
    actual = digest.hexdigest()
    if received != size or actual != expected_sha256:
        if size <= constants.RANGE_SIZE:
            with contextlib.suppress(StoreError):  # the size, if that is what is wrong
                _check_real_size(blob, size, expected_sha256, label)
        raise IntegrityError(
            label,
            expected_sha256,
            actual if received == size else f"{actual} ({received} bytes, expected {size})",
            where=blob.where,
        )
