"""The scanner of the whole cache: snapshots, blobs, temporary files, pins, owners.

Everything that lists the whole cache (``prune``, ``cache ls``/``info``, ``cache verify``,
``cache rm``) asks this module. :mod:`modelshelf.cache.cache` itself only looks inside one asset's
folders (one blob's temp files, one asset's manifests, one snapshot tree), and
:func:`modelshelf.cache.locks.owner_token` tidies up ``locks/owners/``.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from modelshelf.cache.cache import Cache

__all__ = [
    "LivePins",
    "SnapshotInfo",
    "TempFile",
    "blob_files",
    "live_pins",
    "remove_dead_owners",
    "snapshots",
    "stale_temps",
]


@dataclass(frozen=True)
class SnapshotInfo:
    """One cached version: where it is, when it was last used, which blobs it needs."""

    store_id: str
    name: str
    version: str
    path: Path
    last_used: float
    blobs: frozenset[str]
    size: int = 0
    complete: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.store_id, self.name, self.version)


@dataclass(frozen=True)
class TempFile:
    """A download in progress, or the leftover of a killed one."""

    path: Path
    size: int
    owner: str


@dataclass
class LivePins:
    """What live pulls need: their blobs and their snapshots."""

    blobs: set[str] = field(default_factory=set)
    snapshots: set[tuple[str, str, str]] = field(default_factory=set)


def snapshots(cache: Cache) -> list[SnapshotInfo]:
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
        # Without the lock, a prune or rm may remove the marker or the folder as we look.
        try:
            info = marker.stat()
            complete = stat.S_ISREG(info.st_mode)
        except OSError:
            complete = False
        try:
            used = info.st_mtime if complete else folder.stat().st_mtime
        except OSError:
            continue
        shas = frozenset(f.sha256 for f in manifest.files) if manifest else frozenset()
        size = manifest.size if manifest else 0
        found.append(SnapshotInfo(store_id, name, version, folder, used, shas, size, complete))
    return sorted(found, key=lambda s: s.last_used)


def blob_files(cache: Cache) -> tuple[dict[str, int], list[TempFile]]:
    """Sizes of the blobs by sha256, and the temporary files beside them, in one walk."""
    sizes: dict[str, int] = {}
    temps: list[TempFile] = []
    root = cache.root / "blobs" / "sha256"
    if not root.is_dir():
        return sizes, temps
    for folder in os.scandir(root):
        if not folder.is_dir(follow_symlinks=False):
            continue
        for item in os.scandir(folder.path):
            try:
                size = item.stat(follow_symlinks=False).st_size
            except FileNotFoundError:
                continue  # renamed or removed meanwhile
            owner = cache.temp_owner(item.name)
            if owner is not None:
                temps.append(TempFile(Path(item.path), size, owner))
            elif not item.name.startswith("."):
                sizes[item.name] = size
    return sizes, temps


_META_FOLDERS = ("snapshots", "manifests", "refs", "pins", "stores", "listings")


def stale_temps(cache: Cache) -> list[TempFile]:
    """Temporary files outside ``blobs/`` whose writer died (killed between write and rename).

    Their names carry their writer's owner token (see :func:`modelshelf.cache.cache.atomic_write`).
    In a snapshot folder a name that is a file of the version is the asset's, never a temp.
    """
    found = []
    for top in _META_FOLDERS:
        for folder, _dirs, files in os.walk(cache.root / top):
            for name in files:
                owner = cache.temp_owner(name)
                if owner is None or cache.owner_alive(owner):
                    continue
                path = Path(folder, name)
                if top == "snapshots" and _is_asset_file(cache, path):
                    continue
                try:
                    size = path.lstat().st_size
                except FileNotFoundError:
                    continue
                found.append(TempFile(path, size, owner))
    return found


def _is_asset_file(cache: Cache, path: Path) -> bool:
    """True if ``path`` (under ``snapshots/``) is a file of its version's manifest."""
    parts = path.relative_to(cache.root / "snapshots").parts
    if "versions" not in parts[1:]:
        return False
    at = parts.index("versions", 1)
    if len(parts) < at + 3:
        return False
    manifest = cache.load_manifest(parts[0], "/".join(parts[1:at]), parts[at + 1])
    rel = "/".join(parts[at + 2 :])
    return manifest is not None and manifest.file(rel) is not None


def live_pins(cache: Cache, *, remove_stale: bool = False) -> LivePins:
    """The blobs and snapshots that live pulls need; pins of dead owners optionally removed."""
    pins = LivePins()
    if not cache.pins_dir.is_dir():
        return pins
    for item in os.scandir(cache.pins_dir):
        if not item.name.endswith(".json"):
            continue
        owner = item.name.split(".")[0]
        if not cache.owner_alive(owner):
            if remove_stale:
                Path(item.path).unlink(missing_ok=True)
            continue
        try:
            record = json.loads(Path(item.path).read_bytes())
            store_id, name, version = record["snapshot"]
            pins.snapshots.add((str(store_id), str(name), str(version)))
            pins.blobs.update(str(sha) for sha in record["blobs"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # finished and removed while we read, or not ours
    return pins


def remove_dead_owners(cache: Cache) -> None:
    """Delete the owner lock files of processes that are gone."""
    if not cache.owners_dir.is_dir():
        return
    for item in os.scandir(cache.owners_dir):
        if item.name.endswith(".lock"):
            cache.owner_alive(item.name[: -len(".lock")], remove_if_dead=True)
