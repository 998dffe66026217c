"""Keeping the cache under a size budget: plan first, then delete, least recently used first.

A snapshot's last use is the time of its completion marker, which every pull touches. Blobs are
shared between snapshots, so the plan frees a blob only when no kept snapshot needs it; blobs
that no snapshot needs at all (left by partial or interrupted pulls) go first. What a live pull
needs (its pin lists the blobs and the snapshot) is never deleted, and temporary files whose
owner died (a killed pull's partial download) always go.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from modelshelf.cache.cache import Cache
from modelshelf.cache.scan import (
    LivePins,
    SnapshotInfo,
    blob_files,
    live_pins,
    remove_dead_owners,
    snapshots,
    stale_temps,
)

__all__ = [
    "CacheUsage",
    "PrunePlan",
    "SnapshotInfo",
    "delete_snapshots",
    "plan_prune",
    "prune",
    "usage",
]


@dataclass
class PrunePlan:
    """What a prune would delete, and the cache size (blobs and temp files) before and after.

    ``temp_files`` also lists dead writers' temp files outside ``blobs/`` (refs, pins,
    snapshots); those are a few bytes each and are not counted in the sizes.
    """

    snapshots: list[SnapshotInfo] = field(default_factory=list)
    blobs: list[str] = field(default_factory=list)
    temp_files: list[Path] = field(default_factory=list)
    size_before: int = 0
    size_after: int = 0

    @property
    def freed(self) -> int:
        return self.size_before - self.size_after


@dataclass(frozen=True)
class CacheUsage:
    """Bytes in blobs, snapshots (least recently used first), and temporary download files."""

    size: int
    snapshots: list[SnapshotInfo]
    temp_files: int
    temp_size: int


def usage(cache: Cache) -> CacheUsage:
    """What the cache holds: blob bytes, snapshots, and temp files (live or left by kills)."""
    sizes, temps = blob_files(cache)
    return CacheUsage(sum(sizes.values()), snapshots(cache), len(temps), sum(t.size for t in temps))


def plan_prune(cache: Cache, max_bytes: int, *, pins: LivePins | None = None) -> PrunePlan:
    """What to delete so that the cache's blobs and temp files total at most ``max_bytes``.

    Args:
        pins: what live pulls need (default: read from the cache); never planned for deletion.
    """
    pins = live_pins(cache) if pins is None else pins
    sizes, temps = blob_files(cache)
    found = snapshots(cache)
    plan = PrunePlan(size_before=sum(sizes.values()) + sum(t.size for t in temps))
    total = plan.size_before
    for temp in temps:
        if not cache.owner_alive(temp.owner):
            plan.temp_files.append(temp.path)
            total -= temp.size
    plan.temp_files += [temp.path for temp in stale_temps(cache)]
    needed: dict[str, int] = {}
    for snap in found:
        for sha in snap.blobs:
            needed[sha] = needed.get(sha, 0) + 1
    for sha, size in sorted(sizes.items()):
        if sha not in needed and sha not in pins.blobs and total > max_bytes:
            plan.blobs.append(sha)
            total -= size
    for snap in found:
        if total <= max_bytes:
            break
        if snap.key in pins.snapshots:
            continue
        plan.snapshots.append(snap)
        for sha in snap.blobs:
            needed[sha] -= 1
            if needed[sha] == 0 and sha in sizes and sha not in pins.blobs:
                plan.blobs.append(sha)
                total -= sizes[sha]
    plan.size_after = total
    return plan


def prune(cache: Cache, max_bytes: int, *, dry_run: bool = False) -> PrunePlan:
    """Delete least recently used snapshots and unneeded blobs until under ``max_bytes``.

    Temporary files of dead owners go whatever the budget. It runs under the cache's exclusive
    maintenance lock, so no pull writes its pin between the plan and the deletions. A snapshot
    is deleted before the blobs it needed, so a concurrent reader of another snapshot never
    loses a file (its hard links keep the data alive in any case).
    """
    with cache.maintenance():
        plan = plan_prune(cache, max_bytes, pins=live_pins(cache, remove_stale=not dry_run))
        if dry_run:
            return plan
        for temp in plan.temp_files:
            temp.unlink(missing_ok=True)
        delete_snapshots(cache, plan.snapshots, plan.blobs)
        remove_dead_owners(cache)
    return plan


def delete_snapshots(cache: Cache, found: list[SnapshotInfo], blobs: list[str]) -> None:
    """Delete snapshots (the completion marker first), then blobs, under the maintenance lock.

    The order matters: a snapshot without its marker is no longer served warm, and a blob goes
    only after the snapshots that needed it.
    """
    for snap in found:
        cache.complete_marker(snap.store_id, snap.name, snap.version).unlink(missing_ok=True)
        shutil.rmtree(snap.path, ignore_errors=True)
    for sha in blobs:
        cache.blob_path(sha).unlink(missing_ok=True)
