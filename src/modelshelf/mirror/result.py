"""The report of ``modelshelf.mirror``: :class:`MirrorResult`, what it did (or would do, dry)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelshelf.mirror.plan import MirrorItem

__all__ = ["MirrorResult"]


@dataclass(frozen=True)
class MirrorResult:
    """What a mirror did (or, for a dry run, would do).

    Attributes:
        url: the mirrored URL.
        dest: the destination folder.
        fetched, fetched_bytes: objects (and their bytes) fetched, or to fetch in a dry run.
        skipped, skipped_bytes: objects already present and unchanged.
        dry_run: nothing was written.
        plan: every object that passed the filters, with its action and reason, in key order.
    """

    url: str
    dest: Path
    fetched: int
    fetched_bytes: int
    skipped: int
    skipped_bytes: int
    dry_run: bool
    plan: tuple[MirrorItem, ...]

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready fields (``--json``)."""
        return {
            "url": self.url,
            "dest": str(self.dest),
            "dry_run": self.dry_run,
            "fetched": self.fetched,
            "fetched_bytes": self.fetched_bytes,
            "skipped": self.skipped,
            "skipped_bytes": self.skipped_bytes,
            "plan": [item.to_json() for item in self.plan],
        }
