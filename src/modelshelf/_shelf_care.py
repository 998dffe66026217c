"""The facade's care of stored versions: verify, copy (promote) and garbage collection.

:class:`ShelfCare` is a part of :class:`~modelshelf.shelf.Shelf` (its base), kept in a module
of its own so that the facade stays readable; each method imports what it needs when it runs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from modelshelf._progress import Progress, make_progress
from modelshelf.constants import DEFAULT_GRACE
from modelshelf.spec import AssetSpec, parse_spec

if TYPE_CHECKING:
    from modelshelf._copy import CopyReport
    from modelshelf._gc import GcReport
    from modelshelf._housekeeping import VerifyReport
    from modelshelf.cache import Cache
    from modelshelf.resolve import Resolved
    from modelshelf.shelf import Shelf
    from modelshelf.store import Store

__all__ = ["ShelfCare"]


def _as_spec(spec: str | AssetSpec) -> AssetSpec:
    return spec if isinstance(spec, AssetSpec) else parse_spec(spec)


def _progress(progress: bool | Progress | None) -> Progress:
    return progress if isinstance(progress, Progress) else make_progress(progress)


class ShelfCare:
    """Verify, copy and gc, over the store and cache of the :class:`Shelf` it is part of."""

    if TYPE_CHECKING:
        cache: Cache

        @property
        def store(self) -> Store: ...

        def resolve(self, spec: str | AssetSpec, *, offline: bool | None = None) -> Resolved: ...

    def verify(
        self, spec: str | AssetSpec, *, quick: bool = False, progress: bool | Progress | None = None
    ) -> VerifyReport:
        """Check the store holds every blob of a version whole: by sha256, or sizes if ``quick``."""
        from modelshelf._housekeeping import verify_version
        from modelshelf._pull import select_entries

        target = _as_spec(spec)
        manifest = self.store.read_manifest(target.name, self.resolve(spec, offline=False).version)
        with _progress(progress) as bar:
            return verify_version(
                self.store, manifest, select_entries(target, manifest), quick=quick, progress=bar
            )

    def copy(
        self, spec: str | AssetSpec, destination: str | Shelf, *, progress: bool | None = None
    ) -> CopyReport:
        """Copy a version with its manifest to another store (promote dev to prod); see _copy."""
        from modelshelf._copy import copy_version
        from modelshelf.shelf import Shelf

        other = destination if isinstance(destination, Shelf) else Shelf(destination)
        manifest = self.store.read_manifest(_as_spec(spec).name, self.resolve(spec).version)
        with _progress(progress) as bar:
            return copy_version(manifest, self.store, other.store, bar)

    def gc(self, *, grace: timedelta = DEFAULT_GRACE, dry_run: bool = False) -> GcReport:
        """Delete blobs no live version references and older than ``grace``; see ``_gc``."""
        from modelshelf._gc import collect_garbage

        return collect_garbage(self.store, grace=grace, dry_run=dry_run)
