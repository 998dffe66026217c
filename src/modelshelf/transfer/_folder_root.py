"""The root of a user's folder, opened once and kept (:class:`OpenRoot`), and the cache marks
(``CACHEDIR.TAG``) a user-folder writer looks for: the part of
:mod:`modelshelf.transfer.user_folder` that knows *where* the folder is.

The root is a resolved path, opened from ``/`` without following a link on any component
(:func:`~modelshelf._dir_fd.open_root`); its descriptor then serves every look of the plan,
every write and every check. A parent swapped for a link afterwards is never followed: what
was planned is the folder written.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from modelshelf import constants
from modelshelf._dir_fd import READ_FLAGS, create_file, fd_path, identity, open_root, temp_name
from modelshelf.transfer._folder_slot import hash_regular_file

if TYPE_CHECKING:
    from modelshelf.transfer._folder_plan import Judge, Verdict

__all__ = [
    "BLOB_NAME",
    "BLOB_REASON",
    "OpenRoot",
    "holds_tag",
    "resolved_root",
    "same_content",
    "tagged_folder",
]


# A cache made later around such a file (a project's Shelf(cache_dir=...)) would take a
# read-only one (--link hardlink) as a verified blob: no CACHEDIR.TAG is there yet to refuse.
BLOB_NAME = re.compile(r"(?:^|/)blobs/sha256/[0-9a-f]{2}/[0-9a-f]{64}$")
BLOB_REASON = (
    "has the name of a blob in a modelshelf cache (blobs/sha256/xx/<sha256>), and a cache"
    " made there later would trust it"
)


def resolved_root(root: Path) -> Path:
    """``root`` made absolute with its links resolved: what a containment check compares
    against (a lexical check under ``.`` refuses every join: ``normpath('./a')`` is ``a``)."""
    return Path(os.path.realpath(root))


def same_content(size: int, sha256: str) -> Judge:
    """A :data:`Judge` keeping a regular file with ``size`` bytes hashing to ``sha256``."""

    def judge(path: Path, info: os.stat_result) -> Verdict:
        if not stat.S_ISREG(info.st_mode) or info.st_size != size:
            return "other"
        return "keep" if hash_regular_file(path, size) == sha256 else "other"

    return judge


def holds_tag(name: str, dir_fd: int | None = None) -> bool:
    """True if ``name`` is a file beginning with the CACHEDIR.TAG signature (unfollowed)."""
    try:
        fd = os.open(name, READ_FLAGS, dir_fd=dir_fd)
    except OSError:
        return False
    try:
        head = os.read(fd, len(constants.CACHEDIR_SIGNATURE))
    except OSError:
        return False
    finally:
        os.close(fd)
    return head == constants.CACHEDIR_SIGNATURE


def tagged_folder(root: Path) -> Path | None:
    """The nearest of ``root`` and its parents marked as a cache, else None."""
    for folder in (root, *root.parents):
        if holds_tag(str(folder / constants.CACHEDIR_TAG)):
            return folder
    return None


class OpenRoot:
    """The resolved folder ``path``, opened on first use and kept until :meth:`close`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._lock = threading.Lock()  # a mirror's writers share it
        self._tags: dict[Path, bool] = {}

    def fd(self, *, make: bool = False) -> int | None:
        """The root's descriptor; None while the root does not exist (unless ``make``: then
        it is made level by level, never through a link).

        Raises:
            OSError: ``ELOOP`` a component is a link now (swapped in), ``ENOTDIR``, ...
        """
        with self._lock:
            if self._fd is None:
                try:
                    self._fd = open_root(self.path, make=make)
                except FileNotFoundError:
                    if make:
                        raise
                    return None
            return self._fd

    def read_file(self, name: str, limit: int) -> bytes | None:
        """The bytes of the regular file ``name`` at the root (ours, e.g. a mirror's index),
        read through the root's descriptor; None if the root or the file is absent.

        Raises:
            OSError: ``name`` is a link (``ELOOP``: never followed), a FIFO, a device, a
                folder (nothing that can block or never end is read), or over ``limit`` bytes.
        """
        fd = self.fd()
        if fd is None:
            return None
        try:
            src = os.open(name, READ_FLAGS, dir_fd=fd)  # O_NOFOLLOW | O_NONBLOCK: a FIFO opens
        except FileNotFoundError:
            return None
        try:
            info = os.fstat(src)
            if not stat.S_ISREG(info.st_mode):
                raise OSError(errno.EINVAL, "not a regular file", name)
            if info.st_size > limit:
                raise OSError(errno.EFBIG, f"over {limit} bytes", name)
            chunks: list[bytes] = []
            total = 0
            while total <= limit and (chunk := os.read(src, 1 << 20)):  # it may grow meanwhile
                chunks.append(chunk)
                total += len(chunk)
            if total > limit:
                raise OSError(errno.EFBIG, f"over {limit} bytes", name)
            return b"".join(chunks)
        finally:
            os.close(src)

    def replace_file(self, name: str, data: bytes) -> None:
        """Write ``data`` to a new temporary file in the (open) root, through its descriptor,
        and rename it to ``name`` if the temporary name still holds that very file (another
        writer of the folder may swap it for a link); nothing is left under the temporary
        name."""
        fd = self.fd(make=True)
        assert fd is not None  # made
        temp = temp_name(name)
        out = create_file(temp, fd, 0o666)
        try:
            try:
                made = identity(os.fstat(out))
                while data:
                    data = data[os.write(out, data) :]
            finally:
                os.close(out)
            if identity(os.stat(temp, dir_fd=fd, follow_symlinks=False)) != made:
                raise OSError(
                    errno.ESTALE,
                    f"the temporary file {temp} was replaced by something else while it was"
                    " written (another writer of the folder)",
                )
            os.replace(temp, name, src_dir_fd=fd, dst_dir_fd=fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=fd)
            raise

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def lstat(self, path: Path) -> os.stat_result | None:
        """The ``lstat`` of ``path`` (under the root) relative to the root's descriptor."""
        fd = self.fd()
        if fd is None:
            return None  # no root yet: nothing under it
        try:
            return os.stat(path.relative_to(self.path), dir_fd=fd, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def through(self, path: Path) -> Path:
        """``path`` named through the root's descriptor, for a judge that reads it."""
        fd = self.fd()
        rel = os.fspath(path.relative_to(self.path))
        return path if fd is None else fd_path(fd, rel, path)

    def is_cache(self, folder: Path) -> bool:
        """True if ``folder`` (under the root, or the root) holds a CACHEDIR.TAG; memoized."""
        if folder not in self._tags:
            fd = self.fd()
            rel = os.fspath(folder.relative_to(self.path) / constants.CACHEDIR_TAG)
            self._tags[folder] = fd is not None and holds_tag(rel, fd)
        return self._tags[folder]
