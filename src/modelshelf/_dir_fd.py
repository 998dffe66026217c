"""Paths walked through directory descriptors: no check-then-use on a folder that is not ours.

A user's folder (``pull -o``, ``export``, ``mirror``) and a ``file://`` store may be writable by
someone else, who can swap a folder for a symbolic link at any moment (``renameat2`` with
``RENAME_EXCHANGE`` is atomic). A check by path (``lstat``) followed by a use by path resolves
the path twice, and the second resolution may follow the link. So each folder is opened from
the one before it with ``O_NOFOLLOW | O_DIRECTORY`` (a link fails with ``ELOOP``), made with
``mkdirat`` when absent, and every create, rename, link, unlink and read is done relative to the
descriptor of the folder that was checked.

For the few calls that only take a path (a reflink or a copy through :mod:`shutil`),
:func:`fd_path` names the file through ``/proc/self/fd/N/NAME``: the kernel resolves it from the
open folder itself, never from its path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "FOLDER_FLAGS",
    "MAX_NAME_BYTES",
    "READ_FLAGS",
    "fd_path",
    "open_folder",
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
