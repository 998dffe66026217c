"""Which replica delivers: a lease record in the store, taken and renewed by compare-and-swap.

```
registry/webhooks/_lease/<NNNNNNNN>.json   {seq, holder, expires, when}; created only if absent
```
Every replica runs a dispatcher; only the holder of the lease delivers. To take or renew it a
replica reads the newest record and creates the next number: of two replicas racing for one
number exactly one succeeds (a create-only write, which every backend offers), so there is one
holder at a time. A record says until when it holds (``expires``, ``ttl`` seconds after it was
written); a replica takes the lease over only once the newest record has expired, or says
``holder: null`` (released: the holder stopped cleanly). The holder renews every ``ttl / 3``
seconds and stops delivering on its own once ``ttl - ttl / 3`` seconds have passed on its own
clock since its last renewal went through: a holder that cannot reach the store stops before
anyone may take over, as long as the replicas' clocks agree within ``ttl / 3`` (10 s with the
default 30 s; NTP keeps them far closer).

What a takeover costs: the new holder starts from each hook's persisted cursor, so events the
old one had sent but not yet recorded are sent again (with the same delivery id).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from modelshelf import trust
from modelshelf.errors import (
    ObjectExistsError,
    ObjectNotFoundError,
    StoreError,
    UntrustedStoreDataError,
)
from modelshelf.registry.webhooks._records import PREFIX, dumps, numbered, read_json
from modelshelf.registry.webhooks.signing import TIME_FORMAT
from modelshelf.store.bucket import Store, now_iso

__all__ = ["LEASE_PREFIX", "Lease", "replica_name"]

log = logging.getLogger("modelshelf.registry.webhooks")

LEASE_PREFIX = f"{PREFIX}/_lease"
_KEEP = 5


def replica_name() -> str:
    """This process among the replicas: host, pid and a random part (a pid may be reused)."""
    host = trust.escape_controls(socket.gethostname())[:100]
    return f"{host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    """The delivery lease, seen from one replica.

    Args:
        store: the registry's store.
        holder: this replica's name (:func:`replica_name`).
        ttl: seconds a lease record holds.
    """

    def __init__(self, store: Store, holder: str, ttl: float = 30.0) -> None:
        self._backend = store.backend
        self._url = store.url
        self.holder = holder
        self.ttl = ttl
        self._seq = 0
        self._until = 0.0  # monotonic: this replica delivers until then

    @property
    def renew_every(self) -> float:
        return self.ttl / 3

    def held(self) -> bool:
        """True while this replica may deliver (its last renewal is recent enough)."""
        return self._seq > 0 and time.monotonic() < self._until

    def _newest(self) -> tuple[int, dict[str, Any] | None]:
        seqs = numbered(self._backend, LEASE_PREFIX, self._url)
        if not seqs:
            return 0, None
        seq = seqs[-1]
        try:
            data = read_json(self._backend, f"{LEASE_PREFIX}/{seq:08d}.json", self._url)
        except (ObjectNotFoundError, UntrustedStoreDataError):
            return seq, None  # pruned under us, or not ours: taken over like an expired one
        return seq, data if isinstance(data, dict) else None

    def acquire(self) -> bool:
        """Take or renew the lease; True if this replica holds it now.

        Store failures count as not holding it (the caller tries again later).
        """
        started = time.monotonic()
        try:
            seq, record = self._newest()
            if record is not None and not self._may_take(seq, record):
                self._seq = 0
                return False
            if self._seq and seq != self._seq:
                log.warning("webhook lease: another replica took it over; this one stops")
                self._seq = 0
                return False
            expires = datetime.now(UTC) + timedelta(seconds=self.ttl)
            mine = {"seq": seq + 1, "holder": self.holder, "expires": expires.strftime(TIME_FORMAT),
                    "when": now_iso()}  # fmt: skip
            self._backend.put(f"{LEASE_PREFIX}/{seq + 1:08d}.json", dumps(mine), mode="create")
        except ObjectExistsError:
            self._seq = 0  # another replica took this number first
            return False
        except StoreError as exc:
            log.warning("webhook lease: the store failed (%s); trying again", exc)
            return self.held()
        if not self._seq:
            log.info("webhook lease taken by %s (seq %d): it delivers", self.holder, seq + 1)
        self._seq = seq + 1
        self._until = started + self.ttl - self.renew_every
        if seq + 1 > _KEEP:  # one older record goes with each new one: a few are kept
            with contextlib.suppress(StoreError):
                self._backend.delete(f"{LEASE_PREFIX}/{seq + 1 - _KEEP:08d}.json")
        return True

    def _may_take(self, seq: int, record: dict[str, Any]) -> bool:
        holder = record.get("holder")
        if holder is None or (holder == self.holder and seq == self._seq):
            return True
        try:
            expires = datetime.strptime(str(record.get("expires")), TIME_FORMAT)
        except ValueError:
            return True  # not a record we wrote: no one holds it
        return datetime.now(UTC) >= expires.replace(tzinfo=UTC)

    def release(self) -> None:
        """Give the lease up (a clean stop), so that another replica takes over at once."""
        if not self._seq:
            return
        seq, self._seq = self._seq, 0
        try:
            newest, record = self._newest()
            if newest != seq or record is None or record.get("holder") != self.holder:
                return
            gone = {"seq": seq + 1, "holder": None, "expires": now_iso(), "when": now_iso()}
            self._backend.put(f"{LEASE_PREFIX}/{seq + 1:08d}.json", dumps(gone), mode="create")
        except StoreError as exc:  # ObjectExistsError too: someone took it already
            log.info("webhook lease not released (%s): it expires on its own", exc)
