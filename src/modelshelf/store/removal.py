"""Removed versions: the ``.removed`` record, the tombstone over the manifest, and their keys.

```
assets/<name>/versions/1.3.removed    removal record (who, when, why); created only if absent
assets/<name>/versions/1.3.json       overwritten by a small tombstone once the record exists
```
The manifest key is never deleted, so the create-only commit of a removed number keeps failing
and the number is never reused, while the manifest's content is gone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from modelshelf import trust
from modelshelf.errors import (
    AssetNotFoundError,
    ObjectExistsError,
    ObjectNotFoundError,
    UntrustedStoreDataError,
    VersionExistsError,
    VersionNotFoundError,
    VersionRemovedError,
)
from modelshelf.spec import Version
from modelshelf.store._shared import KeyLayout, actor, now_iso

__all__ = [
    "TOMBSTONE",
    "Removal",
    "RemovalLayout",
    "is_tombstone",
    "removed_error",
    "removed_target_error",
    "taken_error",
    "version_not_found_error",
]

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
        """``removed by ann@host at 2026-11-30 16:47:04Z ('why')``, for messages."""
        why = f" ({trust.show(self.message)})" if self.message else ""
        return f"removed by {self.who}@{self.host} at {trust.show_time(self.when)}{why}"


def is_tombstone(raw: bytes) -> bool:
    """True if a manifest key holds the tombstone of a removed version."""
    if TOMBSTONE.encode() not in raw[:200]:
        return False
    try:
        data = trust.loads_json(raw)
    except ValueError:
        return False
    return isinstance(data, dict) and TOMBSTONE in data


def taken_error(name: str, version: str, url: str, removal: Removal | None) -> VersionExistsError:
    """The error for a push to a taken number of the store ``url``: removed (with who and when,
    from ``removal``) or existing. Every store layout builds it here, so it reads the same."""
    if removal is not None:
        return VersionRemovedError(name, version, url, removal.describe())
    return VersionExistsError(name, version, url)


def removed_error(
    name: str, version: str, url: str, removal: Removal | None, *, already: bool = False
) -> VersionNotFoundError:
    """The error for a read (or a second removal) of the removed version ``name:version``."""
    what = removal.describe() if removal else "removed"
    return VersionNotFoundError(
        f"{name}:{version} was {'already ' if already else ''}{what} from {url};"
        f" version numbers are never reused: use another version"
        f" (`modelshelf versions {name}`)",
        name=name,
        store=url,
    )


def removed_target_error(
    name: str, alias: str, version: str, url: str, removal: Removal
) -> VersionNotFoundError:
    """The error for ``name@alias`` pointing at ``version``, which was removed."""
    return VersionNotFoundError(
        f"{name}@{alias} points at {version}, which was {removal.describe()} from"
        f" {url}; move the alias with `modelshelf alias set {name}@{alias} VERSION`"
        f" or remove it with `modelshelf alias rm {name}@{alias}`",
        name=name,
        store=url,
    )


def version_not_found_error(
    name: str,
    wanted: Version | None,
    live: list[Version],
    url: str,
    removal_of: Callable[[str], Removal | None],
    removed_of: Callable[[], list[Version]],
) -> AssetNotFoundError:
    """The error for a spec version that matches no live version of ``name`` in ``url``,
    saying whether it was removed.

    Args:
        removal_of: the removal record of a version of ``name``, or ``None`` (asked only for
            ``wanted``).
        removed_of: the removed versions of ``name``, newest first (asked only when no
            version is live).
    """
    if wanted is not None:
        removal = removal_of(str(wanted))
        if removal is not None:
            return removed_error(name, str(wanted), url, removal)
    if not live:
        removed = removed_of()
        if removed:
            shown = ", ".join(str(v) for v in removed[:10])
            return AssetNotFoundError(
                f"{name} has no versions left in {url}: {shown}"
                f"{' ...' if len(removed) > 10 else ''} removed (`modelshelf log {name}`"
                " says by whom); push a new version to use it again",
                name=name,
                store=url,
            )
        return AssetNotFoundError(
            f"no asset named {name!r} in {url}; list assets with `modelshelf ls`",
            name=name,
            store=url,
        )
    shown = ", ".join(str(v) for v in live[:10])
    return VersionNotFoundError(
        f"{name} has no version matching {wanted} in {url};"
        f" it has {shown}{' ...' if len(live) > 10 else ''}",
        name=name,
        store=url,
    )


class RemovalLayout(KeyLayout):
    """Removing versions, and the errors that say a number was taken or removed."""

    def version_taken_error(self, name: str, version: str) -> VersionExistsError:
        """The error for a push to a taken number: removed (with who and when) or existing."""
        return taken_error(name, version, self.url, self.removal(name, version))

    def version_not_found(
        self, name: str, wanted: Version | None, live: list[Version]
    ) -> AssetNotFoundError:
        """The error for a spec version that matches no live version (says if it was removed)."""
        return version_not_found_error(
            name,
            wanted,
            live,
            self.url,
            lambda version: self.removal(name, version),
            lambda: self.removed_versions(name),
        )

    def removed_versions(self, name: str) -> list[Version]:
        """The removed versions of ``name``, newest first (one listing; names not ours skipped)."""
        prefix = f"assets/{name}/versions/"
        found = set()
        for meta in self._listed(prefix.rstrip("/")):
            rest = meta.path[len(prefix) :]
            if rest.endswith(".removed") and "/" not in rest:
                version = trust.listed_version(rest[: -len(".removed")])
                if version is not None:
                    found.add(version)
        return sorted(found, reverse=True)

    def removal(self, name: str, version: str) -> Removal | None:
        """The removal record of a version, or ``None`` if it was not removed."""
        key = self._removal_key(name, version)
        try:
            raw = self._read_bounded(key, trust.MAX_RECORD_BYTES, "a removal record")
            return Removal(
                **trust.check_removal_record(trust.loads_json(raw), name=name, version=version)
            )
        except ObjectNotFoundError:
            return None
        except (ValueError, RecursionError, UntrustedStoreDataError):
            # The marker alone says the version is gone; an unreadable record must not revive it.
            return Removal(name, version, "unknown", "unknown", "unknown time")

    def remove_version(
        self,
        name: str,
        version: str,
        message: str = "",
        *,
        dry_run: bool = False,
        writer: Mapping[str, str] | None = None,
    ) -> Removal:
        """Remove a live version for good: its number stays taken, its manifest's content goes.

        The ``.removed`` record is created first (create-only: exactly one remover wins), then
        the manifest is overwritten with a tombstone. A removal cut short between the two
        writes is finished by running it again. The manifest's content is never read, so a
        damaged version can be removed too. With ``dry_run`` every check runs and nothing is
        written. ``writer`` (``user`` and ``host``) is recorded as who removed it (default:
        this process's :func:`~modelshelf.store._shared.actor`; the registry passes the token's).

        Raises:
            VersionNotFoundError: no such version, or it was removed already.
        """
        key = self.manifest_key(name, version)
        existing = self.removal(name, version)
        if existing is None:
            if not self.backend.exists(key):
                raise VersionNotFoundError(
                    f"{name}:{version} does not exist in {self.url}; give the full version"
                    f" as listed by `modelshelf versions {name}`",
                    name=name,
                    store=self.url,
                )
            who = actor() if writer is None else writer
            record = Removal(name, version, who["user"], who["host"], now_iso(), message)
            if dry_run:
                return record
            try:
                self.backend.put(self._removal_key(name, version), record.to_json(), mode="create")
            except ObjectExistsError:
                raise self._removed_error(name, version, already=True) from None
        elif self._holds_tombstone(key):
            raise self._removed_error(name, version, already=True)
        else:
            record = existing  # an earlier removal stopped before the tombstone: finish it
        if dry_run:
            return record
        tombstone = {TOMBSTONE: 1, **record.__dict__}
        self.backend.put(key, json.dumps(tombstone, indent=2).encode() + b"\n")
        return record

    def _holds_tombstone(self, key: str) -> bool:
        try:
            if self.backend.head(key).size > trust.MAX_RECORD_BYTES:
                return False  # far larger than any tombstone: read none of it, overwrite it
            return is_tombstone(self.backend.read(key))
        except ObjectNotFoundError:
            return False  # no manifest key at all: the tombstone must still claim the number

    def _removal_key(self, name: str, version: str) -> str:
        return f"assets/{name}/versions/{version}.removed"

    def _removed_error(
        self, name: str, version: str, *, already: bool = False
    ) -> VersionNotFoundError:
        return removed_error(name, version, self.url, self.removal(name, version), already=already)
