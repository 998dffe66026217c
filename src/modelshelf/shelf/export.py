"""Placing pulled files outside the cache: ``pull -o DIR``, under the user-folder policy.

DIR is the user's folder, not ours: every path is planned first under
:class:`~modelshelf.transfer.user_folder.UserFolder`'s policy (same content kept, absent created,
anything else refused unless ``overwrite``, never through a link), then written.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from modelshelf.errors import InvalidInputError
from modelshelf.manifest import FileEntry
from modelshelf.transfer.user_folder import Judge, Slot, UserFolder, Verdict, hash_regular_file

if TYPE_CHECKING:
    from modelshelf.cache.cache import Cache

__all__ = ["export_files"]

_HOW = ("copy", "hardlink", "symlink")
_READ_ONLY = 0o444


def export_files(
    cache: Cache,
    entries: tuple[FileEntry, ...],
    root: str,
    output: str | os.PathLike[str],
    link: str,
    *,
    single_file: bool,
    overwrite: bool = False,
    label: str = "",
) -> Path:
    """Place ``entries`` (paths relative to ``root`` inside the asset) under ``output``.

    ``copy`` gives plain writable files (a reflink where the filesystem offers one);
    ``hardlink``/``symlink`` give read-only links into the cache that cost no disk.

    ``label`` (``name:version``) is named in a refusal.

    Returns:
        ``output`` (absolute, resolved), or the file itself when ``single_file``.

    Raises:
        UserFolderRefusedError: a path holds something else and ``overwrite`` is false, or a
            link is in the way; raised before any file is written.
    """
    if link not in _HOW:
        raise InvalidInputError(f"link must be one of {', '.join(_HOW)}, not {link!r}")
    folder = UserFolder(
        output,
        overwrite=overwrite,
        retry="choose another folder ({output})",
        label=label,
        caches=(cache.root,),
    )
    prefix = f"{root}/" if root else ""
    wanted: list[tuple[str, Judge, bool]] = []
    for entry in entries:
        rel = entry.path[len(prefix) :] if entry.path.startswith(prefix) else entry.path
        wanted.append((rel, _judge(cache.blob_path(entry.sha256), entry, link), False))
    with folder:
        steps = folder.plan(wanted)  # every refusal before the first write
        for step, entry in zip(steps, entries, strict=True):
            blob = cache.blob_path(entry.sha256)
            folder.place(step, lambda slot, blob=blob: _fill(blob, slot, link))  # type: ignore[misc]
    if single_file:
        return steps[0].path
    return folder.root


def _judge(blob: Path, entry: FileEntry, link: str) -> Judge:
    """What an existing file at a destination is, against ``entry`` placed as ``link``."""

    def judge(path: Path, info: os.stat_result) -> Verdict:
        if stat.S_ISLNK(info.st_mode):
            try:
                target = str(path.readlink())
            except OSError:
                return "other"
            if target not in (str(blob), str(blob.resolve())):
                return "other"
            return "keep" if link == "symlink" else "same"
        if not stat.S_ISREG(info.st_mode) or info.st_size != entry.size:
            return "other"
        linked = _same_inode(info, blob)
        if linked:
            return "keep" if link == "hardlink" else "same"
        if hash_regular_file(path, entry.size) != entry.sha256:
            return "other"
        writable = bool(info.st_mode & 0o200)
        return "keep" if link == "copy" and writable else "same"

    return judge


def _same_inode(info: os.stat_result, blob: Path) -> bool:
    try:
        other = blob.stat()
    except OSError:
        return False
    return (info.st_dev, info.st_ino) == (other.st_dev, other.st_ino)


def _fill(blob: Path, slot: Slot, link: str) -> None:
    """Make ``slot``'s temporary file as ``link`` of ``blob``: a writable copy, a hard link (a
    read-only copy where links are refused), or a symbolic link to the blob's real path; only
    through the slot (the temporary name is made once, never looked up again)."""
    if link == "symlink":
        slot.symlink_to(str(blob.resolve()))
        return
    if link == "hardlink":
        try:
            slot.link_from(blob)
            return
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise
        slot.copy_from(blob, mode=_READ_ONLY, reflink=False)
        return
    slot.copy_from(blob, mode=0o644)
