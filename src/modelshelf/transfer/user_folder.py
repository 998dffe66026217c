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
    a new file in a hidden folder that was      refuse                 create
      there already (~/.ssh, ~/.local, ...)
    the modelshelf cache: DIR in it, a path     refuse                 refuse
      in it, or a folder holding it
    any cache: DIR, a folder above it or on     refuse                 refuse
      the way holds a CACHEDIR.TAG
    a new file at a blob's name (blobs/sha256/  refuse                 refuse
      xx/<sha256>), where a cache may be made

A hidden folder a version makes itself may hold anything, and so may DIR's top (a fresh
``.gitattributes``); a mirror may add to hidden folders its index shows it made. The caches
refused are the default one, the one the caller names, and any folder marked as a cache by a
``CACHEDIR.TAG`` with the standard signature (every modelshelf cache writes one: a project's
second cache inside DIR is refused too): a file at a blob's name would be served to every asset
sharing that blob.

Same content found in another form (a read-only link into the cache where a copy is asked for)
is replaced without asking: nothing is lost. A caller may also mark a path *ours* (mirror: a file
it wrote and its index records unchanged), which is replaced like the same content.

Each file is written to a temporary name in its own folder (:func:`temp_name`: dot-prefixed,
unique, under NAME_MAX bytes) and renamed into place, all through directory descriptors
(:mod:`modelshelf._dir_fd`): the root is opened once, from ``/`` with ``O_NOFOLLOW`` on every
component, and that descriptor serves the plan's looks, every write and every check (close the
folder when done: it is a context manager); each folder on the way is opened from it with
``O_NOFOLLOW``, made with ``mkdirat``, and the temporary file is created ``O_EXCL |
O_NOFOLLOW`` relative to its folder's descriptor and written only through its own
(:meth:`UserFolder.slot`, :class:`~modelshelf.transfer._folder_slot.Slot`). A folder swapped
for a link at any moment is never followed; the way is walked again before the rename, so such a
swap is refused by name, and a temporary name that no longer holds the file made is refused too.

Paths typed by a user go through :func:`~modelshelf._paths.user_path` (only a ``~`` the user
typed first is expanded); the folder's root is made absolute and resolved once
(:func:`resolved_root`), and every join under it is checked by :meth:`UserFolder.inside_resolved`
(lexical :func:`~modelshelf.trust.inside` is wrong for a relative root such as ``.``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path

from modelshelf import constants
from modelshelf._dir_fd import MAX_NAME_BYTES, temp_name, walk
from modelshelf._paths import user_path
from modelshelf.errors import InvalidInputError, UserFolderRefusedError
from modelshelf.transfer import _folder_root
from modelshelf.transfer._folder_plan import Judge, Step, Verdict
from modelshelf.transfer._folder_root import OpenRoot, resolved_root, same_content, tagged_folder
from modelshelf.transfer._folder_slot import Slot, hash_regular_file, remove_any, umask
from modelshelf.trust import escape_controls, inside

__all__ = [
    "MAX_NAME_BYTES",
    "Judge",
    "Slot",
    "Step",
    "UserFolder",
    "Verdict",
    "hash_regular_file",
    "resolved_root",
    "same_content",
    "temp_name",
    "user_path",
]


_LINK = "is a symbolic link, and nothing is written through links"
_HIDDEN = (
    "is a hidden folder that was there already, and a version adds no files to one"
    " (other programs read .ssh, .config, .local)"
)


class UserFolder:
    """A folder of the user's that a version or a bucket is written into, under the policy.

    Args:
        root: the folder (a path the user typed goes through :func:`user_path` first).
        overwrite: replace what holds other content (never through a link).
        retry: the last words of a refusal: what else the user can do, our own words kept as
            the error's fix (:meth:`ModelshelfError.with_fix`), so an argument in them is a
            field of :data:`modelshelf.errors.OPTIONS` (``"choose another folder ({output})"``:
            ``output=...`` in Python, ``-o DIR`` on the command line).
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
        retry: str = "choose another folder",
        label: str = "",
        caches: Iterable[Path] = (),
        own_folders: Collection[str] = (),
    ) -> None:
        given = user_path(root)
        absolute = given.absolute()
        self.overwrite, self.retry, self.label = overwrite, retry, label
        self.own_folders = own_folders
        # The cache is modelshelf's own (a file at a blob's name is served to every asset
        # sharing it): no user folder is in it, holds a write into it, or replaces it.
        self.caches = {resolved_root(c) for c in (constants.cache_dir(), *caches)}
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
                " points to"
            ).with_fix(f", or {retry}")
        if info is not None and not stat.S_ISDIR(info.st_mode):
            raise InvalidInputError(f"{absolute} exists and is not a folder").with_fix(f"; {retry}")
        self.root = resolved_root(absolute)
        for cache in self.caches:
            if self.root == cache or cache in self.root.parents:
                raise UserFolderRefusedError(
                    f"refusing to write into {self.root}: it lies in the modelshelf cache"
                    f" {cache}, which is modelshelf's own"
                ).with_fix(f"; {retry}")
        if (tagged := tagged_folder(self.root)) is not None:  # once: the root's ancestors
            raise self._cache_refusal(tagged)
        self._open = OpenRoot(self.root)  # opened on first use, then kept: see _root_fd

    def __enter__(self) -> UserFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the root's descriptor (opened on first use)."""
        self._open.close()

    def _root_fd(self, *, make: bool = False) -> int | None:
        """The root's descriptor (:class:`~modelshelf.transfer._folder_root.OpenRoot`): a link
        on its way now was swapped in since it was resolved, and is refused."""
        try:
            return self._open.fd(make=make)
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise self._way_refusal(exc, Path(exc.filename or self.root)) from None

    def read_top(self, name: str, limit: int) -> bytes | None:
        """The regular file ``name`` at the root (ours), see :meth:`OpenRoot.read_file`."""
        return self._open.read_file(name, limit)

    def write_top(self, name: str, data: bytes) -> None:
        """Replace the file ``name`` at the root (a mirror's index, ours) with ``data``."""
        fd = self._root_fd(make=True)
        assert fd is not None  # made
        self._open.replace_file(name, data)

    def _cache_refusal(self, folder: Path) -> UserFolderRefusedError:
        return UserFolderRefusedError(
            f"refusing to write into {self.root}: {escape_controls(str(folder))} holds a"
            f" {constants.CACHEDIR_TAG}, so it is a modelshelf cache or another program's, and"
            " nothing is written in a cache (a file at a blob's name would be trusted there)"
        ).with_fix(f"; {self.retry}")

    def _refuse_tagged(self, folder: Path) -> None:
        """A folder on the way (under the root) marked as a cache is never written in."""
        self._root_fd()
        if self._open.is_cache(folder):
            raise self._cache_refusal(folder)

    def _refuse_cache(self, path: Path) -> None:
        """A path in a cache, or a folder holding one (replaced whole), is never written."""
        for cache in self.caches:
            if path == cache or cache in path.parents or path in cache.parents:
                raise UserFolderRefusedError(
                    f"refusing to write into {self.root}: {escape_controls(str(path))} lies in"
                    f" the modelshelf cache {cache} or holds it, and the cache is modelshelf's"
                    " own (no pull into a folder, export or mirror writes there)"
                ).with_fix(f"; {self.retry}")

    def _refuse_hidden(self, rel: str) -> None:
        """Files go into a hidden folder that exists already (``~/.ssh``, ``~/.config``,
        ``~/.local``: read by other programs) only with overwrite, or if this writer made it
        (``own_folders``); hidden files in folders the version makes, or at the top, are fine."""
        parts = rel.split("/")[:-1]
        folder = self.root
        for depth, part in enumerate(parts, 1):
            folder = folder / part
            if not part.startswith("."):
                continue
            info = self._lstat(folder)
            if info is None:
                return  # made by this write, from here down
            if stat.S_ISDIR(info.st_mode) and "/".join(parts[:depth]) not in self.own_folders:
                self._allow(folder, _HIDDEN)

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
        refused: list[UserFolderRefusedError] = []
        self._seen = {}  # a folder shared by many paths is looked at once per plan
        try:
            for rel, judge, ours in wanted:
                try:
                    steps.append(self.step(rel, judge, ours=ours))
                except UserFolderRefusedError as exc:
                    refused.append(exc)
        finally:
            self._seen = None
        if refused:
            more = f" (and {len(refused) - 1} more paths)" if len(refused) > 1 else ""
            first = refused[0]  # its message, then its fix: --overwrite or overwrite=True
            raise UserFolderRefusedError(f"{first.args[0]}{more}; nothing was written").fix_from(
                first
            )
        return steps

    def step(self, rel: str, judge: Judge, *, ours: bool = False) -> Step:
        """The :class:`Step` for one path (see the module's table)."""
        self._root_fd()  # a link on the root's way: refused here, by name
        step = self._step(rel, judge, ours=ours)
        if step.action != "keep":
            self._refuse_cache(step.path)
            self._refuse_hidden(rel)
            if _folder_root.BLOB_NAME.search(rel):
                raise self._refusal(step.path, _folder_root.BLOB_REASON)
        return step

    def _step(self, rel: str, judge: Judge, *, ours: bool) -> Step:
        path = self.inside_resolved(rel)
        clear = list(self._way(rel))
        info = self._open.lstat(path)
        if info is None:
            return Step(rel, path, "create", tuple(clear))
        mode = info.st_mode
        there = self._open.through(path)
        if stat.S_ISLNK(mode):
            verdict = judge(there, info)
            if verdict == "keep":
                return Step(rel, path, "keep")
            if verdict == "same":  # our own link into the cache: the rename replaces the link
                return Step(rel, path, "replace", tuple(clear))
            raise self._refusal(path, _LINK)
        if stat.S_ISDIR(mode):
            self._refuse_tagged(path)
            self._allow(path, "is a folder where a file goes")
            return Step(rel, path, "replace", (*clear, path))
        if not stat.S_ISREG(mode):
            self._allow(path, "is not a regular file")
            return Step(rel, path, "replace", tuple(clear))
        verdict = judge(there, info)
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
            if stat.S_ISDIR(info.st_mode):
                self._refuse_tagged(folder)
            if not stat.S_ISDIR(info.st_mode):
                self._allow(folder, "is a file where a folder goes")
                yield folder
                return

    def _lstat(self, folder: Path) -> os.stat_result | None:
        if self._seen is not None and folder in self._seen:
            return self._seen[folder]
        info = self._open.lstat(folder)
        if self._seen is not None:
            self._seen[folder] = info
        return info

    def tree_step(self, rel: str, holds: Callable[[Path], bool]) -> Step:
        """The :class:`Step` for a folder written whole (``export``'s tree of a version):
        ``holds`` says whether an existing folder already holds exactly it (then kept);
        anything else there is replaced whole only with ``overwrite``."""
        self._root_fd()
        path = self.inside_resolved(rel)
        self._refuse_cache(path)
        self._refuse_hidden(f"{rel}/-")
        clear = list(self._way(rel))
        info = self._open.lstat(path)
        if info is None:
            return Step(rel, path, "create", tuple(clear))
        if stat.S_ISLNK(info.st_mode):
            raise self._refusal(path, _LINK)
        if stat.S_ISDIR(info.st_mode):
            self._refuse_tagged(path)
        if stat.S_ISDIR(info.st_mode) and holds(self._open.through(path)):
            return Step(rel, path, "keep")
        what = (
            self._other_content() if stat.S_ISDIR(info.st_mode) else "is a file where a folder goes"
        )
        self._allow(path, what)
        return Step(rel, path, "replace", tuple(clear))

    def _other_content(self) -> str:
        return f"exists and does not hold {self.label}" if self.label else "holds other content"

    def _allow(self, path: Path, what: str) -> None:
        if not self.overwrite:
            raise self._refusal(path, what)

    def overwrite_fix(self, action: str = "replace it") -> str:
        """The next step of a refusal that ``overwrite`` lifts (:attr:`ModelshelfError.fix`:
        ``--overwrite`` on the command line, ``overwrite=True`` in Python)."""
        return f"; pass {{overwrite}} to {action}, or {self.retry}"

    def _refusal(self, path: Path, what: str) -> UserFolderRefusedError:
        shown = escape_controls(str(path))  # names chosen by a store: no control characters
        refused = f"refusing to write into {self.root}: {shown} {what}"
        if what == _LINK:
            return UserFolderRefusedError(f"{refused}; remove it").with_fix(f" or {self.retry}")
        if what == _folder_root.BLOB_REASON:
            return UserFolderRefusedError(f"{refused}; leave it out of the version").with_fix(
                f", or {self.retry}"
            )
        action = "write into it anyway" if what == _HIDDEN else "replace it"
        return UserFolderRefusedError(refused).with_fix(self.overwrite_fix(action))

    # -- writing ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def slot(self, step: Step, tag: str = "tmp") -> Iterator[Slot]:
        """Make ``step``'s folders (and, with overwrite, remove the files it clears) through
        directory descriptors, refusing a link met anywhere on the way, and give a
        :class:`Slot`: a temporary name in the open folder, removed on the way out unless
        committed."""
        fd = self._open_parent(step)
        slot = Slot(self, step, fd, temp_name(step.path.name, tag=tag))
        try:
            yield slot
        finally:
            try:
                remove_any(slot.temp, fd)  # never slot.old: the user's, put back if not placed
            finally:
                os.close(fd)

    def place(self, step: Step, fill: Callable[[Slot], None], tag: str = "tmp") -> None:
        """Write ``step`` (unless kept): ``fill`` makes the slot's temporary file (or link)
        through the slot (:meth:`Slot.copy_from`, ...), which is then renamed into place;
        nothing is left under a temporary name."""
        if step.action == "keep":
            return
        with self.slot(step, tag) as slot:
            fill(slot)
            slot.commit()

    def place_tree(self, step: Step, fill: Callable[[int], None]) -> None:
        """Write ``step``'s folder whole: ``fill`` fills a new 0700 temporary folder beside it
        through its descriptor (given), which then takes its place; what was there is removed
        only after (links in it unfollowed)."""
        if step.action == "keep":
            return
        with self.slot(step) as slot:
            inner = slot.make_folder()  # ours alone until it takes its place
            try:
                fill(inner)
                os.fchmod(inner, 0o777 & ~umask())
            finally:
                os.close(inner)
            slot.swap_tree()

    def _open_root(self) -> int:
        """A new descriptor of the root, made if absent: a copy of the one opened once."""
        try:
            fd = self._root_fd(make=True)
        except OSError as exc:
            raise self._way_refusal(exc, Path(exc.filename or self.root)) from None
        assert fd is not None  # made
        return os.dup(fd)

    def replaced_refusal(self, path: Path | None) -> UserFolderRefusedError:
        """A temporary name (or, ``path``, the name) no longer holds the file written."""
        what = "the temporary copy" if path is None else escape_controls(str(path))
        return UserFolderRefusedError(
            f"refusing to write into {self.root}: {what} was replaced by something else while"
            " it was written (another writer of the folder); nothing was kept"
        ).with_fix(f"; {self.retry}")

    def _open_parent(self, step: Step) -> int:
        """A descriptor of ``step``'s folder, made level by level from the root's; the files
        ``step`` clears (overwrite: a file where a folder goes) are unlinked through their
        folder's descriptor first."""
        root = self._open_root()
        try:
            for path in step.clear:
                if path != step.path:  # a folder at the name goes only once the file is ready
                    self._unlink_file(root, path)
            try:
                fd = walk(root, step.rel.split("/")[:-1], make=True)
            except OSError as exc:
                raise self._way_refusal(exc, self.root / exc.filename) from None
        finally:
            os.close(root)
        try:
            self._refuse_new_link(step, fd)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _unlink_file(self, root: int, path: Path) -> None:
        *parts, name = path.relative_to(self.root).parts
        try:
            fd = walk(root, parts)
        except (FileNotFoundError, NotADirectoryError):
            return  # an earlier step of this plan has replaced it by a folder already
        except OSError as exc:
            raise self._way_refusal(exc, self.root / exc.filename) from None
        try:
            # An earlier step of this plan may have put a folder there already (the file
            # ``a`` cleared for ``a/x`` is the folder ``a`` by the time ``a/y`` comes).
            with contextlib.suppress(FileNotFoundError):
                if not stat.S_ISDIR(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                    os.unlink(name, dir_fd=fd)
        finally:
            os.close(fd)

    def _refuse_new_link(self, step: Step, fd: int) -> None:
        """A link at the name is replaced (never followed) only when the plan allowed it."""
        with contextlib.suppress(FileNotFoundError):
            info = os.stat(step.path.name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode) and step.action != "replace":
                raise self._refusal(step.path, _LINK)

    def check_way(self, step: Step, fd: int) -> None:
        """Refuse if ``step``'s folder, the one open as ``fd``, is no longer reached from the
        root (a link swapped in on the way, the folder moved) or a link now sits at the name:
        called right before each rename. The write itself goes through ``fd`` whatever this
        finds: the check only turns a swap into a refusal instead of a file in a moved folder."""
        root = self._open_root()
        try:
            try:
                now = walk(root, step.rel.split("/")[:-1])
            except OSError as exc:
                raise self._way_refusal(exc, self.root / (exc.filename or "")) from None
        finally:
            os.close(root)
        try:
            there, held = os.fstat(now), os.fstat(fd)
        finally:
            os.close(now)
        if (there.st_dev, there.st_ino) != (held.st_dev, held.st_ino):
            raise self._refusal(step.path.parent, "was moved while it was written")
        self._refuse_new_link(step, fd)

    def _way_refusal(self, exc: OSError, path: Path) -> BaseException:
        if exc.errno == errno.ELOOP:
            return self._refusal(path, _LINK)
        if exc.errno == errno.ENOTDIR:
            return self._refusal(path, "is no longer a folder")
        return exc
