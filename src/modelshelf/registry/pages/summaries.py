"""What the catalog keeps of each version and asset: summaries bounded in what writers sent
(a one-line message to show, a bounded search text), and the parts of an asset that could not
be read (shown as warnings, the rest of the asset still listed)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from modelshelf.errors import (
    AssetNotFoundError,
    ModelshelfError,
    ObjectNotFoundError,
    StoreAuthError,
    StoreUnavailableError,
)
from modelshelf.manifest import Manifest

__all__ = [
    "MAX_SEARCHED_CARD",
    "MAX_SEARCHED_MESSAGE",
    "MAX_SHOWN_MESSAGE",
    "AssetSummary",
    "VersionSummary",
    "engine_of",
    "one_line",
    "read_part",
]

log = logging.getLogger("modelshelf.registry")
T = TypeVar("T")

MAX_SHOWN_MESSAGE = 200
"""The most characters of a version's message (its first line) the catalog keeps to show."""
MAX_SEARCHED_MESSAGE = 4096
"""The most characters of a version's message a text search looks in."""
MAX_SEARCHED_CARD = 16384
"""The most characters of an asset's newest card a text search looks in."""


def engine_of(manifest: Manifest) -> str:
    """The engine a version's model section names, or ``""``."""
    section = manifest.extra.get("model")
    engine = section.get("engine") if isinstance(section, dict) else None
    return engine if isinstance(engine, str) else ""


@dataclass(frozen=True, slots=True)
class VersionSummary:
    """What the asset page and search need of a version (its manifest, without the files).

    The catalog holds one for every live version, so it keeps what writers sent only bounded:
    ``message`` is the message's first line cut to :data:`MAX_SHOWN_MESSAGE` characters (the
    version page shows it whole, from the manifest), ``search`` its first
    :data:`MAX_SEARCHED_MESSAGE` characters lowercased (what a text search looks in).
    """

    version: str
    created: str
    author: str
    message: str
    size: int
    files: int
    engine: str
    search: str = ""

    @classmethod
    def of(cls, manifest: Manifest) -> VersionSummary:
        return cls(
            manifest.version,
            manifest.created,
            manifest.author[:MAX_SHOWN_MESSAGE],
            one_line(manifest.message),
            manifest.size,
            len(manifest.files),
            engine_of(manifest)[:MAX_SHOWN_MESSAGE],
            manifest.message[:MAX_SEARCHED_MESSAGE].lower(),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "created": self.created,
            "author": self.author,
            "message": self.message,
            "size": self.size,
            "files": self.files,
            "engine": self.engine,
        }


def one_line(text: str, limit: int = MAX_SHOWN_MESSAGE) -> str:
    """The first line of ``text``, cut to ``limit`` characters (``…`` says it was cut)."""
    line, _, rest = text.strip().partition("\n")
    line = line.strip()
    if len(line) > limit:
        return line[: limit - 1] + "…"
    return line + (" …" if rest.strip() and len(line) < limit - 1 else "")


@dataclass
class AssetSummary:
    """One asset as the catalog knows it: live versions (newest first), aliases, notes, and
    the newest version's card as searched (lowercased, its first :data:`MAX_SEARCHED_CARD`
    characters)."""

    name: str
    versions: list[VersionSummary]
    aliases: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    description: str = ""
    card: str = ""  # the newest version's README.md or MODEL_CARD.md, for search
    problems: tuple[tuple[str, ModelshelfError], ...] = ()
    """The parts that could not be read (``("notes", error)``): left empty, the rest shown."""
    version_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    """The labels of each live version that has some (``stage=production`` is a version's)."""

    def has_label(self, key: str, value: str | None) -> bool:
        """True if the asset, or one of its live versions, has label ``key`` (``=value``)."""
        return any(
            key in labels and (value is None or labels[key] == value)
            for labels in (self.labels, *self.version_labels.values())
        )

    def has_text(self, needle: str) -> bool:
        """True if ``needle`` (lowercase) is in a version's message, the description or the
        card (their searched parts)."""
        return (
            needle in self.card
            or needle in self.description.lower()
            or any(needle in v.search for v in self.versions)
        )

    @property
    def newest(self) -> VersionSummary | None:
        return self.versions[0] if self.versions else None

    @property
    def last_push(self) -> str:
        return max((v.created for v in self.versions), default="")

    def aliases_of(self, version: str) -> list[str]:
        return sorted(a for a, v in self.aliases.items() if v == version)


def read_part(
    problems: list[tuple[str, ModelshelfError]], part: str, read: Callable[[], T], empty: T
) -> T:
    """``read()``, or ``empty`` with ``(part, error)`` added to ``problems`` when the store
    holds something unreadable there; a removed version (gone since the listing) is left out
    silently; a store that fails is raised (the caller retries)."""
    try:
        return read()
    except (StoreUnavailableError, StoreAuthError):
        raise
    except (ObjectNotFoundError, AssetNotFoundError):
        return empty
    except ModelshelfError as exc:
        log.warning("the catalog shows an asset without its %s: %s", part, exc)
        problems.append((part, exc))
        return empty
