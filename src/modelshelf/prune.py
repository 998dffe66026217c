"""Keeping the cache under a size budget: plan first, then delete, least recently used first.

A snapshot's last use is the time of its completion marker, which every pull touches. Blobs are
shared between snapshots, so the plan frees a blob only when no kept snapshot needs it; blobs
that no snapshot needs at all (left by partial or interrupted pulls) go first.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from modelshelf.cache import Cache

__all__ = ["PrunePlan", "SnapshotInfo", "plan_prune", "prune", "usage"]


@dataclass(frozen=True)
class SnapshotInfo:
    """One cached version: where it is, when it was last used, which blobs it needs."""

    store_id: str
    name: str
    version: str
    path: Path
    last_used: float
    blobs: frozenset[str]


@dataclass
class PrunePlan:
    """What a prune would delete, and the cache size before and after."""

    snapshots: list[SnapshotInfo] = field(default_factory=list)
    blobs: list[str] = field(default_factory=list)
    size_before: int = 0
    size_after: int = 0

    @property
    def freed(self) -> int:
        return self.size_before - self.size_after


def _snapshots(cache: Cache) -> list[SnapshotInfo]:
    """Every snapshot, found through the cached manifests (our files only), oldest use first."""
    found = []
    root = cache.root / "manifests"
    for path in root.glob("*/**/versions/*.json"):
        store_id, *name_parts, _versions, _file = path.relative_to(root).parts
        name, version = "/".join(name_parts), path.stem
        folder = cache.snapshot_dir(store_id, name, version)
        if not folder.is_dir():
            continue
        manifest = cache.load_manifest(store_id, name, version)
        marker = cache.complete_marker(store_id, name, version)
        used = marker.stat().st_mtime if marker.is_file() else folder.stat().st_mtime
        shas = frozenset(f.sha256 for f in manifest.files) if manifest else frozenset()
        found.append(SnapshotInfo(store_id, name, version, folder, used, shas))
    return sorted(found, key=lambda s: s.last_used)


def _blob_sizes(cache: Cache) -> dict[str, int]:
    sizes = {}
    root = cache.root / "blobs" / "sha256"
    if root.is_dir():
        for blob in root.glob("*/*"):
            if not blob.name.startswith("."):
                sizes[blob.name] = blob.stat().st_size
    return sizes


def usage(cache: Cache) -> tuple[int, list[SnapshotInfo]]:
    """Bytes held in blobs, and every snapshot (least recently used first)."""
    return sum(_blob_sizes(cache).values()), _snapshots(cache)


def plan_prune(cache: Cache, max_bytes: int) -> PrunePlan:
    """What to delete so that the cache's blobs total at most ``max_bytes``."""
    sizes = _blob_sizes(cache)
    snapshots = _snapshots(cache)
    needed: dict[str, int] = {}
    for snap in snapshots:
        for sha in snap.blobs:
            needed[sha] = needed.get(sha, 0) + 1
    plan = PrunePlan(size_before=sum(sizes.values()))
    total = plan.size_before
    for sha, size in sorted(sizes.items()):
        if sha not in needed and total > max_bytes:
            plan.blobs.append(sha)
            total -= size
    for snap in snapshots:
        if total <= max_bytes:
            break
        plan.snapshots.append(snap)
        for sha in snap.blobs:
            needed[sha] -= 1
            if needed[sha] == 0 and sha in sizes:
                plan.blobs.append(sha)
                total -= sizes[sha]
    plan.size_after = total
    return plan


def prune(cache: Cache, max_bytes: int, *, dry_run: bool = False) -> PrunePlan:
    """Delete least recently used snapshots and unneeded blobs until under ``max_bytes``.

    A snapshot is deleted before the blobs it needed, so a concurrent reader of another
    snapshot never loses a file (its hard links keep the data alive in any case).
    """
    plan = plan_prune(cache, max_bytes)
    if dry_run:
        return plan
    for snap in plan.snapshots:
        cache.complete_marker(snap.store_id, snap.name, snap.version).unlink(missing_ok=True)
        shutil.rmtree(snap.path, ignore_errors=True)
    for sha in plan.blobs:
        cache.blob_path(sha).unlink(missing_ok=True)
    return plan
