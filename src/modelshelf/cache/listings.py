"""The last listings of asset names, versions and aliases per store, kept in the cache so that
shell completion never asks a store.

One small JSON file per store, ``<cache>/listings/<store-id>.json``::

    {"format": 1, "names": [...], "versions": {"nlp/x": ["1.1", "1.0"]}, "aliases": {...}}

It is written by commands that fetched the names anyway (``ls``, ``versions``, ``pull``,
``show``), atomically (a temporary file and a rename), and is bounded: at most
:data:`MAX_NAMES` names, versions and aliases for the :data:`MAX_DETAILED` names recorded last,
:data:`MAX_PER_NAME` of each. It is a hint, never a truth: reading it is lenient (anything
malformed, too large or not a valid name is left out), and neither reading nor writing it ever
fails the command that does it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelshelf import trust
from modelshelf._name_glob import name_matches
from modelshelf.cache.cache import atomic_write
from modelshelf.errors import ModelshelfError
from modelshelf.spec import MAX_ALIAS_LENGTH, MAX_NAME_LENGTH, Version

__all__ = [
    "MAX_DETAILED",
    "MAX_NAMES",
    "MAX_PER_NAME",
    "Listing",
    "read_listing",
    "record_names",
    "record_version",
    "record_versions",
]

logger = logging.getLogger(__name__)

MAX_NAMES = 10_000
"""Names kept per store (a store with more completes the first ones, in name order)."""
MAX_DETAILED = 200
"""Names whose versions and aliases are kept (the ones recorded last)."""
MAX_PER_NAME = 100
"""Versions (the newest) and aliases kept per name."""
_MAX_BYTES = 4 << 20  # larger than the bounds above allow: anything bigger is not ours
_FORMAT = 1
# What completion may offer: text of the spec grammar's characters only (so nothing a shell
# would read as more than a word). Names were checked in full at the store boundary when
# listed; this check is cheap enough to run on every completion (20,000 names: ~5 ms).
_NAME = re.compile(rf"[a-z0-9][a-z0-9._/-]{{0,{MAX_NAME_LENGTH - 1}}}")
_VERSION = re.compile(r"(?:0|[1-9][0-9]{0,17})(?:\.(?:0|[1-9][0-9]{0,17})){0,5}")
_ALIAS = re.compile(rf"[a-z][a-z0-9._-]{{0,{MAX_ALIAS_LENGTH - 1}}}")


@dataclass
class Listing:
    """What the cache last saw of one store: names sorted, versions newest first."""

    names: list[str] = field(default_factory=list)
    versions: dict[str, list[str]] = field(default_factory=dict)
    aliases: dict[str, list[str]] = field(default_factory=dict)


def _path(cache_root: Path, store_id: str) -> Path:
    return trust.inside(cache_root, "listings", f"{store_id}.json")


def read_listing(cache_root: Path, store_id: str) -> Listing:
    """The listing recorded for ``store_id``; empty when there is none or it is unusable."""
    try:
        path = _path(cache_root, store_id)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(_MAX_BYTES + 1)
        if len(data) > _MAX_BYTES:
            return Listing()
        return _parse(json.loads(data))
    except (OSError, ValueError, ModelshelfError):
        return Listing()


def _parse(data: Any) -> Listing:
    """Keep only what is well formed: valid names, versions and aliases, within the bounds."""
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        return Listing()
    names = _texts(data.get("names"), MAX_NAMES, _NAME)
    listing = Listing(names=sorted(set(names)))
    for key, check, target in (
        ("versions", _VERSION, listing.versions),
        ("aliases", _ALIAS, listing.aliases),
    ):
        found = data.get(key)
        if not isinstance(found, dict):
            continue
        for name, values in list(found.items())[:MAX_DETAILED]:
            if isinstance(name, str) and _NAME.fullmatch(name):
                target[name] = _texts(values, MAX_PER_NAME, check)
    return listing


def _texts(values: Any, limit: int, pattern: re.Pattern[str]) -> list[str]:
    if not isinstance(values, list):
        return []
    return [v for v in values[:limit] if isinstance(v, str) and pattern.fullmatch(v)]


def _write(cache_root: Path, store_id: str, listing: Listing) -> None:
    """Save ``listing`` within the bounds; a failure (a read-only cache) is only logged."""
    detailed = list(dict.fromkeys([*listing.versions, *listing.aliases]))[-MAX_DETAILED:]
    data = {
        "format": _FORMAT,
        "names": sorted(set(listing.names))[:MAX_NAMES],
        "versions": {
            n: listing.versions[n][:MAX_PER_NAME] for n in detailed if n in listing.versions
        },
        "aliases": {n: listing.aliases[n][:MAX_PER_NAME] for n in detailed if n in listing.aliases},
    }
    try:
        atomic_write(_path(cache_root, store_id), json.dumps(data).encode())
    except (OSError, ModelshelfError) as exc:
        logger.debug("the listing of %s was not recorded for completion: %s", store_id, exc)


def record_names(cache_root: Path, store_id: str, names: Iterable[str], pattern: str = "") -> None:
    """After ``ls [pattern]``: the names ``pattern`` selects are now exactly ``names``."""
    with _never_failing():
        listing = read_listing(cache_root, store_id)
        kept = [n for n in listing.names if not name_matches(pattern, n)]
        listing.names = [*kept, *names]
        _write(cache_root, store_id, listing)


def record_versions(
    cache_root: Path,
    store_id: str,
    name: str,
    versions: Iterable[str],
    aliases: Mapping[str, object] | Iterable[str] = (),
) -> None:
    """After ``versions NAME``: its versions (newest first) and aliases, as listed."""
    with _never_failing():
        listing = read_listing(cache_root, store_id)
        listing.names.append(name)
        _move_last(listing.versions, name, list(versions))
        _move_last(listing.aliases, name, sorted(aliases))
        _write(cache_root, store_id, listing)


def record_version(
    cache_root: Path, store_id: str, name: str, version: str, alias: str | None = None
) -> None:
    """After a ``pull`` or ``show`` resolved ``name`` (``@alias``) to ``version``."""
    with _never_failing():
        listing = read_listing(cache_root, store_id)
        known = listing.versions.get(name, [])
        aliases = listing.aliases.get(name, [])
        if name in listing.names and version in known and (alias is None or alias in aliases):
            return  # nothing new: no write
        listing.names.append(name)
        found = sorted({*known, version}, key=Version.parse, reverse=True)
        _move_last(listing.versions, name, found)
        if alias is not None and alias != "latest":
            _move_last(listing.aliases, name, sorted({*aliases, alias}))
        elif name in listing.aliases:
            _move_last(listing.aliases, name, aliases)
        _write(cache_root, store_id, listing)


def _move_last(table: dict[str, list[str]], name: str, values: list[str]) -> None:
    """Set ``table[name]`` as the entry recorded last (the bounds keep the last ones)."""
    table.pop(name, None)
    table[name] = values


@contextlib.contextmanager
def _never_failing() -> Iterator[None]:
    """Recording a listing is a courtesy to completion: it never fails a command."""
    try:
        yield
    except Exception as exc:  # whatever went wrong, the command succeeded
        logger.debug("a listing was not recorded for completion: %s", exc)
