"""Writing one path of a user's folder through its folder's descriptor (:class:`Slot`), and
reading what is there without following a link: the half of :mod:`modelshelf.transfer.user_folder`
that touches the disk once the plan has been made."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from modelshelf._dir_fd import READ_FLAGS as _READ_FLAGS
from modelshelf._dir_fd import (
    WRITE_FLAGS,
    copy_fd,
    identity,
    open_folder,
    rename_noreplace,
    temp_name,
)
from modelshelf.errors import UserFolderRefusedError
from modelshelf.trust import escape_controls

if TYPE_CHECKING:
    from modelshelf.transfer._folder_plan import Step

__all__ = ["Slot", "hash_regular_file", "remove_any", "umask"]


class _Folder(Protocol):
    """What a slot needs of its folder: :class:`modelshelf.transfer.user_folder.UserFolder`,
    which imports this module (named here by its shape, so that the two import one way only)."""

    root: Path
    retry: str

    def check_way(self, step: Step, fd: int) -> None: ...
    def replaced_refusal(self, path: Path | None) -> UserFolderRefusedError: ...
    def overwrite_fix(self, action: str = ...) -> str: ...


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

    The temporary file (or folder, or link) is made here, relative to ``fd``, and written only
    through its own descriptor: its name is never looked up again, since another writer of the
    folder may put a link there at any moment. Right before the rename, what sits at the name
    must still be the very file made (``(st_dev, st_ino)``), else the write is refused.

    Attributes:
        fd: the folder's descriptor; every write goes through it.
        temp: the temporary name in it.
    """

    def __init__(self, folder: _Folder, step: Step, fd: int, temp: str) -> None:
        self.folder, self.step, self.fd, self.temp = folder, step, fd, temp
        self.old = temp_name(step.path.name, tag="old")  # what was at the name, moved aside
        self._made: tuple[int, int] | None = None

    # -- filling: each makes the temporary name once and remembers which file it is ----------
    def create_file(self, mode: int = 0o600, *, read: bool = False) -> int:
        """The temporary file, new (``O_EXCL | O_NOFOLLOW``), open for writing (and reading
        with ``read``); the caller writes through it and closes it."""
        flags = (WRITE_FLAGS & ~os.O_WRONLY) | os.O_RDWR if read else WRITE_FLAGS
        out = os.open(self.temp, flags, mode, dir_fd=self.fd)
        self._made = identity(os.fstat(out))
        return out

    def copy_from(self, source: Path, *, mode: int, reflink: bool = True) -> None:
        """The temporary file as a copy of ``source`` (a cache blob) with ``mode``."""
        out = self.create_file()
        try:
            copy_fd(source, out, reflink=reflink)
            os.fchmod(out, mode)
        finally:
            os.close(out)

    def link_from(self, source: Path) -> None:
        """The temporary name as a hard link to ``source`` (a cache blob)."""
        os.link(source, self.temp, dst_dir_fd=self.fd, follow_symlinks=False)
        made = os.stat(self.temp, dir_fd=self.fd, follow_symlinks=False)
        if identity(made) == identity(source.lstat()):  # else a swap: refused at the rename
            self._made = identity(made)

    def symlink_to(self, target: str) -> None:
        """The temporary name as a symbolic link to ``target``."""
        os.symlink(target, self.temp, dir_fd=self.fd)
        info = os.stat(self.temp, dir_fd=self.fd, follow_symlinks=False)
        if stat.S_ISLNK(info.st_mode) and os.readlink(self.temp, dir_fd=self.fd) == target:
            self._made = identity(info)

    def make_folder(self) -> int:
        """The temporary folder, new and 0700 (no one else can enter it), opened; the caller
        fills it only relative to the descriptor returned, and closes it."""
        os.mkdir(self.temp, 0o700, dir_fd=self.fd)
        inner = open_folder(self.temp, self.fd)
        self._made = identity(os.fstat(inner))
        return inner

    # -- placing ------------------------------------------------------------------------------
    def _check_made(self, name: str) -> None:
        """Refuse unless ``name`` holds the file this slot made (not a link swapped in)."""
        try:
            info = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            info = None
        if info is None or self._made is None or identity(info) != self._made:
            raise self.folder.replaced_refusal(self.step.path if name != self.temp else None)

    def commit(self) -> None:
        """Rename the temporary file to the name after checking the way once more; a folder
        the plan was allowed to replace is moved aside first, put back if the write is refused,
        and removed (links in it removed, not followed) only once the new file is in place."""
        step, fd = self.step, self.fd
        self.folder.check_way(step, fd)
        self._check_made(self.temp)  # before anything of the user's is moved
        aside = False
        if step.path in step.clear:
            with contextlib.suppress(FileNotFoundError):
                info = os.stat(step.path.name, dir_fd=fd, follow_symlinks=False)
                if stat.S_ISDIR(info.st_mode):
                    aside = self._move_aside()
        self._place(replace=step.action != "create" and not aside, aside=aside)

    def swap_tree(self) -> None:
        """The filled temporary folder takes the name; what was there is moved aside, put back
        if the write is refused, and removed on the way out of the slot only once the new
        folder is in place."""
        step, fd = self.step, self.fd
        self.folder.check_way(step, fd)
        self._check_made(self.temp)  # before anything of the user's is moved
        aside = step.action == "replace" and self._move_aside()
        self._place(replace=False, aside=aside)

    def _move_aside(self) -> bool:
        """Rename what is at the name to :attr:`old` (never over anything); False if gone."""
        try:
            rename_noreplace(self.step.path.name, self.old, self.fd)
        except FileNotFoundError:
            return False
        return True

    def _place(self, *, replace: bool, aside: bool) -> None:
        """Rename the temporary name to the name; on any failure, what was moved aside goes
        back (never over anything), so a refused write leaves the user's folder as it was."""
        try:
            self._rename(replace=replace)
        except BaseException as exc:
            if aside:
                try:
                    rename_noreplace(self.old, self.step.path.name, self.fd)
                except OSError:  # the name was taken meanwhile: the old one stays aside, named
                    raise self._kept_aside_refusal() from exc
            raise
        if aside:
            remove_any(self.old, self.fd)

    def _rename(self, *, replace: bool) -> None:
        """``replace``: over what is at the name (allowed by the plan); else only if the name
        is still free (something put there since the plan is refused, never overwritten)."""
        name = self.step.path.name
        self._check_made(self.temp)
        if replace:
            os.replace(self.temp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        else:
            try:
                rename_noreplace(self.temp, name, self.fd)
            except FileExistsError:
                raise self._appeared_refusal() from None
        try:
            self._check_made(name)  # swapped between the check and the rename: not ours
        except BaseException:
            remove_any(name, self.fd)
            raise

    def _kept_aside_refusal(self) -> UserFolderRefusedError:
        folder, path = self.folder, self.step.path
        return UserFolderRefusedError(
            f"refusing to write into {folder.root}: {escape_controls(str(path))} was taken by"
            " another writer of the folder while it was written; what was there is kept as"
            f" {escape_controls(str(path.parent / self.old))}: move it back"
        ).with_fix(f", or {folder.retry}")

    def _appeared_refusal(self) -> UserFolderRefusedError:
        folder = self.folder
        return UserFolderRefusedError(
            f"refusing to write into {folder.root}: {escape_controls(str(self.step.path))}"
            " appeared while it was written (another writer of the folder) and was left as it"
            " is"
        ).with_fix(folder.overwrite_fix())

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
