"""Garbage collection of a store: delete the blobs that no live manifest references.

Orphan blobs come from killed pushes (blobs uploaded, no manifest committed) and from removed
versions. A concurrent push must never lose a blob, so the order matters:

1. list the blobs;
2. then list and read every live manifest (removed versions' tombstones are skipped);
3. keep every referenced blob and every blob younger than the grace period (a push in
   progress uploads its blobs before its manifest);
4. just before deleting, list the manifests again and read the new ones;
5. delete; then list the manifests a third time, and name any new version that references a
   deleted blob (a push that found an old orphan present and committed during the deletes;
   that push's own check after its commit uploads such a blob again).

See "Removal and garbage collection" in docs/design-notes.md for the remaining window.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from modelshelf.constants import DEFAULT_GRACE
from modelshelf.errors import (
    InvalidInputError,
    InvalidManifestError,
    ObjectNotFoundError,
    VersionNotFoundError,
)
from modelshelf.store_api import MaintainedStore
from modelshelf.transfer import run_concurrently

__all__ = ["DEFAULT_GRACE", "GcReport", "collect_garbage", "parse_grace"]

logger = logging.getLogger("modelshelf")

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_GRACE = re.compile(r"\s*(\d{1,9})\s*([smhd]?)\s*")


def parse_grace(text: str) -> timedelta:
    """``"24h"`` -> 24 hours; units ``s``, ``m``, ``h``, ``d``; ``"0"`` means no grace.

    Raises:
        InvalidInputError: the text is not a whole number with a unit (or ``0``).
    """
    match = _GRACE.fullmatch(text)
    if not match or (not match.group(2) and int(match.group(1)) != 0):
        raise InvalidInputError(
            f"grace {text!r} is not understood; write a whole number with a unit: 30m, 24h, 7d"
            " (or 0 for none)"
        )
    return timedelta(seconds=int(match.group(1)) * _UNITS.get(match.group(2), 0))


@dataclass(frozen=True)
class GcReport:
    """What a garbage collection found and deleted (or, with ``dry_run``, would delete).

    Attributes:
        blobs: blobs in the store when it started.
        referenced: of those, blobs a live manifest references.
        young: unreferenced blobs kept because they are younger than the grace period.
        undated: unreferenced blobs kept because the backend gives no modification time.
        deleted: sha256 of the blobs deleted (or that would be).
        deleted_bytes: their total size.
        versions: live versions read.
        broken: versions committed during the deletes that reference a deleted blob.
    """

    dry_run: bool
    grace: timedelta
    blobs: int
    referenced: int
    young: int
    deleted: tuple[str, ...]
    deleted_bytes: int
    versions: int
    broken: tuple[str, ...] = ()
    undated: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["grace"] = int(self.grace.total_seconds())
        data["deleted"] = list(self.deleted)
        data["broken"] = list(self.broken)
        return data


def _references(
    store: MaintainedStore, skip: set[tuple[str, str]], done: str = "before deleting anything"
) -> dict[tuple[str, str], set[str]]:
    """The blobs each live version not in ``skip`` references, read from its manifest.

    ``done`` says, for the error, how far gc got.

    Raises:
        InvalidManifestError: a manifest cannot be read: nothing may be deleted then, since
            its blobs are unknown.
    """
    wanted = sorted(store.live_versions() - skip)

    def read(version: tuple[str, str]) -> set[str] | None:
        try:
            manifest = store.read_manifest(*version)
        except (ObjectNotFoundError, VersionNotFoundError):
            return None  # removed since the listing: it references nothing now
        except InvalidManifestError as exc:
            name, number = version
            raise InvalidManifestError(
                f"gc stopped {done}: {exc}. Its blobs cannot be known;"
                f" repair that manifest or remove the version with `modelshelf rm {name}:{number}`"
            ) from exc
        return {entry.sha256 for entry in manifest.files}

    found = run_concurrently(read, wanted)
    return {v: refs for v, refs in zip(wanted, found, strict=True) if refs is not None}


def collect_garbage(
    store: MaintainedStore,
    *,
    grace: timedelta = DEFAULT_GRACE,
    dry_run: bool = False,
    now: datetime | None = None,
) -> GcReport:
    """Delete the blobs that no live version references and that are older than ``grace``.

    Args:
        grace: keep unreferenced blobs younger than this (by the store's ``last_modified``):
            they may belong to a push in progress. It should exceed the longest push and any
            clock skew between this machine and the store.
        dry_run: find them, delete nothing.
        now: the current time (tests pass their own).

    Raises:
        InvalidManifestError: a manifest cannot be read; nothing was deleted.
    """
    if grace <= timedelta(0) and not dry_run:
        logger.warning(
            "gc with no grace period can delete the blobs of a push in progress;"
            " run it only when no push is running"
        )
    now = now or datetime.now(UTC)
    blobs = dict(store.blobs())  # 1. blobs first, so a blob of a later push is not seen at all
    refs = _references(store, set())  # 2. then every live manifest
    referenced = set().union(*refs.values()) if refs else set()
    cutoff = now - grace
    candidates = {sha: meta for sha, meta in blobs.items() if sha not in referenced}
    dated = {sha: _utc(m.last_modified) for sha, m in candidates.items() if m.last_modified}
    old = {sha: blobs[sha] for sha, when in dated.items() if when < cutoff}
    if old:  # 4. versions committed while we read: their blobs stay
        newer = _references(store, set(refs))
        refs.update(newer)
        for shas in newer.values():
            for sha in shas:
                old.pop(sha, None)
    broken: list[str] = []
    if old and not dry_run:
        run_concurrently(store.delete_blob, sorted(old))
        done = f"after deleting {len(old)} blob{'s' if len(old) != 1 else ''}"
        latest = _references(store, set(refs), done)  # 5. committed during the deletes?
        broken = [f"{n}:{v}" for (n, v), shas in sorted(latest.items()) if shas & old.keys()]
        for spec in broken:
            logger.warning(
                "%s was committed while gc ran and uses a blob gc deleted; its push restores"
                " that blob, or push the same files again to repair it",
                spec,
            )
    return GcReport(
        dry_run=dry_run,
        grace=grace,
        blobs=len(blobs),
        referenced=len(blobs) - len(candidates),
        young=len(dated) - len(old),
        undated=len(candidates) - len(dated),
        deleted=tuple(sorted(old)),
        deleted_bytes=sum(meta.size for meta in old.values()),
        versions=len(refs),
        broken=tuple(broken),
    )


def _utc(when: datetime) -> datetime:
    """A store's time, naive ones (custom backends) taken as UTC."""
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
