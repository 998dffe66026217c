"""A removed version's records: the ``.removed`` record and the tombstone over its manifest.

Pure data, no I/O; ``modelshelf.store`` writes and reads them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

__all__ = ["TOMBSTONE", "Removal", "is_tombstone"]

TOMBSTONE = "modelshelf-removed"
"""The first key of the body that replaces a removed version's manifest."""


@dataclass(frozen=True)
class Removal:
    """The record of a removed version: who removed it, when, and why."""

    name: str
    version: str
    who: str
    host: str
    when: str
    message: str = ""

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, indent=2).encode() + b"\n"

    def describe(self) -> str:
        """``removed by ann@host at <time> ('why')``, for messages."""
        why = f" ({self.message!r})" if self.message else ""
        return f"removed by {self.who}@{self.host} at {self.when}{why}"


def is_tombstone(raw: bytes) -> bool:
    """True if a manifest key holds the tombstone of a removed version."""
    if TOMBSTONE.encode() not in raw[:200]:
        return False
    try:
        data = json.loads(raw)
    except ValueError:
        return False
    return isinstance(data, dict) and TOMBSTONE in data
