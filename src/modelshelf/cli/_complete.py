"""Shell completion of asset names, versions and aliases, from the cache's last listings.

Completion asks no store: it reads the listing that ``ls``, ``versions``, ``pull`` and ``show``
recorded in the cache for the store the command line selects (:mod:`modelshelf.cache.listings`),
and those commands record it through :func:`remember_names`, :func:`remember_versions` and
:func:`remember_version`. A completion never fails loudly: whatever goes wrong (no cache, a
malformed config file, an unknown store) completes nothing, and nothing is logged (a warning on
stderr would land in the middle of the user's prompt).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

import click
from click.shell_completion import CompletionItem

if TYPE_CHECKING:
    from modelshelf.cache.listings import Listing
    from modelshelf.shelf.shelf import Shelf

__all__ = [
    "complete_alias",
    "complete_name",
    "complete_spec",
    "complete_spec_or_path",
    "complete_version",
    "remember_names",
    "remember_version",
    "remember_versions",
]


@contextlib.contextmanager
def _silent() -> Iterator[None]:
    """No log line and no warning while completing."""
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(logging.NOTSET)


def _listing(ctx: click.Context) -> Listing:
    """The listing recorded for the store ``--store`` (or the default) selects: no store is
    opened, only its name in the cache is computed."""
    from modelshelf.cache.listings import Listing, read_listing
    from modelshelf.cli._common import shelf_from

    try:
        with _silent():
            shelf = shelf_from(ctx)
            return read_listing(shelf.cache.root, shelf.store_id)
    except Exception:
        return Listing()


def _items(values: list[str]) -> list[CompletionItem]:
    return [CompletionItem(value) for value in values]


def complete_name(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Asset names starting with ``incomplete``."""
    listing = _listing(ctx)
    return _items([name for name in listing.names if name.startswith(incomplete)])


def complete_spec(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """``NAME``, ``NAME:VERSION`` or ``NAME@ALIAS`` starting with ``incomplete``; a whole name
    also offers its versions and aliases."""
    listing = _listing(ctx)
    if "@" in incomplete:
        name, _, start = incomplete.partition("@")
        aliases = [*listing.aliases.get(name, []), "latest"] if name in listing.names else []
        return _items([f"{name}@{a}" for a in dict.fromkeys(aliases) if a.startswith(start)])
    if ":" in incomplete:
        name, _, start = incomplete.partition(":")
        return _items(
            [f"{name}:{v}" for v in listing.versions.get(name, []) if v.startswith(start)]
        )
    found = [name for name in listing.names if name.startswith(incomplete)]
    if incomplete in listing.names:  # a whole name: its versions and aliases too
        found += [f"{incomplete}:{v}" for v in listing.versions.get(incomplete, [])]
        found += [f"{incomplete}@{a}" for a in listing.aliases.get(incomplete, [])]
    return _items(found)


def complete_alias(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """``NAME@ALIAS`` of an alias that was listed, for ``alias set|rm|history``: never
    ``@latest``, which those commands refuse (it is the newest version, not a record), and no
    ``NAME:VERSION``."""
    listing = _listing(ctx)
    name, at, start = incomplete.partition("@")
    if at:
        aliases = listing.aliases.get(name, []) if name in listing.names else []
        return _items([f"{name}@{a}" for a in aliases if a != "latest" and a.startswith(start)])
    found = [n for n in listing.names if n.startswith(incomplete)]
    if incomplete in listing.names:  # a whole name: its aliases too
        found += [f"{incomplete}@{a}" for a in listing.aliases.get(incomplete, []) if a != "latest"]
    return _items(found)


def complete_spec_or_path(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """A spec, or a path (the shell completes files) when the word starts like one."""
    if incomplete.startswith(("/", ".", "~")):
        return [CompletionItem(incomplete, type="file")]
    return complete_spec(ctx, param, incomplete)


def complete_version(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The versions of the asset named by the ``spec`` argument before this one."""
    spec = str(ctx.params.get("spec") or "")
    name = spec.partition("@")[0].partition(":")[0]
    versions = _listing(ctx).versions.get(name, [])
    return _items([v for v in versions if v.startswith(incomplete)])


# -- recording what a command fetched anyway ---------------------------------------------------
def remember_names(shelf: Shelf, names: list[str], pattern: str = "") -> None:
    """``ls [pattern]`` listed ``names``."""
    from modelshelf.cache.listings import record_names

    record_names(shelf.cache.root, shelf.store_id, names, pattern)


def remember_versions(
    shelf: Shelf, name: str, versions: list[str], aliases: Mapping[str, object]
) -> None:
    """``versions NAME`` listed its versions and aliases."""
    from modelshelf.cache.listings import record_versions

    record_versions(shelf.cache.root, shelf.store_id, name, versions, aliases)


def remember_version(shelf: Shelf, name: str, version: str, alias: str | None) -> None:
    """``pull`` or ``show`` resolved ``name`` (through ``@alias``) to ``version``."""
    from modelshelf.cache.listings import record_version

    record_version(shelf.cache.root, shelf.store_id, name, version, alias)
