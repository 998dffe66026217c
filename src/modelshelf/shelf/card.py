"""A version's card: the Markdown of its ``MODEL_CARD.md`` or ``README.md``, read through the store.

The card is a file of the version like any other, so it is read as a pull reads a file: bounded
(:data:`MAX_CARD_BYTES`), and its bytes hashed against the manifest's sha256 before any of it is
used. Text that is not UTF-8 is shown with replacement characters rather than refused: a card is
for people to read. Rendering it (Markdown to sanitised HTML) is the pages' business.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from modelshelf.errors import IntegrityError
from modelshelf.manifest import FileEntry, Manifest
from modelshelf.shelf.diff import VersionDiff, diff_versions

if TYPE_CHECKING:
    from modelshelf.store.api import StoreLayout

__all__ = ["CARD_FILES", "MAX_CARD_BYTES", "card_entry", "diff_with_cards", "read_card"]

CARD_FILES = ("MODEL_CARD.md", "README.md")
"""The files at a version's root that are its card, the first one found wins."""
MAX_CARD_BYTES = 256 * 1024
"""The most bytes of a card that are read; a larger card is not shown (it can be pulled)."""


def card_entry(manifest: Manifest) -> FileEntry | None:
    """The file of ``manifest`` that is its card (``MODEL_CARD.md`` first), or ``None``."""
    by_path = {f.path: f for f in manifest.files if "/" not in f.path}
    for path in CARD_FILES:
        if path in by_path:
            return by_path[path]
    return None


def read_card(store: StoreLayout, manifest: Manifest) -> str | None:
    """The text of the version's card, or ``None`` when it has none.

    A card larger than :data:`MAX_CARD_BYTES` is not read: the text says so and how to get it.

    Raises:
        IntegrityError: the stored bytes are not the ones the manifest records.
        ObjectNotFoundError: the card's blob is missing from the store (``modelshelf verify``).

    Example:
        >>> # read_card(shelf.store, shelf.manifest("nlp/sentiment:1.3"))  -> "# Sentiment ..."
    """
    entry = card_entry(manifest)
    if entry is None:
        return None
    spec = f"{manifest.name}:{manifest.version}"
    if entry.size > MAX_CARD_BYTES:
        return (
            f"*{entry.path} takes {entry.size:,} bytes, more than the {MAX_CARD_BYTES // 1024}"
            f" KiB a card shows; read it with `modelshelf pull {spec}/{entry.path}`.*\n"
        )
    blob = store.open_blob(entry.sha256)
    raw = bytes(blob.read_range(0, entry.size)) if entry.size else b""
    actual = hashlib.sha256(raw).hexdigest()
    if len(raw) != entry.size or actual != entry.sha256:
        raise IntegrityError(entry.path, entry.sha256, actual, where=f"{spec} in {blob.where}")
    return raw.decode("utf-8", errors="replace")


def diff_with_cards(store: StoreLayout, a: Manifest, b: Manifest) -> VersionDiff:
    """:func:`~modelshelf.shelf.diff.diff_versions` of ``a`` and ``b`` with their cards read
    through ``store`` (a card both versions hold as the same blob is read once)."""
    entry_a, entry_b = card_entry(a), card_entry(b)
    card_a = read_card(store, a)
    if entry_a and entry_b and (entry_a.sha256, entry_a.size) == (entry_b.sha256, entry_b.size):
        return diff_versions(a, b, card_a, card_a)
    return diff_versions(a, b, card_a, read_card(store, b))
