"""Writing into a user's folder: ``pull -o DIR``, ``export --to DIR`` and ``mirror URL DEST``.

A user's folder is not ours (the cache is): what is already there belongs to the user, and a
version or a bucket is outside input that chooses the names. One policy for every path they put
there, decided per path before anything is written (:meth:`UserFolder.plan`)::

    what is at the path                         without overwrite      with overwrite
    nothing                                     create                 create
    the same content                            keep                   keep
    other content; a folder where a file goes;  refuse, naming the     replace
      a file where a folder goes; a FIFO...       path and --overwrite
    a symbolic link: DIR itself, a folder on    refuse                 refuse
      the way, or the final name

Same content found in another form (a read-only link into the cache where a copy is asked for)
is replaced without asking: nothing is lost. A caller may also mark a path *ours* (mirror: a file
it wrote and its index records unchanged), which is replaced like the same content.

Each file is written to a temporary name in its own folder (:func:`temp_name`: dot-prefixed,
unique, under NAME_MAX bytes) and renamed into place; the way to it is checked again with
``lstat`` right before the rename, so a link made since the plan is refused, not followed.

Paths typed by a user go through :func:`~modelshelf._paths.user_path` (only a ``~`` the user
typed first is expanded); the folder's root is made absolute and resolved once
(:func:`resolved_root`), and every join under it is checked by :meth:`UserFolder.inside_resolved`
(lexical :func:`~modelshelf.trust.inside` is wrong for a relative root such as ``.``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from modelshelf._paths import user_path
from modelshelf.errors import InvalidInputError, UserFolderRefusedError
from modelshelf.trust import escape_controls, inside

__all__ = [
    "MAX_NAME_BYTES",
    "Judge",
    "Step",
    "UserFolder",
    "Verdict",
    "hash_regular_file",
    "resolved_root",
    "same_content",
    "temp_name",
    "user_path",
]

MAX_NAME_BYTES = 255
"""NAME_MAX of Linux and macOS file systems: a file name's length in bytes (UTF-8)."""

Verdict = Literal["keep", "same", "other", "maybe"]
"""What a file already at a path holds, as a caller judges it against what goes there:
``keep`` it is what goes there; ``same`` the same content in another form (replaced freely);
``other`` different content; ``maybe`` the same size, content known only after the fetch."""

Judge = Callable[[Path, os.stat_result], Verdict]
"""Judges the regular file or symbolic link at a path (its ``lstat``) against what goes there."""

Action = Literal["keep", "create", "replace", "compare"]

_LINK = "is a symbolic link, and nothing is written through links"
_READ_FLAGS = os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK


def temp_name(name: str, *, owner: str | None = None, tag: str = "tmp") -> str:
    """``.<name>.<owner>.<rand>.<tag>``: a unique, hidden name beside ``name``, at most
    :data:`MAX_NAME_BYTES` bytes in UTF-8 (``name`` is cut by bytes, on a character boundary).

    ``owner`` (the PID when None) lets the cache tell a dead writer's leftover.
    """
    suffix = f".{owner or os.getpid()}.{secrets.token_hex(4)}.{tag}"
    budget = MAX_NAME_BYTES - 1 - len(suffix.encode())
    stem = name.encode("utf-8", "surrogateescape")[: max(budget, 0)]
    return f".{stem.decode('utf-8', 'ignore')}{suffix}"


def resolved_root(root: Path) -> Path:
    """``root`` made absolute with its links resolved: what a containment check compares
    against (a lexical check under ``.`` refuses every join: ``normpath('./a')`` is ``a``)."""
    return Path(os.path.realpath(root))


def hash_regular_file(path: Path, size: int) -> str | None:
    """The sha256 of the regular file at ``path`` if it has ``size`` bytes, else None.

    Opened without following a link and without blocking on a FIFO: what sits in a user's
    folder may be anything.
    """
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError:
        return None
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


def same_content(size: int, sha256: str) -> Judge:
    """A :data:`Judge` keeping a regular file with ``size`` bytes hashing to ``sha256``."""

    def judge(path: Path, info: os.stat_result) -> Verdict:
        if not stat.S_ISREG(info.st_mode) or info.st_size != size:
            return "other"
        return "keep" if hash_regular_file(path, size) == sha256 else "other"

    return judge


@dataclass(frozen=True)
class Step:
    """What the plan does at one path.

    Attributes:
        rel: the ``/``-joined path below the folder's root.
        path: the absolute path.
        action: ``keep`` (nothing to write), ``create``, ``replace`` (allowed: the same
            content, ours, or ``overwrite``), or ``compare`` (a file of the same size that is
            not ours: written only if its content turns out equal, see :meth:`UserFolder.settle`).
        clear: what ``overwrite`` removes first: a folder at the name, files on the way.
    """

    rel: str
    path: Path
    action: Action
    clear: tuple[Path, ...] = ()


class UserFolder:
    """A folder of the user's that a version or a bucket is written into, under the policy.

    Args:
        root: the folder (a path the user typed goes through :func:`user_path` first).
        overwrite: replace what holds other content (never through a link).
        retry: the last words of a refusal: what else the user can do.
        label: what is being written (``name:version``), named in a refusal.

    Raises:
        UserFolderRefusedError: ``root`` is a symbolic link.
        InvalidInputError: ``root`` exists and is not a folder.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        flag: str = "--overwrite (overwrite=True)",
        retry: str = "choose another folder",
        label: str = "",
    ) -> None:
        given = user_path(root)
        absolute = given.absolute()
        self.overwrite, self.flag, self.retry = overwrite, flag, retry
        self.label = label
        self._made: set[Path] = set()  # folders this writer made or found: mkdir skipped
        self._seen: dict[Path, os.stat_result | None] | None = None  # lstat memo while planning
        try:
            info = absolute.lstat()
        except FileNotFoundError:
            info = None
        except OSError as exc:
            raise InvalidInputError(f"cannot use the folder {absolute}: {exc.strerror}") from None
        if info is not None and stat.S_ISLNK(info.st_mode):
            raise UserFolderRefusedError(
                f"refusing to write into {absolute}: {absolute} {_LINK}; give the folder it"
                f" points to, or {retry}"
            )
        if info is not None and not stat.S_ISDIR(info.st_mode):
            raise InvalidInputError(f"{absolute} exists and is not a folder; {retry}")
        self.root = resolved_root(absolute)

    def inside_resolved(self, rel: str) -> Path:
        """The absolute path of ``rel``, refused (as :func:`~modelshelf.trust.inside`) unless
        it lies strictly under the root, which was resolved once, in the constructor. Links
        below the root are the policy's business: :meth:`plan` refuses every one on the way."""
        return inside(self.root, rel)

    # -- planning ---------------------------------------------------------------------------
    def plan(self, wanted: Iterable[tuple[str, Judge, bool]]) -> list[Step]:
        """One :class:`Step` per ``(rel, judge, ours)``, every refusal raised before a write.

        Raises:
            UserFolderRefusedError: naming the first path refused (and how many more).
        """
        steps: list[Step] = []
        refused: list[str] = []
        self._seen = {}  # a folder shared by many paths is looked at once per plan
        try:
            for rel, judge, ours in wanted:
                try:
                    steps.append(self.step(rel, judge, ours=ours))
                except UserFolderRefusedError as exc:
                    refused.append(str(exc))
        finally:
            self._seen = None
        if refused:
            more = f" (and {len(refused) - 1} more paths)" if len(refused) > 1 else ""
            raise UserFolderRefusedError(f"{refused[0]}{more}; nothing was written")
        return steps

    def step(self, rel: str, judge: Judge, *, ours: bool = False) -> Step:
        """The :class:`Step` for one path (see the module's table)."""
        path = self.inside_resolved(rel)
        clear = list(self._way(rel))
        try:
            info = path.lstat()
        except (FileNotFoundError, NotADirectoryError):
            return Step(rel, path, "create", tuple(clear))
        mode = info.st_mode
        if stat.S_ISLNK(mode):
            verdict = judge(path, info)
            if verdict == "keep":
                return Step(rel, path, "keep")
            if verdict == "same":  # our own link into the cache: the rename replaces the link
                return Step(rel, path, "replace", tuple(clear))
            raise self._refusal(path, _LINK)
        if stat.S_ISDIR(mode):
            self._allow(path, "is a folder where a file goes")
            return Step(rel, path, "replace", (*clear, path))
        if not stat.S_ISREG(mode):
            self._allow(path, "is not a regular file")
            return Step(rel, path, "replace", tuple(clear))
        verdict = judge(path, info)
        if verdict == "keep":
            return Step(rel, path, "keep")
        if verdict == "same" or ours or self.overwrite:
            return Step(rel, path, "replace", tuple(clear))
        if verdict == "maybe":
            return Step(rel, path, "compare", tuple(clear))
        raise self._refusal(path, self._other_content())

    def _way(self, rel: str) -> Iterable[Path]:
        """The folders from the root to ``rel``'s folder: a link anywhere is refused, a file
        where a folder goes is refused unless ``overwrite`` (then yielded, to be removed)."""
        parts = rel.split("/")[:-1]
        folder = self.root
        for part in parts:
            folder = folder / part
            info = self._lstat(folder)
            if info is None:
                return  # made by the write, from here down
            if stat.S_ISLNK(info.st_mode):
                raise self._refusal(folder, _LINK)
            if not stat.S_ISDIR(info.st_mode):
                self._allow(folder, "is a file where a folder goes")
                yield folder
                return

    def _lstat(self, folder: Path) -> os.stat_result | None:
        if self._seen is not None and folder in self._seen:
            return self._seen[folder]
        try:
            info: os.stat_result | None = folder.lstat()
        except (FileNotFoundError, NotADirectoryError):
            info = None
        if self._seen is not None:
            self._seen[folder] = info
        return info

    def tree_step(self, rel: str, holds: Callable[[Path], bool]) -> Step:
        """The :class:`Step` for a folder written whole (``export``'s tree of a version):
        ``holds`` says whether an existing folder already holds exactly it (then kept);
        anything else there is replaced whole only with ``overwrite``."""
        path = self.inside_resolved(rel)
        clear = list(self._way(rel))
        try:
            info = path.lstat()
        except (FileNotFoundError, NotADirectoryError):
            return Step(rel, path, "create", tuple(clear))
        if stat.S_ISLNK(info.st_mode):
            raise self._refusal(path, _LINK)
        if stat.S_ISDIR(info.st_mode) and holds(path):
            return Step(rel, path, "keep")
        what = (
            self._other_content() if stat.S_ISDIR(info.st_mode) else "is a file where a folder goes"
        )
        self._allow(path, what)
        return Step(rel, path, "replace", tuple(clear))

    def place_tree(self, step: Step, fill: Callable[[Path], None]) -> None:
        """Write ``step``'s folder whole: ``fill`` fills a temporary folder beside it, which
        then takes its place; what was there is removed only after (links in it unfollowed)."""
        if step.action == "keep":
            return
        self.prepare(step)
        temp = self.temp_path(step)
        old = self.temp_path(step, "old")
        try:
            temp.mkdir()
            fill(temp)
            self.check_way(step)
            if step.action == "replace":
                with contextlib.suppress(FileNotFoundError):
                    os.replace(step.path, old)
            os.replace(temp, step.path)
        finally:
            for leftover in (temp, old):
                with contextlib.suppress(FileNotFoundError):
                    if stat.S_ISDIR(leftover.lstat().st_mode):
                        shutil.rmtree(leftover)
                    else:
                        leftover.unlink()

    def _other_content(self) -> str:
        return f"exists and does not hold {self.label}" if self.label else "holds other content"

    def _allow(self, path: Path, what: str) -> None:
        if not self.overwrite:
            raise self._refusal(path, what)

    def _refusal(self, path: Path, what: str) -> UserFolderRefusedError:
        next_step = (
            f"remove it or {self.retry}"
            if what == _LINK
            else f"pass {self.flag} to replace it, or {self.retry}"
        )
        shown = escape_controls(str(path))  # names chosen by a store: no control characters
        return UserFolderRefusedError(
            f"refusing to write into {self.root}: {shown} {what}; {next_step}"
        )

    # -- writing ----------------------------------------------------------------------------
    def prepare(self, step: Step) -> None:
        """Make ``step``'s folders (and, with overwrite, remove what it clears), checking the
        way again: no link may have appeared since the plan."""
        for path in step.clear:
            if path == step.path:
                continue  # a folder at the name goes only once the new file is ready
            with contextlib.suppress(FileNotFoundError):
                # An earlier step of this plan may have put a folder there already (the file
                # ``a`` cleared for ``a/x`` is the folder ``a`` by the time ``a/y`` comes).
                if not stat.S_ISDIR(path.lstat().st_mode):
                    path.unlink()
        if step.path.parent not in self._made or step.clear:
            self.root.mkdir(parents=True, exist_ok=True)  # the user named it: made as named
            folder = self.root
            for part in step.rel.split("/")[:-1]:
                folder = folder / part
                with contextlib.suppress(FileExistsError):
                    folder.mkdir()  # not parents=True: each level is made here, never followed
            self._made.add(step.path.parent)
        self.check_way(step)  # every time: the tree may have changed since

    def check_way(self, step: Step) -> None:
        """Refuse if a folder on the way to ``step.path`` (the root included) is not a real
        folder, or a link now sits at the name: called right before each rename."""
        folder = self.root
        for part in ["", *step.rel.split("/")[:-1]]:
            folder = folder / part if part else folder
            info = folder.lstat()
            if stat.S_ISLNK(info.st_mode):
                raise self._refusal(folder, _LINK)
            if not stat.S_ISDIR(info.st_mode):
                raise self._refusal(folder, "is no longer a folder")
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISLNK(step.path.lstat().st_mode) and step.action != "replace":
                raise self._refusal(step.path, _LINK)

    def temp_path(self, step: Step, tag: str = "tmp") -> Path:
        """A temporary name beside ``step.path`` (see :func:`temp_name`)."""
        return step.path.with_name(temp_name(step.path.name, tag=tag))

    def commit(self, step: Step, temp: Path) -> None:
        """Rename ``temp`` to ``step.path`` after checking the way once more; a folder the
        plan was allowed to replace is removed (links in it are removed, not followed)."""
        self.check_way(step)
        if step.path in step.clear:
            with contextlib.suppress(FileNotFoundError):
                info = step.path.lstat()
                if stat.S_ISDIR(info.st_mode):
                    shutil.rmtree(step.path)
        os.replace(temp, step.path)

    def place(self, step: Step, fill: Callable[[Path], None], tag: str = "tmp") -> None:
        """Write ``step`` (unless kept): ``fill`` writes (or links) the temporary path, which is
        then renamed into place; nothing is left under a temporary name."""
        if step.action == "keep":
            return
        self.prepare(step)
        temp = self.temp_path(step, tag)
        try:
            fill(temp)
            self.commit(step, temp)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
