"""What a push reads from the local filesystem: the files to send and where they came from.

A push sends a :class:`PushSource`: one file or folder (:func:`collect_files`), or an explicit
list of (local file, path in asset) pairs. Both pass the same checks on each local file.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from modelshelf import trust
from modelshelf.errors import InvalidInputError, SourcePathError
from modelshelf.manifest import AssetKind, check_paths
from modelshelf.shelf._git_source import git_source, public_url

__all__ = ["PushSource", "SourceFile", "collect_files", "git_source", "public_url"]

LocalPath = str | os.PathLike[str]
FileList = Mapping[LocalPath, str] | Iterable[tuple[LocalPath, str]]

logger = logging.getLogger("modelshelf")

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
    made of links into ``../../blobs``); ``.git`` (any case, folder or file), ``.hg`` and
    ``.svn`` folders are skipped.
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
        # A .git file is a worktree's pointer to its git folder: git's, not the model's. Any
        # case: .GIT is the same folder on macOS and Windows.
        if trust.is_git_name(entry.name):
            continue
        local = Path(entry.path)
        rel = prefix + unicodedata.normalize("NFC", entry.name)
        info = _stat(local, missing="it vanished while the folder was read")
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
    for item in files:
        twin = by_path.setdefault(item.path, item)
        if twin is not item:
            first, second = (str(f.local.relative_to(source)) for f in (twin, item))
            raise SourcePathError(
                source,
                f"{first!r} and {second!r} are the same name in Unicode NFC (one composed, one"
                " decomposed) and would be one file in the version; rename one of them",
            )
    _warn_case(source, [item.path for item in files])
    try:
        check_paths([item.path for item in files])
    except ValueError as exc:
        raise SourcePathError(
            source, f"{exc}: a version could not hold these names as they are; rename them"
        ) from None


@dataclass(frozen=True)
class PushSource:
    """What a push sends: one file or folder, or an explicit list of files.

    A path is pushed as it always was (see :meth:`Shelf.push`). An explicit list maps local
    files to paths in the asset, so files from many places make one version; its kind is
    ``"directory"``, even for a single pair, so that adding a second file later does not change
    what a pull returns; ask ``kind="file"`` for a single-file asset. Target paths are checked
    when the source is built (NFC, safe, none given twice, none both a file and a folder); the
    local files when the push reads them, before anything is hashed or sent.

    Build one with :meth:`from_path` or :meth:`from_files`.

    Attributes:
        path: the file or folder to push, or ``None`` for an explicit list.
        files: the (local file, path in asset) pairs of an explicit list, in the given order.
        kind: the asset kind of an explicit list; ``None`` for a path (the path decides).

    Example:
        >>> source = PushSource.from_files({"out/model.pt": "model.pt", "ckpt/1.bin": "ckpt/1.bin"})
        >>> [target for _, target in source.files]
        ['model.pt', 'ckpt/1.bin']
        >>> # shelf.push(source, "nlp/sentiment", sections={"model": {"engine": "torch"}})
    """

    path: Path | None
    files: tuple[tuple[Path, str], ...] = ()
    kind: AssetKind | None = None

    def __post_init__(self) -> None:
        # Whatever built it, paths are Paths and names in the asset are NFC.
        if self.path is not None:
            object.__setattr__(self, "path", Path(self.path))
        files = tuple((Path(local), _nfc(target)) for local, target in self.files)
        object.__setattr__(self, "files", files)
        if (self.path is None) == (not self.files):
            raise InvalidInputError("a push source takes a path or files, exactly one of them")
        if self.path is not None:
            if self.kind is not None:
                raise InvalidInputError("the kind of a path source is decided by the path")
            return
        if self.kind not in get_args(AssetKind):
            raise InvalidInputError(f"kind must be 'file' or 'directory', not {self.kind!r}")
        if self.kind == "file" and len(self.files) != 1:
            raise InvalidInputError(
                f"a 'file' asset holds exactly one file, not {len(self.files)}; use the default"
                " kind 'directory'"
            )
        _check_targets(self.files)

    @classmethod
    def from_path(cls, path: LocalPath) -> PushSource:
        """A file (a ``"file"`` asset) or a folder (a ``"directory"`` asset), as a path push."""
        return cls(Path(path))

    @classmethod
    def from_files(cls, files: FileList, *, kind: AssetKind = "directory") -> PushSource:
        """An explicit list: ``{local file: path in asset}`` or ``[(local file, path), ...]``.

        A list of pairs may send one local file to several paths; a mapping cannot. Paths in
        the asset are POSIX (``/``) and recorded in Unicode NFC.

        Raises:
            InvalidInputError: the list is empty or malformed, a path in the asset is unsafe,
                given twice or both a file and a folder, or ``kind="file"`` with more than one
                pair. No file is read.
        """
        if isinstance(files, str | os.PathLike):
            raise InvalidInputError(
                f"from_files takes (local file, path in asset) pairs, not the path {str(files)!r};"
                " push a file or folder with PushSource.from_path"
            )
        items = list(files.items()) if isinstance(files, Mapping) else list(files)
        pairs: list[tuple[Path, str]] = []
        for item in items:
            if not isinstance(item, tuple | list) or len(item) != 2:
                raise InvalidInputError(
                    f"files must be (local file, path in asset) pairs, not {trust.show(item)}"
                )
            local, target = item
            if not isinstance(local, str | os.PathLike):
                raise InvalidInputError(f"the local file {trust.show(local)} must be a path")
            if not isinstance(target, str):
                raise InvalidInputError(
                    f"the path in the asset for {str(local)!r} must be text, not"
                    f" {trust.show(target)}"
                )
            pairs.append((Path(local), target))
        if not pairs:
            raise InvalidInputError("the file list holds no files; nothing to push")
        return cls(None, tuple(pairs), kind)

    @property
    def label(self) -> str:
        """A short name for progress bars."""
        return self.path.name if self.path is not None else f"{len(self.files)} file(s)"

    def collect(self) -> tuple[AssetKind, list[SourceFile]]:
        """The kind and the files to send, sorted by path; see :func:`collect_files`.

        Raises:
            SourcePathError: a local file is missing, a folder, a FIFO, socket or device, or
                cannot be read; the message names it.
        """
        if self.path is not None:
            kind, found = collect_files(self.path)
            return ("file" if kind == "file" else "directory"), found
        files = [_regular_file(local, target) for local, target in self.files]
        _warn_case(f"{self.label} from {self.origin()}", [f.path for f in files])
        files.sort(key=lambda f: f.path)
        return self.kind or "directory", files

    def origin(self) -> Path:
        """The path recorded as the source: the path, or the folder that holds all the files."""
        if self.path is not None:
            return self.path
        absolute = [str(local.absolute()) for local, _ in self.files]
        try:
            common = Path(os.path.commonpath(absolute))
        except ValueError:  # on different drives
            return Path.cwd()
        return common.parent if len(set(absolute)) == 1 else common

    def describe(self) -> dict[str, Any]:
        """Where the files came from (see :func:`git_source`), for the manifest."""
        return git_source(self.origin())


def _nfc(target: str) -> str:
    return unicodedata.normalize("NFC", target) if isinstance(target, str) else target


def _check_targets(pairs: tuple[tuple[Path, str], ...]) -> None:
    """Refuse a path in the asset that is unsafe, given twice or both a file and a folder."""
    seen: dict[str, Path] = {}
    for local, target in pairs:
        if target in seen:
            raise InvalidInputError(
                f"the path in the asset {trust.show(target)} is given twice (for"
                f" {str(seen[target])!r} and {str(local)!r}); give each file its own path"
            )
        seen[target] = local
    try:
        check_paths(list(seen))
    except ValueError as exc:
        raise InvalidInputError(
            f"a path in the asset is refused: {exc}; paths are relative, use '/' and hold no '..'"
        ) from None


def _stat(local: Path, *, missing: str) -> os.stat_result:
    """``local``'s stat, links followed (as ``cp -rL`` does); each failure is named.

    Raises:
        SourcePathError: a dangling or looping link, ``missing`` if the file is gone, or
            another OS error.
    """
    try:
        return local.stat()
    except FileNotFoundError as exc:
        if local.is_symlink():
            raise _dangling(local) from exc
        raise SourcePathError(local, missing) from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SourcePathError(
                local, f"its links loop ({_link_target(local)!r}); fix or remove the link"
            ) from exc
        raise SourcePathError(local, f"cannot read it ({exc.strerror})") from exc


def _regular_file(local: Path, target: str) -> SourceFile:
    """``local`` as the file ``target`` of the asset; links are followed."""
    info = _stat(local, missing="no such file; check the path")
    if stat.S_ISDIR(info.st_mode):
        raise SourcePathError(
            local, "it is a folder; list its files, or push the folder by its path"
        )
    if not stat.S_ISREG(info.st_mode):
        raise SourcePathError(local, f"it is {_kind(info.st_mode)}, not a regular file")
    return SourceFile(target, local, info.st_size, info.st_mtime_ns)


def _warn_case(label: object, paths: Iterable[str]) -> None:
    """Warn about names that differ only in case (they collide when pulled on macOS, Windows)."""
    by_fold: dict[str, str] = {}
    for path in paths:
        folded = by_fold.setdefault(path.casefold(), path)
        if folded != path:
            logger.warning(
                "push of %s: %r and %r differ only in case; they collide on case-insensitive"
                " filesystems (macOS, Windows) when pulled there",
                label,
                folded,
                path,
            )
