"""The facade's care of stored versions: verify, repair, copy (promote) and garbage collection.

:class:`ShelfCare` is a part of :class:`~modelshelf.shelf.shelf.Shelf` (its base), kept in a module
of its own so that the facade stays readable; each method imports what it needs when it runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from modelshelf.constants import DEFAULT_GRACE
from modelshelf.shelf._args import as_progress, as_spec
from modelshelf.spec import AssetSpec
from modelshelf.transfer.progress import Progress

if TYPE_CHECKING:
    from modelshelf.cache.cache import Cache
    from modelshelf.shelf.housekeeping import VerifyReport
    from modelshelf.shelf.repair import RepairReport
    from modelshelf.shelf.resolve import Resolved
    from modelshelf.store.api import MaintainedStore
    from modelshelf.store.copy import CopyReport
    from modelshelf.store.gc import GcReport

__all__ = ["ShelfCare"]


class ShelfCare:
    """Verify, repair, copy and gc, over the store and cache of the :class:`Shelf` it is part of."""

    if TYPE_CHECKING:
        cache: Cache

        @property
        def store(self) -> MaintainedStore: ...

        def resolve(self, spec: str | AssetSpec, *, offline: bool | None = None) -> Resolved: ...

    def verify(
        self, spec: str | AssetSpec, *, quick: bool = False, progress: bool | Progress | None = None
    ) -> VerifyReport:
        """Check the store holds every blob of a version whole: by sha256, or sizes if ``quick``."""
        from modelshelf.shelf.housekeeping import verify_version
        from modelshelf.shelf.pull import select_entries

        target = as_spec(spec)
        manifest = self.store.read_manifest(target.name, self.resolve(spec, offline=False).version)
        with as_progress(progress) as bar:
            return verify_version(
                self.store, manifest, select_entries(target, manifest), quick=quick, progress=bar
            )

    def repair(
        self,
        spec: str | AssetSpec,
        sources: Sequence[str | os.PathLike[str]] = (),
        *,
        progress: bool | Progress | None = None,
    ) -> RepairReport:
        """Put back every damaged or missing blob of a version from a copy that hashes to it.

        Every blob of the version (or of the file or folder ``spec`` names) is hashed in the
        store, as :meth:`verify` does. Each one that is missing or does not hash to its name is
        uploaded again from the first good copy found: a gc quarantine of the store, the local
        cache, then ``sources`` (files, or folders: the file at the blob's path first, then any
        file under them of its size). Each copy is hashed before it is used and verified as it
        is sent; a blob that verifies is never written. The repair is audited (``log``).

        Args:
            spec: the version, e.g. ``nlp/sentiment:1.3`` or ``nlp/sentiment@production``.
            sources: local files and folders that may hold the original files.

        Returns:
            What was repaired and what is left broken (``report.ok`` when nothing is).

        Raises:
            SourcePathError: a source does not exist (checked before anything is read).
        """
        from modelshelf.shelf.pull import select_entries
        from modelshelf.shelf.repair import check_sources, repair_version

        folders = check_sources(sources)
        target = as_spec(spec)
        manifest = self.store.read_manifest(target.name, self.resolve(spec, offline=False).version)
        with as_progress(progress) as bar:
            return repair_version(
                self.store, self.cache, manifest, select_entries(target, manifest), folders, bar
            )

    def _copy_to(
        self,
        spec: str | AssetSpec,
        destination: Callable[[], MaintainedStore],
        *,
        progress: bool | None = None,
    ) -> CopyReport:
        """``Shelf.copy`` with its destination store opened by ``destination`` (the facade's:
        care never builds a ``Shelf``, its own subclass), after the source version is read."""
        from modelshelf.store.copy import copy_version

        manifest = self.store.read_manifest(as_spec(spec).name, self.resolve(spec).version)
        target = destination()
        target.create()  # a copy may start a store (the source exists: it was read)
        with as_progress(progress) as bar:
            return copy_version(manifest, self.store, target, bar)

    def gc(self, *, grace: timedelta = DEFAULT_GRACE, dry_run: bool = False) -> GcReport:
        """Delete blobs no live version references and older than ``grace``; see ``store.gc``."""
        from modelshelf.store.gc import collect_garbage

        return collect_garbage(self.store, grace=grace, dry_run=dry_run)
