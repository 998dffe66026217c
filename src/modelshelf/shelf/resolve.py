"""Pinning a spec to one version: from the cache, from the store, or from the last resolution.

A version that is cached exactly is answered from the cache with no network call. Otherwise the
store is asked (alias record, or the newest version matching a partial one), and the answer is
remembered under ``refs/`` so that an offline or unreachable store can still be resolved from
the last answer, with a warning that says so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from modelshelf.cache.cache import Cache
from modelshelf.errors import ObjectNotFoundError, OfflineError, VersionNotFoundError
from modelshelf.manifest import Manifest
from modelshelf.spec import LATEST, AssetSpec, Version, latest_matching

if TYPE_CHECKING:
    from modelshelf.store.api import StoreLayout

__all__ = ["Resolved", "ref_key", "resolve_from_cache", "resolve_online"]

logger = logging.getLogger("modelshelf")


@dataclass(frozen=True)
class Resolved:
    """A spec pinned to one version: the manifest, and whether the answer came from the cache."""

    spec: AssetSpec
    manifest: Manifest
    offline: bool = False

    @property
    def version(self) -> str:
        return self.manifest.version


def ref_key(spec: AssetSpec) -> str:
    """The ``refs/`` entry that remembers what ``spec`` resolved to last."""
    if spec.version is not None:
        return f"versions:{spec.version}"
    return f"aliases:{spec.alias or LATEST}"


def resolve_online(
    store: StoreLayout, cache: Cache, store_id: str, identity: Mapping[str, str], target: AssetSpec
) -> Resolved:
    """Ask the store which version ``target`` means; cache its manifest and the answer.

    Raises:
        AssetNotFoundError, VersionNotFoundError, AliasNotFoundError: nothing matches.
    """
    name = target.name
    if target.alias is not None and target.alias != LATEST:
        version = store.alias_target(name, target.alias)
    else:
        found = store.versions(name)
        best = latest_matching(found, target.version)
        if best is None:
            raise store.version_not_found(name, target.version, found)
        version = str(best)
    manifest = cache.load_manifest(store_id, name, version)
    if manifest is None:
        try:
            manifest = store.read_manifest(name, version)
        except ObjectNotFoundError:
            raise VersionNotFoundError(
                f"{name}@{target.alias} points at {version}, which does not exist in"
                f" {store.url}; move the alias with `modelshelf alias set`",
                name=name,
                store=store.url,
            ) from None
        cache.save_manifest(store_id, manifest)
        cache.remember_store(store_id, identity)
    if target.version is None or target.version.depth != Version.parse(version).depth:
        cache.write_ref(store_id, name, ref_key(target), version)
    return Resolved(target, manifest)


def resolve_from_cache(
    cache: Cache, store_id: str, url: str, target: AssetSpec, why: str, cause: Exception | None
) -> Resolved:
    """The last resolution of ``target`` kept in the cache, with a warning saying ``why``.

    Raises:
        OfflineError: this machine never resolved ``target`` from that store.
    """
    name = target.name
    version = cache.read_ref(store_id, name, ref_key(target))
    if version is None and target.alias in (None, LATEST):
        best = latest_matching(cache.cached_versions(store_id, name), target.version)
        version = str(best) if best else None
    manifest = cache.load_manifest(store_id, name, version) if version else None
    if manifest is None:
        raise OfflineError(
            f"{why}, and {target} was never pulled from {url} on this machine;"
            " pull it once while the store is reachable (or unset MODELSHELF_OFFLINE)"
        ) from cause
    logger.warning("%s; using the cached resolution %s -> %s:%s", why, target, name, version)
    return Resolved(target, manifest, offline=True)
