"""The facade's notes and diffs: an asset's or a version's labels and description, and what
changed between two versions.

:class:`ShelfNotes` is a part of :class:`~modelshelf.shelf.shelf.Shelf` (its base), as
:class:`~modelshelf.shelf.care.ShelfCare` is; the work is done in
:mod:`~modelshelf.shelf.labels`, :mod:`~modelshelf.shelf.card` and :mod:`~modelshelf.shelf.diff`.

Example:
    >>> import modelshelf
    >>> shelf = modelshelf.Shelf("memory://notes-facade-doc")
    >>> # shelf.set_notes("nlp/sentiment:1.3", set={"stage": "candidate"}).labels
    >>> # {'stage': 'candidate'}
    >>> # shelf.diff("nlp/sentiment:1.3", "nlp/sentiment:1.4").changed
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from modelshelf.errors import InvalidInputError
from modelshelf.shelf._args import as_spec
from modelshelf.spec import AssetSpec

if TYPE_CHECKING:
    from modelshelf.manifest import Manifest
    from modelshelf.shelf.diff import VersionDiff
    from modelshelf.shelf.resolve import Resolved
    from modelshelf.store.api import MaintainedStore
    from modelshelf.store.notes import Notes

__all__ = ["ShelfNotes"]


class ShelfNotes:
    """Labels, descriptions and diffs, over the store of the :class:`Shelf` it is part of."""

    if TYPE_CHECKING:

        @property
        def store(self) -> MaintainedStore: ...

        def resolve(self, spec: str | AssetSpec, *, offline: bool | None = None) -> Resolved: ...

        def manifest(self, spec: str | AssetSpec) -> Manifest: ...

    # -- notes (labels, description) and diffs -------------------------------------------------
    def notes(self, spec: str | AssetSpec) -> Notes:
        """The labels and description of asset ``name``, or of the version ``name:1.3`` or
        ``name@alias`` resolves to (``seq == 0``: never written).

        Example:
            >>> # shelf.notes("nlp/sentiment:1.3").labels           -> {"stage": "candidate"}
        """
        from modelshelf.shelf.labels import read_asset_notes

        name, version = self._notes_target(spec)
        if version is None:
            return read_asset_notes(self.store, name)
        return self.store.read_notes(name, version)

    def set_notes(
        self,
        spec: str | AssetSpec,
        *,
        set: Mapping[str, str] | None = None,  # the word users write
        remove: Sequence[str] | None = None,
        description: str | None = None,
    ) -> Notes:
        """Set labels (``{"team": "nlp", "gpu": ""}``), remove labels by key and replace the
        description (Markdown) of ``spec``'s notes (as :meth:`notes` names them); the others
        stay. A concurrent change is read and this one done again on it (both keep theirs);
        each write is audited (``label``). Nothing is written when nothing changes.

        Raises:
            InvalidInputError: a label, key or description is refused, or a key to remove is
                not there; nothing was written.
            NotesConflictError: other changes kept winning, try after try.

        Example:
            >>> # shelf.set_notes("nlp/sentiment:1.3", set={"stage": "candidate"}, remove=["wip"])
        """
        from modelshelf.shelf.labels import change_notes

        name, version = self._notes_target(spec)
        return change_notes(
            self.store, name, version, set_labels=set, remove=remove, description=description
        )

    def notes_history(self, spec: str | AssetSpec) -> list[Notes]:
        """Every record of ``spec``'s notes (as :meth:`notes` names them), oldest first."""
        from modelshelf.shelf.listing import live_versions

        name, version = self._notes_target(spec)
        records = self.store.notes_history(name, version)
        if not records and version is None:
            live_versions(self.store, name)  # an unknown asset fails
        return records

    def _notes_target(self, spec: str | AssetSpec) -> tuple[str, str | None]:
        from modelshelf.shelf.labels import notes_target

        return notes_target(as_spec(spec), lambda t: self.resolve(t, offline=False).version)

    def diff(self, a: str | AssetSpec, b: str | AssetSpec) -> VersionDiff:
        """What changed from version ``a`` to version ``b`` (any two, of any assets): files
        added, removed, changed and moved, and the metadata, model, requirements, signature,
        card and message sections line by line (see :mod:`modelshelf.shelf.diff`).

        Example:
            >>> # [c.path for c in shelf.diff("nlp/sentiment:1.3", "nlp/sentiment@prod").changed]
        """
        from modelshelf.shelf.card import diff_with_cards

        for spec in (a, b):
            target = as_spec(spec)
            if target.path:
                raise InvalidInputError(
                    f"diff compares whole versions: give {target.name}:VERSION or"
                    f" {target.name}@ALIAS, not {str(target)!r}"
                )
        return diff_with_cards(self.store, self.manifest(a), self.manifest(b))
