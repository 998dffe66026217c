"""Garbage collection of a store: delete the blobs that no live manifest references.

Orphan blobs come from killed pushes (blobs uploaded, no manifest committed) and from removed
versions. A concurrent push or copy must never lose a blob, so the order matters:

1. list the blobs, and the quarantines an earlier gc left (it was killed, or still runs);
2. then list and read every live manifest (removed versions' tombstones are skipped);
3. keep every referenced blob and every blob younger than the grace period (a push in
   progress uploads its blobs before its manifest);
4. just before deleting, list the manifests again and read the new ones; put back from the
   earlier quarantines every blob a version uses and lacks;
5. move each blob to delete into this run's quarantine (``gc/<run>/sha256/...``: copy, then
   delete from ``blobs/``);
6. list the manifests a last time and put back every quarantined blob a new version uses (a
   writer that found it present and committed before this listing); only then delete the
   rest of the quarantine.

A writer commits (C), then looks its reused blobs up again (P) and restores any gone. If P
comes after the move's delete (D), the writer restores the blob; if not, C < P < D < the last
listing, which sees the version and puts the blob back. Either way no version stays without
its blob. See "Removal and garbage collection" in docs/design-notes.md.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from modelshelf.backends.base import ObjectMeta
from modelshelf.constants import DEFAULT_GRACE
from modelshelf.errors import (
    IntegrityError,
    InvalidInputError,
    InvalidManifestError,
    ModelshelfError,
    ObjectNotFoundError,
    VersionNotFoundError,
)
from modelshelf.store.api import MaintainedStore
from modelshelf.transfer.download import run_concurrently

__all__ = ["DEFAULT_GRACE", "GcReport", "collect_garbage", "parse_grace"]

logger = logging.getLogger("modelshelf")

# A quarantine another gc left is emptied only once this old (or the grace period, if longer):
# until then that gc may still run and need it to put blobs back.
QUARANTINE_KEEP = timedelta(hours=1)
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
        restored: versions whose blob gc put back from a quarantine (committed while this gc
            ran, or while an earlier one that was killed did).
        broken: versions that use a blob gc could not put back (it stays in the quarantine).
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
    restored: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["grace"] = int(self.grace.total_seconds())
        data["deleted"] = list(self.deleted)
        data["broken"] = list(self.broken)
        data["restored"] = list(self.restored)
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
        InvalidManifestError: a manifest cannot be read; nothing was deleted for good.
    """
    if grace <= timedelta(0) and not dry_run:
        logger.warning(
            "gc with no grace period can delete the blobs of a push in progress;"
            " run it only when no push is running"
        )
    now = now or datetime.now(UTC)
    run = f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(6)}"
    blobs = dict(store.blobs())  # 1. blobs first, so a blob of a later push is not seen at all
    leftovers = list(store.quarantined())
    refs = _references(store, set())  # 2. then every live manifest
    referenced = set().union(*refs.values()) if refs else set()
    cutoff = now - grace
    candidates = {sha: meta for sha, meta in blobs.items() if sha not in referenced}
    dated = {sha: _utc(m.last_modified) for sha, m in candidates.items() if m.last_modified}
    old = {sha: blobs[sha] for sha, when in dated.items() if when < cutoff}
    if old or leftovers:  # 4. versions committed while we read: their blobs stay
        newer = _references(store, set(refs))
        refs.update(newer)
        for shas in newer.values():
            for sha in shas:
                old.pop(sha, None)
    restored: set[str] = set()
    broken: set[str] = set()
    if leftovers and not dry_run:
        keep_from = now - max(grace, QUARANTINE_KEEP)
        _recover(store, leftovers, refs, keep_from, restored, broken)
    deleted = dict(old)
    if old and not dry_run:
        deleted = _delete(store, run, old, refs, restored, broken)
    return GcReport(
        dry_run=dry_run,
        grace=grace,
        blobs=len(blobs),
        referenced=len(blobs) - len(candidates),
        young=len(dated) - len(old),
        undated=len(candidates) - len(dated),
        deleted=tuple(sorted(deleted)),
        deleted_bytes=sum(meta.size for meta in deleted.values()),
        versions=len(refs),
        broken=tuple(sorted(broken)),
        restored=tuple(sorted(restored - broken)),
    )


def _delete(
    store: MaintainedStore,
    run: str,
    old: dict[str, ObjectMeta],
    refs: dict[tuple[str, str], set[str]],
    restored: set[str],
    broken: set[str],
) -> dict[str, ObjectMeta]:
    """Steps 5 and 6: move ``old`` to the quarantine of ``run``, put back what a version
    committed meanwhile uses, delete the rest; the blobs deleted for good."""

    def move(sha: str) -> str | None:
        try:
            store.quarantine_blob(sha, run)
        except ObjectNotFoundError:
            return None  # gone already (another gc): not ours to put back or delete
        return sha

    moved = {sha for sha in run_concurrently(move, sorted(old)) if sha is not None}
    count = f"{len(moved)} blob{'s' if len(moved) != 1 else ''}"
    done = (
        f"after deleting {count} (kept in {store.url}/gc/{run}/; the next gc puts back"
        " what a version uses)"
    )
    latest = _references(store, set(refs), done)  # 6. committed before this listing?
    users = _users(latest, moved)
    kept = _put_back(store, run, users, {sha: old[sha].size for sha in users}, restored, broken)
    run_concurrently(lambda sha: store.drop_quarantined(sha, run), sorted(moved - kept))
    return {sha: old[sha] for sha in sorted(moved - users.keys())}  # put back: not deleted


def _recover(
    store: MaintainedStore,
    leftovers: list[tuple[str, str, ObjectMeta]],
    refs: dict[tuple[str, str], set[str]],
    keep_from: datetime,
    restored: set[str],
    broken: set[str],
) -> None:
    """Step 4: put back from an earlier run's quarantine every blob a version uses and lacks,
    then empty the quarantines older than ``keep_from``."""
    by_run: dict[str, dict[str, ObjectMeta]] = {}
    for run, sha, meta in leftovers:
        by_run.setdefault(run, {})[sha] = meta
    for run, held in sorted(by_run.items()):
        users = _users(refs, set(held))
        lacking = {
            sha: names for sha, names in users.items() if not store.has_blob(sha, held[sha].size)
        }
        sizes = {sha: held[sha].size for sha in lacking}
        why = "uses a blob that a gc stopped midway left in its quarantine"
        kept = _put_back(store, run, lacking, sizes, restored, broken, why)
        stale = [
            sha
            for sha, meta in held.items()
            if sha not in kept and meta.last_modified and _utc(meta.last_modified) < keep_from
        ]
        for sha in stale:  # rare: the leftovers of a gc that was killed
            store.drop_quarantined(sha, run)


def _users(refs: dict[tuple[str, str], set[str]], shas: Iterable[str]) -> dict[str, list[str]]:
    """For each of ``shas`` that a version uses, the versions (``name:version``) using it."""
    wanted = set(shas)
    users: dict[str, list[str]] = {}
    for (name, version), used in sorted(refs.items()):
        for sha in used & wanted:
            users.setdefault(sha, []).append(f"{name}:{version}")
    return users


def _put_back(
    store: MaintainedStore,
    run: str,
    users: dict[str, list[str]],
    sizes: dict[str, int],
    restored: set[str],
    broken: set[str],
    why: str = "was committed while gc ran and uses a blob gc was deleting",
) -> set[str]:
    """Put each blob of ``users`` back from ``run``'s quarantine; the ones to keep there
    (they could not be put back for a reason other than their own bytes)."""
    where = f"{store.url}/gc/{run}/"

    def one(sha: str) -> str | None:
        try:
            store.restore_blob(sha, run, sizes[sha])
        except ModelshelfError as exc:
            broken.update(users[sha])
            logger.warning(
                "%s use%s blob %s, which gc could not put back from %s (%s); run"
                " `modelshelf gc` again, or `modelshelf repair SPEC --from DIR` to repair it",
                ", ".join(users[sha]), "s" if len(users[sha]) == 1 else "",
                sha, where, exc,
            )  # fmt: skip
            return None if isinstance(exc, IntegrityError | ObjectNotFoundError) else sha
        restored.update(users[sha])
        for spec in users[sha]:
            logger.warning("%s %s; gc put it back", spec, why)
        return None

    found: Callable[[str], str | None] = one
    return {sha for sha in run_concurrently(found, sorted(users)) if sha is not None}


def _utc(when: datetime) -> datetime:
    """A store's time, naive ones (custom backends) taken as UTC."""
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
