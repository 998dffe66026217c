"""The filesystem downloader: plain, writable copies of a version under a folder the user named.

A version of one file becomes ``ROOT/<name><extension>``; a version of several files becomes the
folder ``ROOT/<name>/`` holding its tree. Every write goes through the user-folder policy of
:mod:`modelshelf.transfer.user_folder`.
"""

from __future__ import annotations

import os
from pathlib import Path

from modelshelf import trust
from modelshelf._dir_fd import copy_fd, create_file, walk
from modelshelf.downloaders.version import PulledVersion
from modelshelf.errors import ExportError, UserFolderRefusedError
from modelshelf.manifest import FileEntry
from modelshelf.transfer.user_folder import (
    Step,
    UserFolder,
    hash_regular_file,
    same_content,
    user_path,
)

__all__ = ["FileSystemDownloader"]


class FileSystemDownloader:
    """Plain, writable copies under ``root``; see the module docstring for the layout.

    ``root`` is the user's folder, written under :mod:`modelshelf.transfer.user_folder`'s policy:
    the same content is left as it is, nothing else is replaced unless ``overwrite``, and nothing is
    written through a symbolic link already there. A file goes to a temporary name beside its target
    and is renamed into place; a version of several files is assembled in a temporary folder and
    swapped in whole.

    Args:
        root: the folder to write under (created if missing); only a ``~`` typed first is
            expanded.
        overwrite: replace a file or folder that holds something else; otherwise refuse.
    """

    def __init__(self, root: str | os.PathLike[str] = ".", *, overwrite: bool = False) -> None:
        self.root = user_path(root, "folder to export to")
        self.overwrite = overwrite

    def __repr__(self) -> str:
        return f"FileSystemDownloader({str(self.root)!r}, overwrite={self.overwrite})"

    def __call__(self, pulled: PulledVersion) -> str:
        """Copy ``pulled`` under :attr:`root`; returns the file or folder written."""
        try:
            with UserFolder(
                self.root,
                overwrite=self.overwrite,
                retry="choose another destination ({to})",
                label=f"{pulled.name}:{pulled.version}",
                caches=() if pulled.cache_root is None else (pulled.cache_root,),
            ) as folder:
                step = self._write(folder, pulled)
        except UserFolderRefusedError as exc:
            raise ExportError(exc.args[0], sink=repr(self)).fix_from(exc) from None
        return str(step.path)

    @staticmethod
    def _write(folder: UserFolder, pulled: PulledVersion) -> Step:
        single = pulled.single_file
        if single is not None:
            rel = pulled.name + pulled.extension
            step = folder.plan([(rel, same_content(single.size, single.sha256), False)])[0]
            source = pulled.path_of(single)
            folder.place(step, lambda slot: slot.copy_from(source, mode=0o644, reflink=False))
            return step
        step = folder.tree_step(
            pulled.name, lambda found: _tree_holds(found, pulled.manifest.files)
        )
        folder.place_tree(step, lambda inner: _fill_tree(pulled, inner))
        return step


def _fill_tree(pulled: PulledVersion, inner: int) -> None:
    """Copy every file of ``pulled`` into the new, empty (0700) folder open as ``inner``: each
    folder made and opened relative to it without following links, each file created
    ``O_EXCL | O_NOFOLLOW`` and written through its own descriptor."""
    for entry in pulled.manifest.files:
        *parts, name = trust.inside(Path("/"), entry.path).parts[1:]  # refused if unsafe
        folder = walk(inner, parts, make=True)
        try:
            out = create_file(name, folder)
        finally:
            os.close(folder)
        try:
            copy_fd(pulled.path_of(entry), out, reflink=False)
            os.fchmod(out, 0o644)
        finally:
            os.close(out)


def _tree_holds(folder: Path, entries: tuple[FileEntry, ...]) -> bool:
    """True if ``folder`` holds exactly ``entries``' files with their content, as regular
    files (a link anywhere in it, or any other file, and it does not)."""
    present: set[str] = set()
    pending = [("", str(folder))]
    try:
        while pending:
            prefix, path = pending.pop()
            with os.scandir(path) as items:
                for item in items:
                    if item.is_dir(follow_symlinks=False):
                        pending.append((f"{prefix}{item.name}/", item.path))
                    else:
                        present.add(prefix + item.name)
    except OSError:
        return False
    if present != {e.path for e in entries}:
        return False
    return all(hash_regular_file(trust.inside(folder, e.path), e.size) == e.sha256 for e in entries)
