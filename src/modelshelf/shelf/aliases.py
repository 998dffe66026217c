"""Moving an alias from the facade: pointing it at a version, or removing it.

Each move is compare-and-swap in the store (``expected``), audited in the asset's log, and kept
in step with the cache's last resolution of ``name@alias`` (written when the alias is pointed,
forgotten when it is removed), so that an offline resolution never answers with a stale alias.
A spec that is not ``NAME@ALIAS`` is refused before the store is asked. ``Shelf.set_alias`` and
``Shelf.remove_alias`` use these; a push's aliases go through ``Shelf.set_alias`` too
(:mod:`~modelshelf.shelf.push_aliases`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelshelf.errors import InvalidInputError
from modelshelf.shelf.resolve import ref_key
from modelshelf.spec import AssetSpec, movable_alias

if TYPE_CHECKING:
    from modelshelf.cache.cache import Cache
    from modelshelf.store.aliases import AliasRecord
    from modelshelf.store.api import MaintainedStore, StoreLayout

__all__ = ["drop_alias", "point_alias", "remove_alias", "settable_alias"]


def settable_alias(target: AssetSpec) -> tuple[str, str]:
    """``(name, alias)`` of a ``NAME@ALIAS`` spec that ``alias set`` may point.

    Raises:
        InvalidInputError: not ``NAME@ALIAS``, or the alias is ``latest`` (which is implicit).
    """
    if target.alias is None or target.path:
        raise InvalidInputError(f"alias set takes NAME@ALIAS, got {str(target)!r}")
    return target.name, _movable("alias set", target, target.alias)


def _movable(command: str, spec: AssetSpec, alias: str) -> str:
    """``alias`` unless it is ``latest`` (refused with the one text every alias mover shows)."""
    try:
        return movable_alias(alias)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{command} takes NAME@ALIAS, got {str(spec)!r}: {exc}") from None


def point_alias(
    store: StoreLayout,
    cache: Cache,
    store_id: str,
    name: str,
    alias: str,
    version: str,
    *,
    expected: str | None,
) -> AliasRecord:
    """Point ``name@alias`` at the existing ``version``, audit it and remember it in the cache."""
    record = store.set_alias(name, alias, version, expected=expected)
    store.append_log(
        name,
        "alias",
        alias=alias,
        version=record.version,
        previous=record.previous,
        seq=record.seq,
    )
    cache.write_ref(store_id, name, f"aliases:{alias}", version)
    return record


def remove_alias(store: MaintainedStore, spec: AssetSpec, expected: str | None) -> AliasRecord:
    """Remove ``name@alias`` (compare-and-swap with ``expected``) and log it."""
    if spec.alias is None or spec.version is not None or spec.path:
        raise InvalidInputError(f"alias rm takes NAME@ALIAS, got {str(spec)!r}")
    _movable("alias rm", spec, spec.alias)
    record = store.remove_alias(spec.name, spec.alias, expected=expected)
    store.append_log(
        spec.name, "alias", alias=spec.alias, version=None, previous=record.previous, seq=record.seq
    )
    return record


def drop_alias(
    store: MaintainedStore, cache: Cache, store_id: str, target: AssetSpec, expected: str | None
) -> AliasRecord:
    """:func:`remove_alias`, then forget the cache's last resolution of it."""
    record = remove_alias(store, target, expected)
    cache.forget_ref(store_id, target.name, ref_key(target))
    return record
