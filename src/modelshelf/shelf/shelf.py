"""The facade: push, pull, resolve, alias and list, over one store and the local cache.

:class:`Shelf` is the concept here: its methods take and check the caller's arguments and say
what each does; the work is done beside it, in this package: the store it stands on
(:mod:`~modelshelf.shelf.opening`), push (:mod:`~modelshelf.shelf.push`), pull
(:mod:`~modelshelf.shelf.pull`), resolve (:mod:`~modelshelf.shelf.resolve`), listings
(:mod:`~modelshelf.shelf.listing`), alias moves (:mod:`~modelshelf.shelf.aliases`), labels and
descriptions and diffs (:class:`~modelshelf.shelf.notes.ShelfNotes`, a base), removal
(:mod:`~modelshelf.shelf.housekeeping`), and verify, repair, copy and gc
(:class:`~modelshelf.shelf.care.ShelfCare`, its base).

Example:
    >>> import modelshelf
    >>> shelf = modelshelf.Shelf("memory://doc")
    >>> # shelf.push("./model", "nlp/sentiment")          -> Manifest of nlp/sentiment:1.0
    >>> # shelf.pull("nlp/sentiment:1")                   -> Path of the verified snapshot
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Unpack

from modelshelf import constants
from modelshelf.backends.base import Backend
from modelshelf.cache.cache import Cache
from modelshelf.errors import InvalidInputError, OfflineError, StoreUnreachableError
from modelshelf.manifest import Manifest
from modelshelf.shelf._args import as_progress, as_spec
from modelshelf.shelf.aliases import drop_alias, point_alias, settable_alias
from modelshelf.shelf.care import ShelfCare
from modelshelf.shelf.listing import alias_moves, asset_aliases, asset_log, live_versions
from modelshelf.shelf.notes import ShelfNotes
from modelshelf.shelf.opening import choose_store
from modelshelf.shelf.pull import pull_version
from modelshelf.shelf.resolve import Resolved, resolve_from_cache, resolve_online
from modelshelf.spec import AssetSpec, Version
from modelshelf.store.identity import is_registry_url, store_id
from modelshelf.transfer.progress import Progress

# Each operation imports what it needs when it runs: a pull of a cached version loads neither
# the store layout, the transfer machinery, file locks, push nor maintenance (start-up time).
if TYPE_CHECKING:
    from modelshelf.shelf.push import PushReport
    from modelshelf.shelf.source import PushSource
    from modelshelf.store.api import MaintainedStore
    from modelshelf.store.bucket import AliasRecord, Removal
    from modelshelf.store.copy import CopyReport

__all__ = ["LinkMode", "PushOptions", "Shelf", "pull", "push"]

logger = logging.getLogger("modelshelf")

LinkMode = Literal["copy", "hardlink", "symlink"]


class PushOptions(TypedDict, total=False):
    """The keywords of :meth:`Shelf.push`, which are :meth:`Shelf.push_report`'s (its
    signature holds the defaults; :meth:`Shelf.push` says what each means)."""

    message: str
    metadata: dict[str, str] | None
    major: bool
    aliases: Sequence[str]
    progress: bool | Progress | None
    sections: Mapping[str, Any] | None
    if_changed: bool


class Shelf(ShelfNotes, ShelfCare):
    """One store plus the local cache.

    Args:
        store: a store URL (``file:///path``, ``s3://bucket/prefix``, ``memory://name``,
            ``pkg.mod:Class``, ...), the name of a store in the config file (``"prod"``), or a
            :class:`~modelshelf.backends.Backend`; default ``MODELSHELF_STORE``, the config
            file's ``default_store``, or the local folder in the user data dir.
        cache_dir: the cache root; default ``MODELSHELF_CACHE_DIR`` or the user cache dir.
        backend_kwargs: settings for the backend (e.g. ``{"endpoint": ...}`` for S3), passed
            to its ``from_url``; they beat environment variables and the config file.
        **backend_options: the same, as keyword arguments (a name in both is refused).

    ``store_name`` is the config file's name of the store when it was chosen by name. The
    backend is opened on first use, so a pinned version that is already cached is served with
    no network call and no credentials.
    """

    def __init__(
        self,
        store: str | Backend | None = None,
        *,
        cache_dir: str | Path | None = None,
        backend_kwargs: Mapping[str, Any] | None = None,
        **backend_options: Any,
    ) -> None:
        choice = choose_store(store, backend_kwargs, backend_options)  # opens nothing
        self._choice = choice
        self.store_name: str | None = choice.name  # the config file's name for the store, if named
        self.url = choice.url  # what is shown: never holds a password
        self._store: MaintainedStore | None = None
        self.cache = Cache(cache_dir)
        self.store_id = store_id(self.url, choice.identity)  # as Store.id_for

    def __repr__(self) -> str:
        return f"Shelf({self.url!r})"

    @property
    def store(self) -> MaintainedStore:
        """The store layout (opened on first access): the bucket layout over a backend, or a
        registry's client for an ``http(s)://`` URL."""
        self._refuse_offline()
        if self._store is None:
            self._store = self._choice.open()
            if self._choice.create_on_open:
                self._store.create()
        return self._store

    def _as_destination(self) -> MaintainedStore:
        """This shelf's store as a copy's destination: a registry opens with its own token
        only (``token`` / ``token_file``), never ``MODELSHELF_TOKEN``, which is meant for THE
        store the user chose (the one copied from), not every registry the process reaches."""
        self._refuse_offline()
        if is_registry_url(self._choice.open_url) and self._choice.backend is None:
            return self._choice.open(environment_token=False)
        return self.store

    def _refuse_offline(self) -> None:
        if constants.offline():
            raise OfflineError(
                f"MODELSHELF_OFFLINE is set, and this needs the store {self.url}: unset it to"
                " push, move aliases or list what the store holds (pulls of cached versions"
                " work offline)"
            )

    # -- writing -------------------------------------------------------------------------------
    def push(
        self,
        path: str | os.PathLike[str] | PushSource,
        spec: str | AssetSpec,
        **options: Unpack[PushOptions],
    ) -> Manifest:
        """Upload a file or folder, or an explicit list of files, as a new, immutable version.

        Every argument is checked before anything is read or written.

        Args:
            path: the file or folder to push, or a :class:`PushSource` such as
                ``PushSource.from_files({"out/model.pt": "model.pt"})``.
            spec: ``name`` for the next version (``1.0`` first, then ``1.1``...), or
                ``name:3.0`` for an explicit one.
            message: recorded in the manifest and the audit log.
            metadata: user key/value pairs (text) recorded in the manifest.
            major: start the next major version (``1.4`` -> ``2.0``).
            aliases: then point ``name@alias`` at the new version, for each (not ``latest``).
            progress: show progress bars (default: when stderr is a terminal).
            sections: named JSON values recorded in the manifest (``Manifest.extra``), e.g.
                ``{"model": {"engine": "torch"}}``; not a core key, 1 MiB of JSON in all.
            if_changed: when the files (paths, sizes, sha256), metadata and sections equal
                those of the latest version in scope (the version ``spec`` names, the latest
                3.x for ``name:3``, else the latest), upload and write nothing and return that
                version; ``aliases`` are still moved to it (see :meth:`push_report`). When
                they differ, ``name:3`` pushes the next 3.x.

        Returns:
            The committed manifest (with ``if_changed``, maybe the unchanged version's).

        Raises:
            VersionExistsError: the explicit version exists already (with other content).
            SourcePathError: ``path`` is missing or empty, or holds what cannot be pushed.
            InvalidInputError: an argument is refused; nothing was written.

        Example:
            >>> # shelf.push("./model", "nlp/sentiment")                  -> nlp/sentiment:1.0
            >>> # files = PushSource.from_files({"out/model.pt": "model.pt"})
            >>> # shelf.push(files, "nlp/sentiment", sections={"model": {"engine": "torch"}})
        """
        return self.push_report(path, spec, **options).manifest

    def push_report(
        self,
        path: str | os.PathLike[str] | PushSource,
        spec: str | AssetSpec,
        *,
        message: str = "",
        metadata: dict[str, str] | None = None,
        major: bool = False,
        aliases: Sequence[str] = (),
        progress: bool | Progress | None = None,
        sections: Mapping[str, Any] | None = None,
        if_changed: bool = False,
    ) -> PushReport:
        """:meth:`push`, saying what happened: created or unchanged, which version it repeats
        (``same_as``), and which aliases moved.

        An alias given is moved to the returned version also when nothing changed: from the
        version it was read at (compare-and-swap: a concurrent move fails this one with
        AliasConflictError) and audited like every move; one that points there already is
        left as it is, so an unchanged push writes nothing at all.
        """
        from modelshelf.shelf.push import check_push_args, check_sections, push_version
        from modelshelf.shelf.push_aliases import move_aliases_after_push
        from modelshelf.shelf.source import PushSource

        target = as_spec(spec)
        if target.alias is not None or target.path is not None:
            raise InvalidInputError(
                f"push takes NAME or NAME:VERSION, not {str(target)!r}"
            ).with_fix("; point aliases with {aliases}")
        wanted = check_push_args(
            target.version,
            major=major,
            message=message,
            metadata=metadata or {},
            aliases=aliases,
        )
        extra = check_sections(sections)
        with as_progress(progress) as bar:
            report = push_version(
                self.store,
                path if isinstance(path, PushSource) else PushSource.from_path(path),
                target.name,
                target.version,
                message=message,
                metadata=dict(metadata or {}),
                major=major,
                progress=bar,
                sections=extra,
                if_changed=if_changed,
            )
        return move_aliases_after_push(self, report, wanted)

    def set_alias(
        self, spec: str | AssetSpec, version: str, *, expected: str | None = None
    ) -> AliasRecord:
        """Point ``name@alias`` at an existing version (partial versions resolve first).

        Args:
            spec: ``name@alias``.
            version: the version, e.g. ``"1.3"`` or ``"1"`` (latest 1.x).
            expected: compare-and-swap: fail unless the alias points at this version now.
        """
        name, alias = settable_alias(as_spec(spec))
        resolved = self.resolve(AssetSpec(name, Version.parse(version)), offline=False)
        return point_alias(
            self.store, self.cache, self.store_id, name, alias, resolved.version, expected=expected
        )

    def remove(self, spec: str | AssetSpec, *, message: str = "", dry_run: bool = False) -> Removal:
        """Remove the exact version ``NAME:VERSION`` for good; its number is never reused.

        Its manifest's content goes at once; its blobs go at the next :meth:`gc`. Machines
        that pulled it keep their cached copy (``modelshelf cache rm`` removes one).
        With ``dry_run`` nothing is written and the record that would be is returned.
        """
        from modelshelf.shelf.housekeeping import remove_version

        return remove_version(self.store, as_spec(spec), message, dry_run=dry_run)

    def remove_alias(self, spec: str | AssetSpec, *, expected: str | None = None) -> AliasRecord:
        """Remove ``name@alias`` (compare-and-swap with ``expected``); it stays in the history."""
        target = as_spec(spec)
        return drop_alias(self.store, self.cache, self.store_id, target, expected)

    def copy(
        self, spec: str | AssetSpec, destination: str | Shelf, *, progress: bool | None = None
    ) -> CopyReport:
        """Copy a version with its manifest to another store, a URL, a store's name or a
        ``Shelf`` (promote dev to prod); blobs already there are reused, and the manifest is
        committed last, create-only (see :func:`~modelshelf.store.copy.copy_version`).

        A registry destination gets its own token only (``token`` / ``token_file`` of the
        destination, as a named store of the config file or a ``Shelf`` given them), never
        ``MODELSHELF_TOKEN``: that one is for this shelf's store."""
        other = destination if isinstance(destination, Shelf) else Shelf(destination)
        return self._copy_to(spec, other._as_destination, progress=progress)  # source read first

    # -- reading -------------------------------------------------------------------------------
    def assets(self, prefix: str = "") -> list[str]:
        """Names of the assets in the store, optionally under a ``prefix`` such as ``nlp``, or
        matching a glob such as ``nl*`` (``*`` stops at ``/``, ``**`` does not)."""
        return self.store.assets(prefix)

    def versions(self, name: str) -> list[str]:
        """Live versions of ``name``, newest first; empty once every version was removed.

        Raises:
            AssetNotFoundError: the asset never had a version.
        """
        asset = as_spec(name).name
        return live_versions(self.store, asset)

    def aliases(self, name: str) -> dict[str, AliasRecord]:
        """The aliases of ``name`` and where each points.

        Raises:
            AssetNotFoundError: the asset never had a version (as :meth:`versions`).
        """
        asset = as_spec(name).name
        return asset_aliases(self.store, asset)

    def alias_history(self, spec: str | AssetSpec) -> list[AliasRecord]:
        """Every move of ``name@alias``, oldest first (removals included).

        Raises:
            AssetNotFoundError, AliasNotFoundError: no such asset, or the alias was never set.
        """
        target = as_spec(spec)
        if target.alias is None:
            raise InvalidInputError(f"alias history takes NAME@ALIAS, got {str(target)!r}")
        return alias_moves(self.store, target.name, target.alias)

    def log(self, name: str) -> list[dict[str, Any]]:
        """The audit log of ``name``: every push, alias move and removal, oldest first.

        Raises:
            AssetNotFoundError: the asset never had a version.
        """
        asset = as_spec(name).name
        return asset_log(self.store, asset)

    def manifest(self, spec: str | AssetSpec) -> Manifest:
        """The manifest of the version ``spec`` resolves to."""
        return self.resolve(spec).manifest

    def resolve(self, spec: str | AssetSpec, *, offline: bool | None = None) -> Resolved:
        """Pin ``spec`` to one version and return its manifest.

        A version that is cached exactly is answered from the cache with no network call.
        Offline (``MODELSHELF_OFFLINE=1``), or when the store does not answer, the last
        resolution kept in the cache is used and a warning says so.

        Raises:
            AssetNotFoundError, VersionNotFoundError, AliasNotFoundError: nothing matches.
            OfflineError: offline and the cache cannot answer.
        """
        target = as_spec(spec)
        if target.version is not None:
            cached = self.cache.load_manifest(self.store_id, target.name, str(target.version))
            if cached is not None:
                return Resolved(target, cached)
        if offline is None:
            offline = constants.offline()
        if offline:
            why = "MODELSHELF_OFFLINE is set"
            return resolve_from_cache(self.cache, self.store_id, self.url, target, why, None)
        try:
            identity = self._choice.identity
            return resolve_online(self.store, self.cache, self.store_id, identity, target)
        except StoreUnreachableError as exc:
            why = str(exc).split(" (")[0]
            return resolve_from_cache(self.cache, self.store_id, self.url, target, why, exc)

    def pull(
        self,
        spec: str | AssetSpec,
        *,
        output: str | Path | None = None,
        link: LinkMode = "copy",
        progress: bool | Progress | None = None,
        force: bool = False,
        overwrite: bool = False,
    ) -> Path:
        """Fetch a version (or one file or folder of it) into the verified cache.

        Args:
            spec: e.g. ``nlp/sentiment:1`` (latest 1.x), ``nlp/sentiment@production``,
                ``nlp/sentiment:1.0/tokenizer/vocab.txt``.
            output: also place the files in this folder as plain, writable copies
                (``link="hardlink"`` or ``"symlink"`` for read-only links to the cache).
            progress: show progress bars (default: when stderr is a terminal).
            force: fetch every file again from the store, verify it, and relink the snapshot,
                even if the cache holds it (a remedy for a tampered cache).
            overwrite: with ``output``: replace files and folders there that hold something
                else. Without it such a path is refused before anything is written (the same
                content is kept); nothing is ever written through a symbolic link.

        Returns:
            The path of the snapshot (a folder, or the file for a file), or within ``output``.

        Raises:
            IntegrityError: the store's content does not match the manifest; nothing of that
                file is placed in the cache.
        """
        return self.pull_resolved(
            self.resolve(spec),
            output=output,
            link=link,
            progress=progress,
            force=force,
            overwrite=overwrite,
        )

    def pull_resolved(
        self,
        resolved: Resolved,
        *,
        output: str | Path | None = None,
        link: LinkMode = "copy",
        progress: bool | Progress | None = None,
        force: bool = False,
        overwrite: bool = False,
    ) -> Path:
        """:meth:`pull` for a spec already pinned by :meth:`resolve`."""
        return pull_version(
            self,
            resolved,
            output=output,
            link=link,
            progress=progress,
            force=force,
            overwrite=overwrite,
        )


def push(
    path: str | os.PathLike[str] | PushSource,
    spec: str,
    *,
    store: str | None = None,
    **options: Unpack[PushOptions],
) -> Manifest:
    """Push a file, folder or :class:`PushSource` to ``store`` (default store if ``None``).

    See :meth:`Shelf.push`.
    """
    return Shelf(store).push(path, spec, **options)


def pull(spec: str, *, store: str | None = None, **kwargs: Any) -> Path:
    """Pull a spec from ``store`` into the cache; see :meth:`Shelf.pull`."""
    return Shelf(store).pull(spec, **kwargs)
