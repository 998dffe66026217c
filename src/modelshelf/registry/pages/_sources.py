"""What the pages read that other parts of issue 24 own: notes, cards, diffs, the store's log.

One place that names them, so the page code reads one way whatever is merged yet.
"""

from __future__ import annotations

from typing import Any

from modelshelf.manifest import Manifest
from modelshelf.store.bucket import Store

try:  # H1 (notes): merged from t24-notes
    from modelshelf.store.notes import Notes
except ImportError:  # pragma: no cover - until the merge
    from dataclasses import dataclass, field

    @dataclass(frozen=True)
    class Notes:  # type: ignore[no-redef]
        labels: dict[str, str] = field(default_factory=dict)
        description: str = ""
        seq: int = 0
        who: str = ""
        host: str = ""
        when: str = ""


__all__ = ["Notes", "card_of", "changes_after", "follower", "notes_history", "read_notes"]


def read_notes(store: Store, name: str, version: str | None = None) -> Notes:
    reader = getattr(store, "read_notes", None)
    return Notes() if reader is None else reader(name, version)  # type: ignore[no-any-return]


def notes_history(store: Store, name: str, version: str | None = None) -> list[Notes]:
    reader = getattr(store, "notes_history", None)
    return [] if reader is None else list(reader(name, version))


def card_of(store: Store, manifest: Manifest) -> str | None:
    try:
        from modelshelf.shelf.card import read_card
    except ImportError:  # pragma: no cover - until the merge
        return None
    return read_card(store, manifest)  # type: ignore[no-any-return]


def changes_after(store: Store, after: str, limit: int = 1000) -> list[Any]:
    reader = getattr(store, "changes", None)
    return [] if reader is None else list(reader(after=after, limit=limit))


def follower(store: Store, start: str = "") -> Any:
    try:
        from modelshelf.store.changes import ChangeFollower
    except ImportError:  # pragma: no cover - until the merge
        return None
    return ChangeFollower(store, start=start)
