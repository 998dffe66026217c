"""A push's aftermath: moving the aliases it was given to the version it returns.

Shared by :meth:`Shelf.push_report <modelshelf.Shelf.push_report>` and ``register_model``, so
that both move, audit and refuse alike. It sits below the facade: it takes the facade as an
:class:`AliasMover` (what it needs of a ``Shelf``), never imports it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from modelshelf.errors import AliasNotFoundError, ModelshelfError
from modelshelf.spec import AssetSpec

if TYPE_CHECKING:
    from modelshelf.shelf.push import PushReport
    from modelshelf.store.aliases import AliasRecord
    from modelshelf.store.api import StoreLayout

__all__ = ["AliasMover", "move_aliases_after_push"]

logger = logging.getLogger("modelshelf")


class AliasMover(Protocol):
    """What moving aliases after a push needs of the facade (a ``Shelf`` is one)."""

    @property
    def store(self) -> StoreLayout: ...

    def set_alias(
        self, spec: str | AssetSpec, version: str, *, expected: str | None = None
    ) -> AliasRecord: ...


def alias_version(store: StoreLayout, name: str, alias: str) -> str:
    """Where ``name@alias`` points now (``""`` when unset), for a compare-and-swap move."""
    try:
        return store.read_alias(name, alias).version or ""
    except AliasNotFoundError:
        return ""


def move_aliases_after_push(
    shelf: AliasMover, report: PushReport, aliases: Sequence[str]
) -> PushReport:
    """Point each alias (checked by ``check_push_args`` before the push) at the version pushed,
    audited, and say which moved.

    After a new version the alias moves, last writer wins, as always. When the push found its
    content unchanged, the alias moves from the version it was read at (compare-and-swap: a
    concurrent move fails this one with AliasConflictError), and one that points there already
    is left as it is, so an unchanged push writes nothing at all. A failure says the version
    exists and how to move the alias rather than push again.
    """
    manifest = report.manifest
    moved: list[str] = []
    for alias in aliases:
        expected = None
        if not report.new_version:
            expected = alias_version(shelf.store, manifest.name, alias)
            if expected == manifest.version:
                continue
        try:
            shelf.set_alias(AssetSpec(manifest.name, alias=alias), manifest.version,
                            expected=expected)  # fmt: skip
        except ModelshelfError:
            name, version = manifest.name, manifest.version
            logger.warning(
                "%s:%s was pushed, but @%s was not moved; do not push again, run"
                " `modelshelf alias set %s@%s %s`",
                name, version, alias, name, alias, version,
            )  # fmt: skip
            raise
        moved.append(alias)
    kept = tuple(a for a in aliases if a not in moved)
    return replace(report, aliases_moved=tuple(moved), aliases_kept=kept)
