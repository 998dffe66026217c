"""What the store holds of an asset, as the facade lists it: versions, aliases, alias moves, log.

One rule for all of them: an asset that never had a version is unknown
(:class:`~modelshelf.errors.AssetNotFoundError`), while a known asset lists empty: one whose
every version was removed (a removed number stays taken, and the asset keeps its log and
aliases), or one with no alias. An empty answer is only checked against the store when it is
empty, so a listing costs one read when there is something to list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelshelf.errors import AssetNotFoundError
    from modelshelf.store.aliases import AliasRecord
    from modelshelf.store.api import MaintainedStore, StoreLayout

__all__ = ["alias_moves", "asset_aliases", "asset_log", "asset_not_found", "live_versions"]


def asset_not_found(store: StoreLayout, name: str) -> AssetNotFoundError:
    """The error for an asset that never had a version, as the store words it."""
    return store.version_not_found(name, None, [])


def live_versions(store: StoreLayout, asset: str) -> list[str]:
    """Live versions of ``asset``, newest first; empty once every version was removed.

    Raises:
        AssetNotFoundError: the asset never had a version.
    """
    found = store.versions(asset)
    # A removed number stays taken and the asset keeps its log and aliases: it is known,
    # with no version left (``rm`` of the last version must not turn into "no asset").
    if not found and not store.taken_versions(asset):
        raise asset_not_found(store, asset)
    return [str(v) for v in found]


def asset_aliases(store: MaintainedStore, asset: str) -> dict[str, AliasRecord]:
    """The aliases of ``asset`` and where each points (an unknown asset fails)."""
    records = store.aliases(asset)
    if not records:
        live_versions(store, asset)  # an unknown asset fails, an asset without aliases does not
    return records


def alias_moves(store: MaintainedStore, asset: str, alias: str) -> list[AliasRecord]:
    """Every move of ``asset@alias``, oldest first (removals included).

    Raises:
        AssetNotFoundError, AliasNotFoundError: no such asset, or the alias was never set.
    """
    records = store.alias_history(asset, alias)
    if not records:
        live_versions(store, asset)
        store.read_alias(asset, alias)  # raises, saying why
    return records


def asset_log(store: StoreLayout, asset: str) -> list[dict[str, Any]]:
    """The audit log of ``asset``, oldest first (an unknown asset fails)."""
    records = store.log(asset)
    if not records:
        live_versions(store, asset)
    return records
