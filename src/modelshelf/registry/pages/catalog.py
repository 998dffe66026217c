"""The catalog: an in-memory index of every asset, so that search and the front page never list
the store while a person waits.

Built at start in the background (manifests read with a few threads; a manifest never changes,
so its summary is kept forever), then kept current from the store-wide log: a
``ChangeFollower`` polled every :data:`POLL_EVERY` seconds, and before a page when the last
poll is older than :data:`STALE_AFTER`; each change marks its asset, and a marked asset is
read again (versions, aliases, notes, the newest card), which is right whatever order the
changes come in. A full re-sync every :data:`RESYNC_EVERY` seconds catches anything missed.
While the first build runs, pages say how far it got (``indexed 4,211 of 10,000 versions``).

The catalog holds everything the store holds: every reader filters by the caller's scopes
before counting (:mod:`modelshelf.registry.pages.search`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Any

from modelshelf.errors import ModelshelfError, ObjectNotFoundError
from modelshelf.manifest import Manifest
from modelshelf.registry.pages.log_buffer import LogBuffer
from modelshelf.registry.pages.summaries import (
    MAX_SEARCHED_CARD,
    MAX_SEARCHED_MESSAGE,
    MAX_SHOWN_MESSAGE,
    AssetSummary,
    VersionSummary,
    engine_of,
    one_line,
    read_part,
)
from modelshelf.shelf.card import read_card
from modelshelf.spec import Version
from modelshelf.store.bucket import Store
from modelshelf.store.changes import Change, ChangeFollower
from modelshelf.transfer.download import run_concurrently

__all__ = [
    "MAX_SEARCHED_MESSAGE",
    "MAX_SHOWN_MESSAGE",
    "AssetSummary",
    "Catalog",
    "VersionSummary",
    "engine_of",
    "one_line",
]

log = logging.getLogger("modelshelf.registry")

POLL_EVERY = 2.0
STALE_AFTER = 1.0
REFRESH_WAIT = 0.1
RESYNC_EVERY = 600.0
READ_THREADS = 8
MAX_LOG_RECORDS = 100_000
"""The most store-log records kept for the log page (the newest); older ones are read per
asset (the asset filter reads that asset's own log)."""
MAX_LOG_BYTES = 32 << 20
"""The most bytes of store-log records kept for the log page (each record's fields bounded:
:mod:`~modelshelf.registry.pages.log_buffer`)."""
_LOG_PAGE = 10_000
_CACHED_MANIFESTS = 64
_CACHED_CARDS = 256


class Catalog:
    """The index of one store, for one process.

    Args:
        store: the bucket store the registry serves.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._assets: dict[str, AssetSummary] = {}
        self._summaries: dict[tuple[str, str], VersionSummary] = {}
        self._manifests: OrderedDict[tuple[str, str], Manifest] = OrderedDict()
        self._cards: OrderedDict[tuple[str, str], str | None] = OrderedDict()
        self._log = LogBuffer(MAX_LOG_RECORDS, MAX_LOG_BYTES)
        self._pushers: dict[str, dict[str, str]] = {}
        self._follower: ChangeFollower | None = None
        self.total = 0
        self.indexed = 0
        self.ready = False
        self.build_seconds: float | None = None
        self._last_poll = 0.0
        self._last_sync = 0.0
        self._started = False
        self._poll_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._wake = threading.Event()
        self._polled = threading.Condition()
        self._generation = 0

    # -- what pages read -------------------------------------------------------------------------
    def assets(self) -> list[AssetSummary]:
        with self._lock:
            return list(self._assets.values())

    def asset(self, name: str) -> AssetSummary | None:
        with self._lock:
            return self._assets.get(name)

    def log_records(self) -> list[tuple[str, dict[str, Any]]]:
        """The store-log records seen, oldest first, as ``(change id, record)``."""
        with self._lock:
            return self._log.records()

    def pushers(self, name: str) -> dict[str, str]:
        """Who pushed each version of ``name``, as the store's log says (the registry writes
        the token's name there; a manifest's ``author`` is what the client claimed)."""
        with self._lock:
            return dict(self._pushers.get(name, {}))

    def _note_pushers(self, records: list[tuple[str, dict[str, Any]]]) -> None:
        for _, record in records:
            if record.get("action") in ("push", "copy") and isinstance(record.get("version"), str):
                who = f"{record.get('user', '?')}@{record.get('host', '?')}"[:MAX_SHOWN_MESSAGE]
                self._pushers.setdefault(str(record.get("name")), {})[record["version"]] = who

    def progress(self, sees_all: bool) -> str | None:
        """While the first build runs: ``indexed 4,211 of 10,000 versions`` for a caller who
        may read every name (``sees_all``); for any other, a note without numbers (they count
        the whole store, names the caller may not read too). ``None`` once built."""
        if self.ready:
            return None
        if not sees_all:
            return "some assets may be missing until it is done"
        return f"indexed {self.indexed:,} of {self.total:,} versions"

    def manifest(self, name: str, version: str, *, known_live: bool = False) -> Manifest:
        """A version's manifest, from the cache or the store.

        A manifest never changes, but a removal takes its version away: a cached one is used
        only while the version has no removal record (one small read), or when the caller has
        just listed it live (``known_live``). A removed version's entries are dropped.

        Raises:
            ObjectNotFoundError, VersionNotFoundError: as :meth:`Store.read_manifest`.
        """
        key = (name, version)
        with self._lock:
            cached = self._manifests.get(key)
        if cached is not None and (known_live or self.store.removal(name, version) is None):
            with self._lock:
                if key in self._manifests:
                    self._manifests.move_to_end(key)
            return cached
        if cached is not None:
            self.forget(name, version)  # removed: read_manifest below says so, with who and why
        manifest = self.store.read_manifest(name, version)
        with self._lock:
            self._manifests[key] = manifest
            while len(self._manifests) > _CACHED_MANIFESTS:
                self._manifests.popitem(last=False)
        return manifest

    def forget(self, name: str, version: str) -> None:
        """Drop what is cached of a version (it was removed)."""
        key = (name, version)
        with self._lock:
            self._manifests.pop(key, None)
            self._cards.pop(key, None)
            self._summaries.pop(key, None)

    def summary(self, name: str, version: str) -> VersionSummary:
        """The summary of a version the caller has just listed live."""
        with self._lock:
            found = self._summaries.get((name, version))
        if found is None:
            found = VersionSummary.of(self.manifest(name, version, known_live=True))
            with self._lock:
                self._summaries[(name, version)] = found
        return found

    def card(self, manifest: Manifest) -> str | None:
        """A version's card text (README.md or MODEL_CARD.md), cached: it is a blob, immutable."""
        key = (manifest.name, manifest.version)
        with self._lock:
            if key in self._cards:
                return self._cards[key]
        try:
            text = read_card(self.store, manifest)
        except (
            ModelshelfError
        ) as exc:  # a damaged blob: the page shows no card, says why in the log
            log.warning("the card of %s:%s is not shown: %s", manifest.name, manifest.version, exc)
            text = None
        with self._lock:
            self._cards[key] = text
            while len(self._cards) > _CACHED_CARDS:
                self._cards.popitem(last=False)
        return text

    # -- reading the store -----------------------------------------------------------------------
    def read_asset(self, name: str) -> AssetSummary | None:
        """Read one asset again from the store (versions, aliases, notes, card); ``None`` when
        it has no live version. Manifests already summarised are not read again.

        Each part is read on its own: one that cannot be read (a damaged or forged record) is
        left empty and named in :attr:`AssetSummary.problems`, so the asset stays listed and
        searchable. A store that fails (unreachable, refusing) fails the whole read.
        """
        versions = [str(v) for v in self.store.versions(name)]
        if not versions:
            return None
        problems: list[tuple[str, ModelshelfError]] = []  # appended from the read threads

        def summary(version: str) -> VersionSummary | None:
            return read_part(
                problems, f"version {version}", lambda: self.summary(name, version), None
            )

        found = run_concurrently(summary, versions, READ_THREADS)
        summaries = [s for s in found if s is not None]
        aliases: dict[str, str] = read_part(
            problems, "aliases",
            lambda: {a: r.version or "" for a, r in self.store.aliases(name).items()}, {},
        )  # fmt: skip
        notes = read_part(problems, "notes", lambda: self.store.read_notes(name), None)
        version_labels = self._version_labels(name, set(versions), problems)
        newest = read_part(
            problems, "card", lambda: self.manifest(name, versions[0], known_live=True), None
        )
        card = (self.card(newest) or "") if newest is not None else ""
        labels, description = (dict(notes.labels), notes.description) if notes else ({}, "")
        return AssetSummary(
            name, summaries, aliases, labels, description,
            card[:MAX_SEARCHED_CARD].lower(),  # what text search reads
            tuple(problems), version_labels,
        )  # fmt: skip

    def _version_labels(
        self, name: str, live: set[str], problems: list[tuple[str, ModelshelfError]]
    ) -> dict[str, dict[str, str]]:
        """The labels of each live version of ``name`` that has notes (one listing, then the
        newest record of each: most versions have none)."""
        noted: list[str] = read_part(
            problems, "version notes", lambda: self.store.noted_versions(name), []
        )

        def labels_of(version: str) -> tuple[str, dict[str, str]]:
            notes = read_part(
                problems, f"notes of {version}", lambda: self.store.read_notes(name, version), None
            )
            return version, dict(notes.labels) if notes is not None else {}

        found = run_concurrently(labels_of, [v for v in noted if v in live], READ_THREADS)
        return {version: labels for version, labels in found if labels}

    def build(self) -> None:
        """Index the whole store: every live version's summary, each asset's aliases, notes and
        card. Replaces the index when done; pages use the old one (or none) meanwhile. The first
        build reads the whole store log; a re-sync reads on from where the follower is."""
        with self._poll_lock:  # no poll meanwhile: the follower's changes are in this build
            self._build()

    def _build(self) -> None:
        started = time.monotonic()
        follower = self._follower or ChangeFollower(self.store)
        history: list[Change] = []
        while True:  # the store log since the follower's cursor, in pages
            page = follower.poll(_LOG_PAGE)
            history += page
            if len(page) < _LOG_PAGE:
                break
        pairs = sorted(self.store.live_versions())
        self.total, self.indexed = len(pairs), 0

        def summarise(pair: tuple[str, str]) -> VersionSummary | None:
            try:
                found = self.summary(*pair)
            except ObjectNotFoundError:
                return None  # removed since the listing
            except ModelshelfError as exc:
                log.warning("the catalog skips %s:%s: %s", pair[0], pair[1], exc)
                return None
            self.indexed += 1
            return found

        run_concurrently(summarise, pairs, READ_THREADS)
        names = sorted({name for name, _ in pairs})
        assets = run_concurrently(self._read_or_skip, names, READ_THREADS)
        seen = [(c.id, dict(c.record)) for c in history]
        with self._lock:
            self._assets = {a.name: a for a in assets if a is not None}
            self._log.extend(seen)
            self._note_pushers(seen)
            self._follower = follower
        self.ready = True
        self._last_sync = self._last_poll = time.monotonic()
        self.build_seconds = time.monotonic() - started
        log.info("catalog: %d versions of %d assets in %.1f s", len(pairs), len(names),
                 self.build_seconds)  # fmt: skip

    def _read_or_skip(self, name: str) -> AssetSummary | None:
        try:
            return self.read_asset(name)
        except ModelshelfError as exc:
            log.warning("the catalog skips %s: %s", name, exc)
            return None

    def poll(self) -> int:
        """Apply the store-log changes since the last poll; the number of changes seen."""
        with self._poll_lock:
            return self._poll()

    def _poll(self) -> int:
        self._last_poll = time.monotonic()
        follower = self._follower
        if follower is None:
            return 0
        changes = follower.poll()
        if not changes:
            return 0
        for change in changes:  # a removal takes the version's cached manifest and card away
            version = change.record.get("version")
            if change.record.get("action") == "remove" and isinstance(version, str):
                self.forget(change.name, version)
        dirty = sorted({c.name for c in changes})
        fresh = run_concurrently(self._read_or_skip, dirty, READ_THREADS)
        with self._lock:
            for name, asset in zip(dirty, fresh, strict=True):
                if asset is None:
                    self._assets.pop(name, None)
                else:
                    self._assets[name] = asset
            seen = [(c.id, dict(c.record)) for c in changes]
            self._log.extend(seen)
            self._note_pushers(seen)
        return len(changes)

    def touch(self, name: str) -> None:
        """Read ``name`` again now (after a write from a page: the next page shows it)."""
        asset = self._read_or_skip(name)
        with self._lock:
            if asset is None:
                self._assets.pop(name, None)
            else:
                self._assets[name] = asset

    def refresh_if_stale(self) -> None:
        """Before a page: when the last poll is older than :data:`STALE_AFTER` seconds, wake the
        catalog's thread to poll and wait for it up to :data:`REFRESH_WAIT` seconds. A poll is
        one listing, but it re-reads the records of the log's settle window, which after a burst
        of writes takes seconds: the page is never held for that, it shows what the catalog has.
        """
        with self._start_lock:
            running = self._started
        if not running:  # no lifespan ran: refresh in this request, start no thread of ours
            self._refresh_here()
            return
        if not self.ready or time.monotonic() - self._last_poll < STALE_AFTER:
            return
        with self._polled:
            generation = self._generation
            self._wake.set()
            self._polled.wait_for(lambda: self._generation > generation, timeout=REFRESH_WAIT)

    def _refresh_here(self) -> None:
        """Build or poll in the caller's thread, for an app whose lifespan never ran (a test
        client used without ``with``, an app embedded without one): a thread started here
        would poll the store for as long as the process lives, the app gone or not."""
        try:
            if not self.ready:
                self.build()
            elif time.monotonic() - self._last_poll >= STALE_AFTER:
                self.poll()
        except ModelshelfError as exc:
            log.warning("the catalog could not be brought up to date: %s", exc)

    def claim(self) -> bool:
        """Mark the catalog as run by the caller (the lifespan); False if it already runs."""
        with self._start_lock:
            if self._started:
                return False
            self._started = True
            return True

    def run(self, stop: threading.Event | None = None) -> None:
        """Build, then poll every :data:`POLL_EVERY` s (or when a page wakes it) and re-sync
        every :data:`RESYNC_EVERY` s, until ``stop`` is set (then call :meth:`wake`); errors
        are logged and retried, never raised."""
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                if not self.ready or time.monotonic() - self._last_sync > RESYNC_EVERY:
                    self.build()
                else:
                    self.poll()
            except Exception as exc:  # a background task must survive its own errors
                log.warning("the catalog failed (retried in %.0f s): %s", POLL_EVERY, exc)
            finally:
                with self._polled:
                    self._generation += 1
                    self._polled.notify_all()
            self._wake.wait(POLL_EVERY)
            self._wake.clear()

    def wake(self) -> None:
        """Make :meth:`run` poll now (or see that it must stop)."""
        self._wake.set()


def newest_first(versions: list[str]) -> list[str]:
    """Version texts sorted newest first."""
    return sorted(versions, key=Version.parse, reverse=True)
