"""Paths walked through directory descriptors: no check-then-use on a folder that is not ours.

A user's folder (``pull -o``, ``export``, ``mirror``) and a ``file://`` store may be writable by
someone else, who can swap a folder for a symbolic link at any moment (``renameat2`` with
``RENAME_EXCHANGE`` is atomic). A check by path (``lstat``) followed by a use by path resolves
the path twice, and the second resolution may follow the link. So each folder is opened from
the one before it with ``O_NOFOLLOW | O_DIRECTORY`` (a link fails with ``ELOOP``), made with
``mkdirat`` when absent, and every create, rename, link, unlink and read is done relative to the
descriptor of the folder that was checked.

A file written there is created ``O_CREAT | O_EXCL | O_NOFOLLOW`` relative to its folder and
filled only through its own descriptor (:func:`create_file`, :func:`copy_fd`): a name is never
looked up again once made (another writer of the folder may put a link there meanwhile). A
root is opened once from ``/``, every component ``O_NOFOLLOW`` (:func:`open_root`), and its
descriptor is kept: a parent swapped for a link later is never followed.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import secrets
import stat
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "FOLDER_FLAGS",
    "MAX_NAME_BYTES",
    "READ_FLAGS",
    "WRITE_FLAGS",
    "copy_fd",
    "copy_file",
    "create_file",
    "fd_path",
    "identity",
    "open_folder",
    "open_root",
    "rename_noreplace",
    "temp_name",
    "walk",
]

MAX_NAME_BYTES = 255
"""NAME_MAX of Linux and macOS file systems: a file name's length in bytes (UTF-8)."""

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
FOLDER_FLAGS = os.O_RDONLY | os.O_CLOEXEC | _NOFOLLOW | os.O_DIRECTORY
"""A folder, never through a link in its place."""
READ_FLAGS = os.O_RDONLY | os.O_CLOEXEC | _NOFOLLOW | os.O_NONBLOCK
"""A file to read: no link in its place, no blocking on a FIFO."""

WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | _NOFOLLOW
"""A new file: made here and now (never a name that exists, never through a link)."""
_PATH_FLAGS = getattr(os, "O_PATH", os.O_RDONLY) | os.O_CLOEXEC | _NOFOLLOW | os.O_DIRECTORY
_FICLONE = 0x40049409  # Linux ioctl: clone a file's extents (btrfs, XFS, bcachefs)

_PROC_FD = Path("/proc/self/fd")
_HAS_PROC_FD = _PROC_FD.is_dir()


def open_folder(name: str | os.PathLike[str], dir_fd: int | None = None) -> int:
    """The folder ``name`` (relative to ``dir_fd``) opened without following a link in its
    place: ``OSError(ELOOP)`` for a link (Linux says ``ENOTDIR`` for a link with
    ``O_DIRECTORY``; it is told apart here), ``NotADirectoryError`` for anything else."""
    try:
        return os.open(name, FOLDER_FLAGS, dir_fd=dir_fd)
    except NotADirectoryError:
        if stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            raise OSError(errno.ELOOP, "a symbolic link on the way", os.fspath(name)) from None
        raise


def walk(base: int, parts: Sequence[str], *, make: bool = False) -> int:
    """A new descriptor of the folder ``base/parts...``, each part opened from the one before
    (:func:`open_folder`); with ``make``, an absent part is made (``mkdirat``), never through a
    link. The caller closes it.

    Raises:
        OSError: ``ELOOP`` a part is a link, ``ENOTDIR`` not a folder, ``ENOENT`` absent;
            ``filename`` is the ``/``-joined parts up to the one refused.
    """
    fd = os.dup(base)
    depth = 0
    try:
        for depth, part in enumerate(parts, 1):  # noqa: B007 - depth names the refused part
            try:
                inner = open_folder(part, fd)
            except FileNotFoundError:
                if not make:
                    raise
                # made meanwhile (another writer of this plan): opened as found
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, dir_fd=fd)
                inner = open_folder(part, fd)
            os.close(fd)
            fd = inner
    except OSError as exc:
        os.close(fd)
        exc.filename = "/".join(parts[:depth])
        raise
    return fd


def open_root(path: Path, *, make: bool = False) -> int:
    """The absolute, resolved folder ``path`` opened from ``/`` one component at a time, each
    without following a link (``O_PATH`` on the way: no read permission needed there), and
    made level by level with ``make``. ``path`` is resolved, so a link met is a swap.

    Raises:
        OSError: as :func:`walk`, ``filename`` the ``/``-joined parts up to the one refused.
    """
    *parts, last = path.parts[1:] or (".",)
    base = os.open("/", _PATH_FLAGS)
    try:
        for depth, part in enumerate(parts, 1):
            try:
                inner = os.open(part, _PATH_FLAGS, dir_fd=base)
            except OSError as exc:
                if exc.errno == errno.ENOENT and make:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, dir_fd=base)
                    inner = os.open(part, _PATH_FLAGS, dir_fd=base)
                else:
                    exc.filename = "/" + "/".join(parts[:depth])
                    raise
            os.close(base)
            base = inner
        try:
            return walk(base, [last], make=make)
        except OSError as exc:
            exc.filename = os.fspath(path)
            raise
    finally:
        os.close(base)


_RENAME_NOREPLACE = 1
try:
    _renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
except OSError:  # pragma: no cover - no C library to load
    _renameat2 = None


def rename_noreplace(src: str, dst: str, dir_fd: int) -> None:
    """Rename ``src`` to ``dst`` in the open folder, never replacing what is at ``dst``.

    Raises FileExistsError if anything (a file, a folder, a link) is at ``dst``: a name that
    was free when the plan was made may be taken by another writer of the folder since, and
    ``os.replace`` would silently overwrite it. ``renameat2(RENAME_NOREPLACE)`` is atomic;
    where it is missing a file is hard-linked (``linkat`` never replaces) then unlinked.
    """
    if _renameat2 is not None:
        if _renameat2(dir_fd, os.fsencode(src), dir_fd, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.EPERM):  # unsupported here: fall back
            raise OSError(err, os.strerror(err), dst)
    if not stat.S_ISDIR(os.stat(src, dir_fd=dir_fd, follow_symlinks=False).st_mode):
        os.link(src, dst, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
        os.unlink(src, dir_fd=dir_fd)
        return
    # a folder cannot be hard-linked: the narrowest check-then-rename there is
    with contextlib.suppress(FileNotFoundError):
        os.stat(dst, dir_fd=dir_fd, follow_symlinks=False)
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst)
    os.rename(src, dst, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


def identity(info: os.stat_result) -> tuple[int, int]:
    """``(st_dev, st_ino)``: which file a stat describes, whatever its name."""
    return info.st_dev, info.st_ino


def create_file(name: str, dir_fd: int, mode: int = 0o600) -> int:
    """A new file ``name`` in the open folder, opened for writing (:data:`WRITE_FLAGS`):
    ``FileExistsError`` if anything (a link too) is there already. The caller closes it."""
    return os.open(name, WRITE_FLAGS, mode, dir_fd=dir_fd)


def copy_fd(source: Path, dst: int, *, reflink: bool = True) -> None:
    """Copy the regular file at ``source`` (ours: a cache blob) into the open, empty ``dst``:
    a copy-on-write clone when ``reflink`` and the filesystem offers one, else an in-kernel
    copy (``copy_file_range``, then ``sendfile``), else ``read``/``write``; only ever through
    the descriptor, never by the name it was created under."""
    src = os.open(source, READ_FLAGS)
    try:
        if reflink and sys.platform.startswith("linux"):
            try:
                import fcntl

                fcntl.ioctl(dst, _FICLONE, src)
                return
            except (OSError, ImportError):
                pass  # not on this filesystem: copy; nothing was written
        _copy_fd(src, dst)
    finally:
        os.close(src)


def copy_file(source: Path, dest: Path, *, reflink: bool) -> None:
    """A writable (0644) copy of ``source`` at the new path ``dest`` (in the cache's own
    folders); a copy-on-write clone first when ``reflink`` and the filesystem offers one.
    ``dest`` is created ``O_EXCL | O_NOFOLLOW`` and written only through that descriptor
    (never unlinked and reopened by name: a link could be put there in between)."""
    out = os.open(dest, WRITE_FLAGS, 0o644)
    try:
        copy_fd(source, out, reflink=reflink)
        os.fchmod(out, 0o644)
    finally:
        os.close(out)


def _copy_fd(src: int, dst: int) -> None:
    size = os.fstat(src).st_size
    done = 0
    with contextlib.suppress(OSError):  # refused (EXDEV, ENOSYS, EINVAL...): the next way
        while done < size and (n := os.copy_file_range(src, dst, size - done, done, done)):
            done += n
    if done == 0:
        with contextlib.suppress(OSError):
            while done < size and (n := os.sendfile(dst, src, done, size - done)):
                done += n
    os.lseek(dst, done, os.SEEK_SET)
    while chunk := os.pread(src, 1 << 20, done):
        view = memoryview(chunk)
        while view:
            view = view[os.write(dst, view) :]
        done += len(chunk)


def fd_path(fd: int, name: str, fallback: Path) -> Path:
    """A path to ``name`` in the open folder ``fd`` that resolves through the descriptor
    (``/proc/self/fd/N/NAME``), for calls that take only a path; ``fallback`` (the plain
    path, resolved again by the kernel) where ``/proc`` is not there."""
    if _HAS_PROC_FD:
        return _PROC_FD / str(fd) / name
    return fallback


def temp_name(name: str, *, owner: str | None = None, tag: str = "tmp") -> str:
    """``.<name>.<owner>.<rand>.<tag>``: a unique, hidden name beside ``name``, at most
    :data:`MAX_NAME_BYTES` bytes in UTF-8 (``name`` is cut by bytes, on a character boundary).

    ``owner`` (the PID when None) lets the cache tell a dead writer's leftover.
    """
    suffix = f".{owner or os.getpid()}.{secrets.token_hex(4)}.{tag}"
    budget = MAX_NAME_BYTES - 1 - len(suffix.encode())
    stem = name.encode("utf-8", "surrogateescape")[: max(budget, 0)]
    return f".{stem.decode('utf-8', 'ignore')}{suffix}"
