"""Placing pulled files outside the cache: ``pull -o DIR``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from modelshelf.cache import place_file
from modelshelf.errors import InvalidInputError
from modelshelf.manifest import FileEntry
from modelshelf.trust import inside

if TYPE_CHECKING:
    from modelshelf.cache import Cache

__all__ = ["export_files"]

_HOW = {"copy": "reflink", "hardlink": "hardlink", "symlink": "symlink"}


def export_files(
    cache: Cache,
    entries: tuple[FileEntry, ...],
    root: str,
    output: Path,
    link: str,
    *,
    single_file: bool,
) -> Path:
    """Place ``entries`` (paths relative to ``root`` inside the asset) under ``output``.

    ``copy`` gives plain writable files (a reflink where the filesystem offers one);
    ``hardlink``/``symlink`` give read-only links into the cache that cost no disk.

    Returns:
        ``output``, or the file itself when ``single_file``.
    """
    if link not in _HOW:
        raise InvalidInputError(f"--link must be one of {', '.join(_HOW)}, not {link!r}")
    if output.exists() and not output.is_dir():
        raise InvalidInputError(f"{output} exists and is not a folder; choose another -o")
    prefix = f"{root}/" if root else ""
    placed: list[Path] = []
    for entry in entries:
        rel = entry.path[len(prefix) :] if entry.path.startswith(prefix) else entry.path
        dest = inside(output, rel)
        blob = cache.blob_path(entry.sha256)
        if link == "copy" and _is_plain_copy(dest, blob) and _same(dest, entry):
            placed.append(dest)
            continue
        place_file(blob.resolve() if link == "symlink" else blob, dest, _HOW[link])
        placed.append(dest)
    if single_file:
        return placed[0]
    return output


def _is_plain_copy(dest: Path, blob: Path) -> bool:
    """A writable regular file that is not the cached blob itself (an earlier hard link)."""
    if dest.is_symlink() or not dest.is_file():
        return False
    return not dest.samefile(blob) and bool(dest.stat().st_mode & 0o200)


def _same(dest: Path, entry: FileEntry) -> bool:
    """Cheap check that an existing copy already has the content (size, then sha256)."""
    if dest.stat().st_size != entry.size:
        return False
    from modelshelf.transfer import hash_file

    return hash_file(dest) == entry.sha256
