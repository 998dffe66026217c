"""Whole-cache chores: ``cache verify`` (re-hash and repair) and ``cache rm`` (remove versions).

Both run under the cache's exclusive maintenance lock, like prune, and find what they work on
through :mod:`modelshelf.cache.scan`.

Snapshot files are hard links to their blobs: no extra disk, and a pull links a file in no
time. The cost is that a write to one snapshot file (by root, or after ``chmod u+w``) changes
the blob, and so every snapshot that shares it. :func:`verify_cache` re-hashes every blob and
every snapshot file once per inode, removes what does not match its sha256, restores a blob
from a sound copy where one exists, and relinks. A snapshot that still lacks a file afterwards
loses its completion marker, so its next pull fetches the file again. Like prune, it leaves
alone what a live pull has pinned (a bad blob it may be linking now): the report says so, and
the next ``cache verify`` removes it. It also removes temporary files whose writer died.
"""

from __future__ import annotations

import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from modelshelf.cache.cache import Cache, place_file
from modelshelf.cache.prune import delete_snapshots
from modelshelf.cache.scan import SnapshotInfo, blob_files, live_pins, snapshots, stale_temps
from modelshelf.manifest import Manifest
from modelshelf.spec import Version
from modelshelf.transfer.download import hash_file
from modelshelf.trust import inside

__all__ = ["CacheVerifyReport", "RemovePlan", "remove_snapshots", "verify_cache"]


@dataclass
class CacheVerifyReport:
    """What ``cache verify`` checked, found and repaired (``Shelf.verify`` checks a store)."""

    blobs_checked: int = 0
    bytes_hashed: int = 0
    bad_blobs: list[str] = field(default_factory=list)
    bad_files: list[Path] = field(default_factory=list)
    restored_blobs: list[str] = field(default_factory=list)
    repaired: list[SnapshotInfo] = field(default_factory=list)
    damaged: list[SnapshotInfo] = field(default_factory=list)
    """Snapshots that lost files and could not be relinked from the cache: their next pull
    (or ``cache verify`` with their store reachable) fetches the files again."""
    deferred: list[str] = field(default_factory=list)
    """Bad blobs left in place because a live pull pinned them; snapshots that hold them are
    left as they are. The next ``cache verify`` deals with them."""
    temp_files: list[Path] = field(default_factory=list)
    """Temporary files of writers that died, removed."""


_Inode = tuple[int, int]


class _Hasher:
    """sha256 of files, once per inode (hard links share one)."""

    def __init__(self, report: CacheVerifyReport) -> None:
        self.report = report
        self.known: dict[_Inode, str] = {}

    def __call__(self, path: Path) -> tuple[str | None, _Inode]:
        info = path.lstat()
        key = (info.st_dev, info.st_ino)
        if not stat.S_ISREG(info.st_mode):
            return None, key
        if key not in self.known:
            self.known[key] = hash_file(path)
            self.report.bytes_hashed += info.st_size
        return self.known[key], key


def _remove_if_same(path: Path, key: _Inode) -> bool:
    """Remove ``path`` if it is still what was hashed (not replaced meanwhile); a folder too."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return False
    if (info.st_dev, info.st_ino) != key:
        return False
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
    return True


_Bad = tuple[Path, _Inode, str]  # a bad file, its inode when hashed, the sha it should have


def verify_cache(cache: Cache) -> CacheVerifyReport:
    """Re-hash every blob and snapshot file; remove bad ones, restore and relink what it can.

    Hashing runs without a lock (it only reads); removing and relinking run under the
    exclusive maintenance lock, and remove a file only if it is still the one that was hashed,
    so pulls are held up only for the repairs. Bad blobs that a live pull pinned are left, as
    are the snapshots that hold them (listed in ``deferred``).

    Returns:
        The report; its ``damaged`` snapshots need their store to be whole again.
    """
    report = CacheVerifyReport()
    digest = _Hasher(report)
    sizes, temps = blob_files(cache)
    good: dict[str, Path] = {}
    bad: list[_Bad] = []
    for sha in sorted(sizes):
        path = cache.blob_path(sha)
        report.blobs_checked += 1
        try:
            actual, key = digest(path)
        except FileNotFoundError:
            continue
        if actual == sha:
            good[sha] = path
        else:
            report.bad_blobs.append(sha)
            bad.append((path, key, sha))
    checked: list[tuple[SnapshotInfo, Manifest]] = []
    for snap in snapshots(cache):
        manifest = cache.load_manifest(snap.store_id, snap.name, snap.version)
        if manifest is not None and _check_snapshot(snap, manifest, digest, good, bad, report):
            checked.append((snap, manifest))
    with cache.maintenance():
        dead = [t.path for t in temps if not cache.owner_alive(t.owner)]
        for temp in dead + [t.path for t in stale_temps(cache)]:
            temp.unlink(missing_ok=True)
            report.temp_files.append(temp)
        # A live pull may be linking a pinned blob now: removing it would fail the pull.
        deferred = set(report.bad_blobs) & live_pins(cache).blobs
        report.deferred = sorted(deferred)
        for path, key, sha in bad:
            if sha not in deferred:
                _remove_if_same(path, key)
        checked = [(s, m) for s, m in checked if not s.blobs & deferred]
        for sha, path in sorted(good.items()):
            blob = cache.blob_path(sha)
            if not blob.is_file() and path.is_file():
                place_file(path, blob, "hardlink")
                blob.chmod(0o444)
                report.restored_blobs.append(sha)
        for snap, manifest in checked:
            cache.complete_marker(snap.store_id, snap.name, snap.version).unlink(missing_ok=True)
            present = tuple(e for e in manifest.files if cache.has_blob(e.sha256, e.size))
            cache.link_snapshot(snap.store_id, manifest, present)
            if cache.is_complete(snap.store_id, snap.name, snap.version):
                report.repaired.append(snap)
            else:
                report.damaged.append(snap)
    return report


def _check_snapshot(
    snap: SnapshotInfo,
    manifest: Manifest,
    digest: _Hasher,
    good: dict[str, Path],
    bad: list[_Bad],
    report: CacheVerifyReport,
) -> bool:
    """Note the snapshot's bad files; True if it needs relinking (a file bad or missing)."""
    broken = False
    for entry in manifest.files:
        path = inside(snap.path, entry.path)
        try:
            actual, key = digest(path)
        except FileNotFoundError:
            broken = broken or snap.complete  # a partial pull's snapshot lacks files by design
            continue
        if actual == entry.sha256:
            good.setdefault(entry.sha256, path)
        else:
            report.bad_files.append(path)
            bad.append((path, key, entry.sha256))
            broken = True
    return broken


@dataclass
class RemovePlan:
    """Snapshots removed by ``cache rm``, blobs that went with them, and snapshots kept."""

    snapshots: list[SnapshotInfo] = field(default_factory=list)
    blobs: list[str] = field(default_factory=list)
    in_use: list[SnapshotInfo] = field(default_factory=list)


def remove_snapshots(
    cache: Cache, name: str, version: str | None = None, *, dry_run: bool = False
) -> RemovePlan:
    """Remove the cached snapshots of ``name`` (versions matching ``version``, e.g. ``1``).

    Blobs that no other snapshot (and no live pull) needs go too. Snapshots that a live pull
    is writing are kept and listed in ``in_use``.
    """
    wanted = Version.parse(version) if version else None
    plan = RemovePlan()
    with cache.maintenance():
        pins = live_pins(cache)
        keep: set[str] = set(pins.blobs)
        for snap in snapshots(cache):
            matches = snap.name == name and (
                wanted is None or wanted.matches(Version.parse(snap.version))
            )
            if matches and snap.key in pins.snapshots:
                plan.in_use.append(snap)
            if matches and snap.key not in pins.snapshots:
                plan.snapshots.append(snap)
            else:
                keep |= snap.blobs
        sizes, _temps = blob_files(cache)
        gone = set().union(*(s.blobs for s in plan.snapshots)) if plan.snapshots else set()
        plan.blobs = sorted(sha for sha in gone - keep if sha in sizes)
        if dry_run:
            return plan
        delete_snapshots(cache, plan.snapshots, plan.blobs)
    return plan
