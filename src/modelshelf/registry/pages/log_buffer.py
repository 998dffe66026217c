"""The store-log records the catalog keeps for the log page: only the fields the page (and its
JSON twin) show, each bounded, and the whole buffer bounded by records and by bytes.

Writers choose what a record holds (a push's message is up to 64 KiB): kept whole, 100,000
records could hold gigabytes. The oldest records go first; the log page's ``asset`` filter
reads that asset's own log from the store, so nothing is lost for good.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

__all__ = ["LOG_FIELDS", "LogBuffer", "kept_record"]

LOG_FIELDS = (
    "when", "action", "name", "version", "user", "host", "via", "alias", "previous",
    "message", "files", "labels", "source", "seq",
)  # fmt: skip
"""The fields of a record the log page shows (the others are left out of the buffer)."""
MAX_FIELD = 200
"""The most characters of one kept field (a longer text is cut, ``…`` says so)."""
_OVERHEAD = 300  # the dict and the tuple, roughly (measured: a push record kept, ~850 B)
_PER_FIELD = 50  # a str object's header


def kept_record(record: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The part of ``record`` the log page shows, bounded; and its size in bytes, roughly."""
    kept: dict[str, Any] = {}
    size = _OVERHEAD
    for key in LOG_FIELDS:
        if key not in record:
            continue
        value = record[key]
        if not (value is None or isinstance(value, str | int | float | bool)):
            text = json.dumps(value, ensure_ascii=False, default=str)
            value = value if len(text) <= MAX_FIELD else text  # e.g. labels: a dict if short
        if isinstance(value, str) and len(value) > MAX_FIELD:
            value = value[: MAX_FIELD - 1] + "…"
        kept[key] = value
        size += len(key) + len(str(value)) + _PER_FIELD
    return kept, size


class LogBuffer:
    """The newest records, oldest first, at most ``max_records`` of them and about
    ``max_bytes`` in all.

    Args:
        max_records: the most records kept.
        max_bytes: the most bytes (as :func:`kept_record` counts them) kept.
    """

    def __init__(self, max_records: int, max_bytes: int) -> None:
        self.max_records = max_records
        self.max_bytes = max_bytes
        self._entries: deque[tuple[str, dict[str, Any], int]] = deque()
        self.size = 0

    def extend(self, records: list[tuple[str, dict[str, Any]]]) -> None:
        """Add ``(change id, record)`` pairs (newest last); drop the oldest past the bounds."""
        for change_id, record in records:
            kept, size = kept_record(record)
            self._entries.append((change_id, kept, size))
            self.size += size
        while self._entries and (
            len(self._entries) > self.max_records or self.size > self.max_bytes
        ):
            self.size -= self._entries.popleft()[2]

    def records(self) -> list[tuple[str, dict[str, Any]]]:
        """The kept records, oldest first, as ``(change id, record)``."""
        return [(change_id, record) for change_id, record, _ in self._entries]

    def __len__(self) -> int:
        return len(self._entries)
