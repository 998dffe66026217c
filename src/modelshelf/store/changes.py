"""The store's log: every audit record of every asset, in the order they were written.

```
assets/<name>/log/<ID>.json   the asset's audit record (modelshelf log NAME reads these)
log/<ID>.json                 the same bytes, once more, at the top of the store
```
``ID`` is ``<YYYYMMDDTHHMMSS.ffffffZ>-<12 hex>``: keys sort by the time they were written, so a
reader follows the whole store by listing ``log/`` from its last ID (one listing from an offset
on S3, GCS and Azure) instead of listing every asset. The registry's pages keep their catalog
current this way, and its webhooks deliver from it.

Writers stamp IDs with their own clocks and a record lands a little after its stamp: a record
may appear *behind* one already read. :class:`ChangeFollower` therefore re-reads a window of
``settle_seconds`` behind the newest time it has seen and returns each record once; the cursor
it calls :attr:`~ChangeFollower.settled` only passes records older than that window. The window
must exceed the clock skew between writers plus the longest write (30 s by default).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from modelshelf import trust
from modelshelf.errors import ObjectNotFoundError
from modelshelf.store._shared import KeyLayout

__all__ = ["LOG_PREFIX", "Change", "ChangeFollower", "ChangeLog", "ChangeSource", "log_id"]

log = logging.getLogger("modelshelf.store")

LOG_PREFIX = "log"
"""The store's log: ``log/<ID>.json`` at the top of the store."""

_ID = re.compile(r"\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{12}")
_KEY = re.compile(rf"{LOG_PREFIX}/({_ID.pattern})\.json")


def log_id(when: str, unique: str) -> str:
    """The ID of a record written at ``when`` (ISO 8601 with microseconds and ``Z``).

    Example:
        >>> log_id("2026-12-08T00:15:00.123456Z", "0123456789ab")
        '20261208T001500.123456Z-0123456789ab'
    """
    return f"{when.replace(':', '').replace('-', '')}-{unique}"


def _stamp(moment: float) -> str:
    """The ID prefix of the time ``moment`` (seconds since the epoch)."""
    text = datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return text.replace(":", "").replace("-", "")


@dataclass(frozen=True)
class Change:
    """One write to the store, as its audit record says."""

    id: str
    record: dict[str, Any]

    @property
    def name(self) -> str:
        """The asset written."""
        return str(self.record["name"])

    @property
    def action(self) -> str:
        """``push``, ``alias``, ``remove``, ``label``, ``copy``, ``repair``, ..."""
        return str(self.record["action"])


class ChangeSource(Protocol):
    """What :class:`ChangeFollower` reads: a store with a log."""

    def changes(
        self, after: str = "", limit: int = 1000, known: Collection[str] = ()
    ) -> list[Change]: ...


class ChangeLog(KeyLayout):
    """Writing and reading the store's log (mixed into the bucket
    :class:`~modelshelf.store.bucket.Store`)."""

    def _write_store_log(self, record_id: str, body: bytes) -> None:
        """Write an audit record's bytes once more, in the store's log."""
        self.backend.put(f"{LOG_PREFIX}/{record_id}.json", body, mode="create")

    def changes(
        self, after: str = "", limit: int = 1000, known: Collection[str] = ()
    ) -> list[Change]:
        """The records of the store's log whose IDs sort after ``after``, oldest first, at
        most ``limit``, leaving out the IDs in ``known`` (a follower's settle window: listed
        again, never read again).

        A record that is not what modelshelf writes (not JSON, not an audit record of a valid
        asset name) is skipped with a warning: one forged record must not stop every reader of
        the log after it. The asset's own log (``modelshelf log``) still refuses it.
        """
        changes: list[Change] = []
        start = f"{LOG_PREFIX}/{after}.json" if after else ""
        for meta in self.backend.list_after(LOG_PREFIX, start):
            match = _KEY.fullmatch(meta.path)
            if match is None or match.group(1) in known:
                continue  # not a record, or one the caller has read already (not read again)
            try:
                raw = self._read_bounded(meta.path, trust.MAX_RECORD_BYTES, "a log record")
                data = trust.loads_json(raw)
                name = data.get("name") if isinstance(data, dict) else None
                if not isinstance(name, str) or not trust.is_name(name):
                    raise ValueError(f"it names no asset ({trust.show(name, 80)})")
                record = trust.check_log_record(data, name=name)
            except ObjectNotFoundError:
                continue  # deleted while we listed
            except (ValueError, RecursionError) as exc:
                log.warning(
                    "skipping %s in %s: not a modelshelf log record: %s", meta.path, self.url, exc
                )
                continue
            changes.append(Change(match.group(1), record))
            if len(changes) >= limit:
                break
        return changes


class ChangeFollower:
    """Follows the store's log: :meth:`poll` returns each record once, in ID order, including
    records that land after newer ones were read (within ``settle_seconds``).

    Args:
        start: return only records with IDs after this one (a cursor a consumer persisted).
        settle_seconds: how far behind the reader's clock a record may still land.
        clock: seconds since the epoch (tests move it).
    """

    def __init__(
        self,
        store: ChangeSource,
        *,
        start: str = "",
        settle_seconds: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.settle_seconds = settle_seconds
        self._clock = clock
        self._settled = start
        self._seen: set[str] = set()

    @property
    def settled(self) -> str:
        """Every record with an ID up to this one has been returned by :meth:`poll` (and no
        record can still land before it): the cursor a consumer may persist."""
        return self._settled

    def poll(self, limit: int = 10_000) -> list[Change]:
        """The records not returned before, oldest first (at most ``limit``)."""
        horizon = _stamp(self._clock() - self.settle_seconds)
        fresh: list[Change] = []
        after = self._settled
        while True:
            page = self.store.changes(after, 1000, self._seen)
            fresh.extend(page)
            if len(page) < 1000 or len(fresh) >= limit:
                break
            after = page[-1].id
        fresh = fresh[:limit]
        self._seen.update(c.id for c in fresh)
        # Records stamped before the horizon can no longer land: the cursor may pass them.
        passed = [i for i in self._seen if i < horizon]
        if passed and len(fresh) < limit:
            self._settled = max(self._settled, max(passed))
            self._seen = {i for i in self._seen if i > self._settled}
        return fresh
