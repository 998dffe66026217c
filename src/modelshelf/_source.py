"""What a push reads from the local filesystem: the files to send and where they came from."""

from __future__ import annotations

import os
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelshelf.errors import SourcePathError

__all__ = ["SourceFile", "collect_files", "git_source"]

# Version-control internals are never model content.
_SKIPPED_DIRS = {".git", ".hg", ".svn"}


@dataclass(frozen=True)
class SourceFile:
    """A file to push: its path inside the asset, where it is on disk, and its size."""

    path: str
    local: Path
    size: int
    mtime_ns: int

    def changed(self) -> bool:
        """True if the file's size or modification time moved since it was collected."""
        try:
            info = self.local.stat()
        except OSError:
            return True
        return info.st_size != self.size or info.st_mtime_ns != self.mtime_ns


def collect_files(source: Path) -> tuple[str, list[SourceFile]]:
    """The kind (``file`` or ``directory``) and files of a push source, sorted by path.

    Symlinks to files are followed; symlinked folders are not (they could loop or leave the
    tree). ``.git``, ``.hg`` and ``.svn`` folders are skipped.

    Raises:
        SourcePathError: the path does not exist, is not a regular file or folder, or is empty.
    """
    if not source.exists():
        raise SourcePathError(source, "no such file or folder; check the path")
    if source.is_file():
        info = source.stat()
        return "file", [SourceFile(source.name, source, info.st_size, info.st_mtime_ns)]
    if not source.is_dir():
        raise SourcePathError(source, "not a regular file or folder")
    files: list[SourceFile] = []
    for folder, dirnames, filenames in os.walk(source, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIPPED_DIRS)
        for filename in filenames:
            local = Path(folder) / filename
            try:
                info = local.stat()
            except OSError as exc:
                raise SourcePathError(local, f"cannot read it ({exc.strerror})") from exc
            if not stat.S_ISREG(info.st_mode):
                continue  # sockets, fifos, dangling links: not content
            rel = local.relative_to(source).as_posix()
            files.append(SourceFile(rel, local, info.st_size, info.st_mtime_ns))
    if not files:
        raise SourcePathError(source, "the folder holds no files; nothing to push")
    files.sort(key=lambda f: f.path)
    return "directory", files


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_source(source: Path) -> dict[str, Any]:
    """Where the files came from: the absolute path and, inside a git work tree, the commit."""
    folder = source if source.is_dir() else source.parent
    info: dict[str, Any] = {"path": str(source.resolve())}
    commit = _git(folder, "rev-parse", "HEAD")
    # A folder git ignores is in the work tree but not described by its commits.
    ignored = commit is not None and _git(folder, "check-ignore", "-q", str(source)) is not None
    if commit and not ignored:
        info["git_commit"] = commit
        status = _git(folder, "status", "--porcelain", "--", ".")
        info["git_dirty"] = bool(status)
        remote = _git(folder, "config", "--get", "remote.origin.url")
        if remote:
            info["git_remote"] = remote
    return info
