"""Each hook's delivery log, in the store: one record per attempt, the newest kept.

```
registry/webhooks/<hook id>/deliveries/<ID>.json
    {id, delivery, hook, change, event, asset, attempt, status, error, duration_ms, at,
     next_try, outcome}
```
``ID`` sorts by time (as the store-wide log's ids). ``outcome`` is ``delivered`` (a 2xx),
``retrying`` (``next_try`` says when), ``given_up`` (a day of failures: the event is dropped)
or ``failed`` (a ``ping`` that failed; pings are not retried). ``status`` is the receiver's
HTTP status, or ``null`` when there was no answer (``error`` says why: a timeout, a refused
connection; never the URL, never a secret). :meth:`DeliveryLog.prune` keeps the last ``keep``
records of a hook and deletes the older ones.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from typing import Any

from modelshelf import trust
from modelshelf.errors import ObjectNotFoundError, StoreError, UntrustedStoreDataError
from modelshelf.registry.webhooks._records import MAX_LISTED, PREFIX, dumps, log_id, read_json
from modelshelf.store.bucket import Store

__all__ = ["OUTCOMES", "Attempt", "DeliveryLog"]

OUTCOMES = ("delivered", "retrying", "given_up", "failed")
KEEP = 1000
"""Delivery records kept per hook (the newest)."""
_MAX_SHOWN = 1000


@dataclass(frozen=True)
class Attempt:
    """One attempt to deliver one event to one hook."""

    delivery: str
    hook: str
    change: str
    event: str
    asset: str
    attempt: int
    status: int | None
    error: str | None
    duration_ms: float
    at: str
    next_try: str | None
    outcome: str

    @property
    def ok(self) -> bool:
        return self.outcome == "delivered"


class DeliveryLog:
    """The delivery records of every hook of a store.

    Args:
        store: the registry's store.
        keep: records kept per hook by :meth:`prune`.
    """

    def __init__(self, store: Store, keep: int = KEEP) -> None:
        self._backend = store.backend
        self._url = store.url
        self.keep = keep

    def _prefix(self, hook_id: str) -> str:
        return f"{PREFIX}/{hook_id}/deliveries"

    def record(self, attempt: Attempt) -> str:
        """Write one attempt's record; its id."""
        record_id = log_id(attempt.at)
        body = dumps({"id": record_id, **asdict(attempt)})
        self._backend.put(f"{self._prefix(attempt.hook)}/{record_id}.json", body, mode="create")
        return record_id

    def _keys(self, hook_id: str) -> list[str]:
        prefix = self._prefix(hook_id)
        listing = trust.bounded_listing(
            self._backend.list(prefix), MAX_LISTED, f"{self._url}/{prefix}/"
        )
        return sorted(m.path for m in listing if m.path.endswith(".json"))

    def newest(self, hook_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` records of a hook, newest first; damaged ones left out."""
        shown = []
        for key in reversed(self._keys(hook_id)[-max(1, min(limit, _MAX_SHOWN)) :]):
            try:
                shown.append(_checked(read_json(self._backend, key, self._url, 64 << 10)))
            except (ObjectNotFoundError, UntrustedStoreDataError, ValueError):
                continue  # pruned while we listed, or not ours
        return shown

    def prune(self, hook_id: str) -> int:
        """Delete all but the newest :attr:`keep` records of a hook; how many went."""
        old = self._keys(hook_id)[: -self.keep or None] if self.keep else self._keys(hook_id)
        for key in old:
            with contextlib.suppress(StoreError):
                self._backend.delete(key)
        return len(old)


_FIELDS: dict[str, tuple[type, ...]] = {
    "id": (str,), "delivery": (str,), "hook": (str,), "change": (str,), "event": (str,),
    "asset": (str,), "attempt": (int,), "status": (int, type(None)),
    "error": (str, type(None)), "duration_ms": (int, float), "at": (str,),
    "next_try": (str, type(None)), "outcome": (str,),
}  # fmt: skip


def _checked(data: object) -> dict[str, Any]:
    """A delivery record as the API shows it: each field of its type, texts one line."""
    if not isinstance(data, dict):
        raise ValueError("a delivery record must be an object")
    record = {}
    for name, kinds in _FIELDS.items():
        value = data.get(name)
        if not isinstance(value, kinds) or isinstance(value, bool):
            raise ValueError(f"the field {name} is not of its type")
        if isinstance(value, str):
            trust.check_text(value, name, limit=trust.MAX_LINE)
        record[name] = value
    if record["outcome"] not in OUTCOMES:
        raise ValueError("unknown outcome")
    return record
