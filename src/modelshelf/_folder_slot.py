"""Writing one path of a user's folder through its folder's descriptor (:class:`Slot`), and
reading what is there without following a link: the half of :mod:`modelshelf._user_folder`
that touches the disk once the plan has been made."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from modelshelf._dir_fd import READ_FLAGS as _READ_FLAGS
from modelshelf._dir_fd import fd_path, temp_name

if TYPE_CHECKING:
    from modelshelf._user_folder import Step, UserFolder

__all__ = ["Slot", "hash_regular_file", "remove_any", "umask"]


def hash_regular_file(path: Path, size: int) -> str | None:
    """The sha256 of the regular file at ``path`` if it has ``size`` bytes, else None.

    Opened without following a link and without blocking on a FIFO: what sits in a user's
    folder may be anything.
    """
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError:
        return None
    return _hash_fd(fd, size)


def _hash_fd(fd: int, size: int) -> str | None:
    """The sha256 of the open regular file ``fd`` if it has ``size`` bytes; closes ``fd``."""
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size != size:
            return None
        digest = hashlib.sha256()
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
        return digest.hexdigest()
    except OSError:
        return None
    finally:
        os.close(fd)


class Slot:
    """A temporary name in ``step``'s open folder (see :meth:`UserFolder.slot`).

    Attributes:
        fd: the folder's descriptor; every write goes through it.
        temp: the temporary name in it.
        path: a path to ``temp`` that the kernel resolves through ``fd``
            (:func:`~modelshelf._dir_fd.fd_path`), for writers that take a path.
    """

    def __init__(self, folder: UserFolder, step: Step, fd: int, temp: str) -> None:
        self.folder, self.step, self.fd, self.temp = folder, step, fd, temp
        self.old = temp_name(step.path.name, tag="old")
        self.path = fd_path(fd, temp, step.path.with_name(temp))

    def commit(self) -> None:
        """Rename the temporary file to the name after checking the way once more; a folder
        the plan was allowed to replace is removed (links in it removed, not followed)."""
        step, fd = self.step, self.fd
        self.folder.check_way(step, fd)
        if step.path in step.clear:
            with contextlib.suppress(FileNotFoundError):
                info = os.stat(step.path.name, dir_fd=fd, follow_symlinks=False)
                if stat.S_ISDIR(info.st_mode):
                    shutil.rmtree(step.path.name, dir_fd=fd)
        os.replace(self.temp, step.path.name, src_dir_fd=fd, dst_dir_fd=fd)

    def swap_tree(self) -> None:
        """The filled temporary folder takes the name; what was there is moved aside and
        removed on the way out of the slot."""
        step, fd = self.step, self.fd
        self.folder.check_way(step, fd)
        if step.action == "replace":
            with contextlib.suppress(FileNotFoundError):
                os.replace(step.path.name, self.old, src_dir_fd=fd, dst_dir_fd=fd)
        os.replace(self.temp, step.path.name, src_dir_fd=fd, dst_dir_fd=fd)

    def stat(self) -> os.stat_result:
        """The ``lstat`` of what is at the name now."""
        return os.stat(self.step.path.name, dir_fd=self.fd, follow_symlinks=False)

    def hash_there(self, size: int) -> str | None:
        """The sha256 of the regular file of ``size`` bytes at the name, else None."""
        try:
            fd = os.open(self.step.path.name, _READ_FLAGS, dir_fd=self.fd)
        except OSError:
            return None
        return _hash_fd(fd, size)


def remove_any(name: str, dir_fd: int) -> None:
    """Remove ``name`` in the open folder, a folder whole (links in it removed, unfollowed)."""
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            shutil.rmtree(name, dir_fd=dir_fd)
        else:
            os.unlink(name, dir_fd=dir_fd)


def umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
