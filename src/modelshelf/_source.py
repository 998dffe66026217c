"""What a push reads from the local filesystem: the files to send and where they came from."""

from __future__ import annotations

import errno
import logging
import os
import stat
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from modelshelf.errors import SourcePathError
from modelshelf.manifest import check_paths

__all__ = ["SourceFile", "collect_files", "git_source", "public_url"]

logger = logging.getLogger("modelshelf")

_SSH_SCHEMES = {"ssh", "git+ssh", "ssh+git"}

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

    Links are followed as ``cp -rL`` and ``hf upload`` do (a Hugging Face snapshot folder is
    made of links into ``../../blobs``); ``.git``, ``.hg`` and ``.svn`` folders are skipped.
    Paths are recorded in Unicode NFC, so a name reads the same whichever form the filesystem
    gave. Folders that hold no file are named in a warning on the ``modelshelf`` logger (a
    version holds files only), as are names that differ only in case.

    Raises:
        SourcePathError: the path does not exist or holds no files; or inside it a link that
            leads nowhere or back to a folder that holds it, a FIFO, socket or device, or two
            names that are equal under NFC. The message names the offending entry.
    """
    if not source.exists():
        if source.is_symlink():
            raise _dangling(source)
        raise SourcePathError(source, "no such file or folder; check the path")
    if source.is_file():
        info = source.stat()
        name = unicodedata.normalize("NFC", source.name)
        return "file", [SourceFile(name, source, info.st_size, info.st_mtime_ns)]
    if not source.is_dir():
        raise SourcePathError(source, f"it is {_kind(source.stat().st_mode)}, not a file or folder")
    files: list[SourceFile] = []
    empty: list[str] = []
    root = source.stat()
    _walk(source, "", {(root.st_dev, root.st_ino): source}, files, empty)
    if not files:
        raise SourcePathError(source, "the folder holds no files; nothing to push")
    _check_names(source, files)
    if empty:
        logger.warning(
            "push of %s: %d empty folder(s) are not part of the version (a version holds"
            " files only): %s",
            source,
            len(empty),
            ", ".join(f"{folder}/" for folder in empty),
        )
    files.sort(key=lambda f: f.path)
    return "directory", files


def _walk(
    folder: Path,
    prefix: str,
    holders: dict[tuple[int, int], Path],
    files: list[SourceFile],
    empty: list[str],
) -> int:
    """Add the files under ``folder`` to ``files``; return how many. ``holders``: its ancestors.

    Folders that hold no file are added to ``empty`` (only the topmost of a chain).
    """
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        raise SourcePathError(folder, f"cannot list it ({exc.strerror})") from exc
    count = 0
    nested_empty: list[str] = []
    for entry in entries:
        local = Path(entry.path)
        rel = prefix + unicodedata.normalize("NFC", entry.name)
        try:
            info = local.stat()  # follows links, as cp -rL does
        except FileNotFoundError as exc:
            if local.is_symlink():
                raise _dangling(local) from exc
            raise SourcePathError(local, "it vanished while the folder was read") from exc
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise SourcePathError(
                    local, f"its links loop ({_link_target(local)!r}); fix or remove the link"
                ) from exc
            raise SourcePathError(local, f"cannot read it ({exc.strerror})") from exc
        if stat.S_ISDIR(info.st_mode):
            if entry.name in _SKIPPED_DIRS:
                continue
            identity = (info.st_dev, info.st_ino)
            if identity in holders:
                raise SourcePathError(
                    local,
                    f"it leads back to {str(holders[identity])!r}, which holds it: a cycle of"
                    " links; remove the link or push the folder it points to",
                )
            below = _walk(local, rel + "/", {**holders, identity: local}, files, nested_empty)
            if below == 0:
                nested_empty[:] = [f for f in nested_empty if not f.startswith(rel + "/")]
                nested_empty.append(rel)
            count += below
        elif stat.S_ISREG(info.st_mode):
            files.append(SourceFile(rel, local, info.st_size, info.st_mtime_ns))
            count += 1
        else:
            raise SourcePathError(
                local,
                f"it is {_kind(info.st_mode)}, not a regular file; move it out of the folder",
            )
    empty.extend(nested_empty)
    return count


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _link_target(link: Path) -> str:
    try:
        return str(link.readlink())
    except OSError:
        return "?"


def _dangling(link: Path) -> SourcePathError:
    # An error, not a skip: a model missing one file is broken, and cp -rL fails here too.
    return SourcePathError(
        link,
        f"it is a link to {_link_target(link)!r}, which does not exist; restore the target or"
        " remove the link",
    )


def _check_names(source: Path, files: list[SourceFile]) -> None:
    """Refuse names equal under NFC or that no manifest could hold (so no pull could read the
    version back); warn about names that differ only in case."""
    by_path: dict[str, SourceFile] = {}
    by_fold: dict[str, str] = {}
    for item in files:
        twin = by_path.setdefault(item.path, item)
        if twin is not item:
            first, second = (str(f.local.relative_to(source)) for f in (twin, item))
            raise SourcePathError(
                source,
                f"{first!r} and {second!r} are the same name in Unicode NFC (one composed, one"
                " decomposed) and would be one file in the version; rename one of them",
            )
        folded = by_fold.setdefault(item.path.casefold(), item.path)
        if folded != item.path:
            logger.warning(
                "push of %s: %r and %r differ only in case; they collide on case-insensitive"
                " filesystems (macOS, Windows) when pulled there",
                source,
                folded,
                item.path,
            )
    try:
        check_paths([item.path for item in files])
    except ValueError as exc:
        raise SourcePathError(
            source, f"{exc}: a version could not hold these names as they are; rename them"
        ) from None


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
            info["git_remote"] = public_url(remote)
    return info


def public_url(url: str) -> str:
    """``url`` without credentials: what may be recorded in a store for everyone to read.

    A URL's user and password (``https://user:TOKEN@host/...``; a token alone is often sent as
    the user name) and its query and fragment are dropped. ``ssh://`` keeps its user name (the
    account, not a secret) but not a password. Scp-like ``git@host:org/repo`` and plain paths
    are kept as they are.

    >>> public_url("https://user:TOKEN@example.com/org/repo.git")
    'https://example.com/org/repo.git'
    """
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc or "://" not in url:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username if parts.scheme in _SSH_SCHEMES and parts.username else None
    netloc = f"{user}@{host}" if user else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
