"""The store layout: what the keys under a store's root mean.

```
blobs/sha256/ab/abcdef…                           content, written only if absent
assets/<name>/versions/1.3.json                   manifest; created only if absent: the commit
assets/<name>/aliases/<alias>/00000017.json       alias record 17; created only if absent
assets/<name>/log/<utc-time>-<random>.json        audit record of a push or an alias move
assets/<name>/versions/1.3.removed                removal record (who, when, why); create-only
```
An alias moves by creating the next numbered record after reading the current one. Create-only
writes exist on every backend (S3 If-None-Match, GCS generation match, local exclusive create),
so exactly one of two racing writers gets a given number: this is compare-and-swap on the
alias's sequence number, and the records double as the alias's history. A record whose
``version`` is ``null`` removes the alias.

Removing a version creates its ``.removed`` record, then overwrites its manifest with a small
tombstone: the manifest key is never deleted, so the create-only commit of that number keeps
failing and the number is never reused, while the manifest's content is gone.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import re
import socket
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelshelf import trust
from modelshelf._removal import TOMBSTONE, Removal, is_tombstone
from modelshelf.backends.base import Backend, ObjectMeta, without_password
from modelshelf.errors import (
    AliasConflictError,
    AliasNotFoundError,
    AssetNotFoundError,
    InvalidManifestError,
    ObjectExistsError,
    ObjectNotFoundError,
    UntrustedStoreDataError,
    VersionExistsError,
    VersionNotFoundError,
    VersionRemovedError,
)
from modelshelf.manifest import Manifest
from modelshelf.spec import Version
from modelshelf.transfer import upload_verified

__all__ = ["AliasRecord", "Removal", "Store", "actor", "now_iso"]

_ALIAS_RECORD = re.compile(r"^(\d{8})\.json$")
_VERSION_FILE = re.compile(r"^([0-9][0-9.]*)\.(json|removed)$")
_MANIFEST_KEY = re.compile(r"^assets/(.+)/versions/([0-9][0-9.]*)\.(json|removed)$")
_BLOB_KEY = re.compile(r"^blobs/sha256/([0-9a-f]{2})/([0-9a-f]{64})$")
_NOT_OURS = "modelshelf did not write it (or it was edited since)"
_ALIAS_RETRIES = 8


def now_iso() -> str:
    """The current UTC time, ISO 8601 with microseconds and a ``Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def actor() -> dict[str, str]:
    """Who is writing: user and host, for manifests and audit records.

    Control characters in them are escaped, so that the records pass the reader's checks.
    """
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return {"user": trust.one_line(user), "host": trust.one_line(socket.gethostname())}


@dataclass(frozen=True)
class AliasRecord:
    """One move of an alias: it points at ``version`` since ``when``; ``seq`` counts the moves."""

    alias: str
    version: str | None  # None: this record removes the alias
    previous: str | None
    seq: int
    who: str
    host: str
    when: str

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, indent=2).encode() + b"\n"


class Store:
    """Assets, versions, aliases and blobs in one backend, laid out as the module docstring says.

    Args:
        backend: where the bytes live.
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.url = backend.url

    @property
    def id(self) -> str:
        """A short, filesystem-safe name for this store, used for its part of the local cache."""
        return self.id_for(self.url, self.backend.store_identity())

    @staticmethod
    def id_for(url: str, identity: Mapping[str, str] | None = None) -> str:
        """The cache id of a store: a readable tail of ``url`` plus a hash of its identity.

        Args:
            url: the store URL, for the readable part.
            identity: everything that selects the store (backend class, URL, endpoint,
                options; never secrets), as :meth:`Backend.identity` gives it; default the
                URL alone. The hash covers its canonical JSON, so stores that differ in any
                part of it never share cached manifests.
        """
        slug = re.sub(r"[^a-z0-9]+", "-", without_password(url).lower())
        slug = slug.strip("-")[-40:].strip("-")
        canonical = json.dumps(
            dict(identity) if identity is not None else {"url": without_password(url)},
            sort_keys=True,
            separators=(",", ":"),
        )
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
        return f"{slug}-{digest}"

    # -- blobs ---------------------------------------------------------------------------------
    @staticmethod
    def blob_key(sha256: str) -> str:
        return f"blobs/sha256/{sha256[:2]}/{sha256}"

    def has_blob(self, sha256: str, size: int | None = None) -> bool:
        """True if the store holds the blob (at ``size`` bytes, when given)."""
        try:
            actual = self.backend.head(self.blob_key(sha256)).size
        except ObjectNotFoundError:
            return False
        return size is None or actual == size

    def put_blob(self, sha256: str, path: Path, size: int | None = None) -> None:
        """Upload one file as the blob ``sha256``, only if its bytes still hash to it.

        Content-addressed, so a rewrite by a racing writer puts the same bytes; a file that
        changed since it was hashed fails the upload before anything is stored (see
        :func:`~modelshelf.transfer.upload_verified`). Nothing ever deletes a blob on failure.

        Args:
            size: the size hashed (default: the file's size now).

        Raises:
            SourcePathError: the file changed since it was hashed.
        """
        if size is None:
            size = path.stat().st_size
        upload_verified(self.backend, self.blob_key(sha256), path, size, sha256)

    # -- versions ------------------------------------------------------------------------------
    @staticmethod
    def manifest_key(name: str, version: str) -> str:
        return f"assets/{name}/versions/{version}.json"

    def _version_listing(self, name: str) -> tuple[set[Version], set[Version]]:
        """One listing of ``versions/``: (every committed number, the removed ones)."""
        committed: set[Version] = set()
        removed: set[Version] = set()
        prefix = f"assets/{name}/versions/"
        for meta in self.backend.list(prefix.rstrip("/")):
            match = _VERSION_FILE.match(meta.path[len(prefix) :])
            if match:
                version = trust.listed_version(match.group(1))
                if version is None:
                    continue  # not ours: skip rather than fail the listing
                (committed if match.group(2) == "json" else removed).add(version)
        return committed, removed

    def versions(self, name: str) -> list[Version]:
        """Every live version of ``name``, newest first (empty if the asset does not exist)."""
        committed, removed = self._version_listing(name)
        return sorted(committed - removed, reverse=True)

    def taken_versions(self, name: str) -> list[Version]:
        """Every version number ever committed, removed ones included, newest first.

        Removed numbers are never reused, so the next version is chosen after all of these.
        """
        committed, removed = self._version_listing(name)
        return sorted(committed | removed, reverse=True)

    def read_manifest(self, name: str, version: str) -> Manifest:
        """The manifest of one version.

        Raises:
            ObjectNotFoundError: the version does not exist.
            VersionNotFoundError: the version was removed.
            InvalidManifestError: it exists but does not parse.
        """
        key = self.manifest_key(name, version)
        raw = self._read_bounded(key, trust.MAX_MANIFEST_BYTES, "a manifest")
        if is_tombstone(raw):
            raise self._removed_error(name, version)
        try:
            manifest = Manifest.from_json(raw, where=f"{self.url}/{key}")
        except InvalidManifestError as exc:
            raise UntrustedStoreDataError(
                f"{exc}; {_NOT_OURS}: restore or delete that key in the store",
                store=self.url,
                key=key,
            ) from exc
        if manifest.name != name or manifest.version != version:
            raise UntrustedStoreDataError(
                f"{self.url}/{key} describes {manifest.name}:{manifest.version}, not"
                f" {name}:{version}; the store has been edited by hand: restore or delete that key",
                store=self.url,
                key=key,
            )
        return manifest

    def _read_bounded(self, key: str, limit: int, what: str) -> bytes:
        """The object at ``key``, refused once it grows past ``limit`` bytes."""
        chunks, total = [], 0
        for chunk in self.backend.get(key, chunk_size=1 << 20):
            total += len(chunk)
            if total > limit:
                raise UntrustedStoreDataError(
                    f"{self.url}/{key} is larger than the {limit} bytes {what} may hold;"
                    f" {_NOT_OURS}: delete that key in the store",
                    store=self.url,
                    key=key,
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _untrusted(
        self, key: str, what: str, exc: BaseException, hint: str
    ) -> UntrustedStoreDataError:
        """The one-line error for a record at ``key`` that failed :mod:`modelshelf.trust`."""
        return UntrustedStoreDataError(
            f"{self.url}/{key} is not a valid {what} ({exc}); {_NOT_OURS}: {hint}",
            store=self.url,
            key=key,
        )

    def commit_manifest(self, manifest: Manifest) -> None:
        """Create the manifest: the single write that makes a version exist.

        Raises:
            VersionExistsError: someone else created this version first.
            VersionRemovedError: the version was removed; its number is never reused.
        """
        key = self.manifest_key(manifest.name, manifest.version)
        try:
            self.backend.put(key, manifest.to_json(), mode="create")
        except ObjectExistsError:
            raise self.version_taken_error(manifest.name, manifest.version) from None

    def version_taken_error(self, name: str, version: str) -> VersionExistsError:
        """The error for a push to a taken number: removed (with who and when) or existing."""
        removal = self.removal(name, version)
        if removal is not None:
            return VersionRemovedError(name, version, self.url, removal.describe())
        return VersionExistsError(name, version, self.url)

    def version_not_found(
        self, name: str, wanted: Version | None, live: list[Version]
    ) -> AssetNotFoundError:
        """The error for a spec version that matches no live version (says if it was removed)."""
        if wanted is not None and self.removal(name, str(wanted)) is not None:
            return self._removed_error(name, str(wanted))
        if not live:
            return AssetNotFoundError(
                f"no asset named {name!r} in {self.url}; list assets with `modelshelf ls`",
                name=name,
                store=self.url,
            )
        shown = ", ".join(str(v) for v in live[:10])
        return VersionNotFoundError(
            f"{name} has no version matching {wanted} in {self.url};"
            f" it has {shown}{' ...' if len(live) > 10 else ''}",
            name=name,
            store=self.url,
        )

    def removal(self, name: str, version: str) -> Removal | None:
        """The removal record of a version, or ``None`` if it was not removed."""
        key = self._removal_key(name, version)
        try:
            raw = self._read_bounded(key, trust.MAX_RECORD_BYTES, "a removal record")
            return Removal(
                **trust.check_removal_record(json.loads(raw), name=name, version=version)
            )
        except ObjectNotFoundError:
            return None
        except (ValueError, RecursionError, UntrustedStoreDataError):
            # The marker alone says the version is gone; an unreadable record must not revive it.
            return Removal(name, version, "unknown", "unknown", "unknown time")

    def remove_version(self, name: str, version: str, message: str = "") -> Removal:
        """Remove a live version for good: its number stays taken, its manifest's content goes.

        The ``.removed`` record is created first (create-only: exactly one remover wins), then
        the manifest is overwritten with a tombstone. A removal cut short between the two
        writes is finished by running it again.

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
            who = actor()
            record = Removal(name, version, who["user"], who["host"], now_iso(), message)
            try:
                self.backend.put(self._removal_key(name, version), record.to_json(), mode="create")
            except ObjectExistsError:
                raise self._removed_error(name, version, already=True) from None
        elif self._holds_tombstone(key):
            raise self._removed_error(name, version, already=True)
        else:
            record = existing  # an earlier removal stopped before the tombstone: finish it
        tombstone = {TOMBSTONE: 1, **record.__dict__}
        self.backend.put(key, json.dumps(tombstone, indent=2).encode() + b"\n")
        return record

    def _holds_tombstone(self, key: str) -> bool:
        try:
            return is_tombstone(self.backend.read(key))
        except ObjectNotFoundError:
            return False  # no manifest key at all: the tombstone must still claim the number

    def _removal_key(self, name: str, version: str) -> str:
        return f"assets/{name}/versions/{version}.removed"

    def _removed_error(
        self, name: str, version: str, *, already: bool = False
    ) -> VersionNotFoundError:
        removal = self.removal(name, version)
        what = removal.describe() if removal else "removed"
        return VersionNotFoundError(
            f"{name}:{version} was {'already ' if already else ''}{what} from {self.url};"
            f" version numbers are never reused: use another version"
            f" (`modelshelf versions {name}`)",
            name=name,
            store=self.url,
        )

    def assets(self, prefix: str = "") -> list[str]:
        """Names of every asset with a live version, sorted; optionally under ``prefix``."""
        names = {name for name, _ in self.live_versions(prefix)}
        wanted = prefix.strip("/")
        return sorted(n for n in names if not wanted or n == wanted or n.startswith(wanted + "/"))

    def live_versions(self, prefix: str = "") -> set[tuple[str, str]]:
        """``(name, version)`` of every live version (under ``prefix``), from one listing."""
        list_prefix = "assets/" + prefix.strip("/") if prefix.strip("/") else "assets"
        committed: set[tuple[str, str]] = set()
        removed: set[tuple[str, str]] = set()
        for meta in self.backend.list(list_prefix):
            match = _MANIFEST_KEY.match(meta.path)
            if match and trust.is_name(match.group(1)) and trust.listed_version(match.group(2)):
                found = removed if match.group(3) == "removed" else committed
                found.add((match.group(1), match.group(2)))
        return committed - removed

    def blobs(self) -> Iterator[tuple[str, ObjectMeta]]:
        """Every blob in the store as ``(sha256, meta)``; keys that are not blobs are skipped."""
        for meta in self.backend.list("blobs/sha256"):
            match = _BLOB_KEY.match(meta.path)
            if match and match.group(2).startswith(match.group(1)):
                yield match.group(2), meta

    def delete_blob(self, sha256: str) -> None:
        """Delete one blob (garbage collection only: a referenced blob must never go)."""
        self.backend.delete(self.blob_key(sha256))

    # -- aliases -------------------------------------------------------------------------------
    def _alias_prefix(self, name: str, alias: str) -> str:
        return f"assets/{name}/aliases/{alias}/"

    def read_alias(self, name: str, alias: str) -> AliasRecord:
        """The current record of an alias.

        Raises:
            AliasNotFoundError: the alias was never set, or was removed.
        """
        seq = self._latest_alias_seq(name, alias)
        record = self._read_alias_record(name, alias, seq) if seq else None
        if record is None or record.version is None:
            removed = f" (removed by {record.who}@{record.host} at {record.when})" if record else ""
            raise AliasNotFoundError(
                f"{name} has no alias {alias!r} in {self.url}{removed}; set it with"
                f" `modelshelf alias set {name}@{alias} VERSION`",
                name=name,
                store=self.url,
            )
        return record

    def alias_target(self, name: str, alias: str) -> str:
        """The version ``name@alias`` points at, refused if that version was removed.

        Raises:
            AliasNotFoundError: the alias is not set.
            VersionNotFoundError: it points at a removed version.
        """
        version = self.read_alias(name, alias).version or ""  # read_alias: never a removal
        removal = self.removal(name, version)
        if removal is not None:
            raise VersionNotFoundError(
                f"{name}@{alias} points at {version}, which was {removal.describe()} from"
                f" {self.url}; move the alias with `modelshelf alias set {name}@{alias} VERSION`"
                f" or remove it with `modelshelf alias rm {name}@{alias}`",
                name=name,
                store=self.url,
            )
        return version

    def aliases(self, name: str) -> dict[str, AliasRecord]:
        """Every alias of ``name`` with its current record (removed aliases left out)."""
        prefix = f"assets/{name}/aliases/"
        latest: dict[str, int] = {}
        for meta in self.backend.list(prefix.rstrip("/")):
            alias, _, rest = meta.path[len(prefix) :].partition("/")
            match = _ALIAS_RECORD.match(rest)
            if match and int(match.group(1)) > 0 and trust.is_alias(alias):
                latest[alias] = max(latest.get(alias, 0), int(match.group(1)))
        records = {a: self._read_alias_record(name, a, s) for a, s in sorted(latest.items())}
        return {a: r for a, r in records.items() if r.version is not None}

    def alias_history(self, name: str, alias: str) -> list[AliasRecord]:
        """Every move of an alias, oldest first (the records listed, not a count up to the last)."""
        seqs = self._alias_seqs(name, alias)
        return [self._read_alias_record(name, alias, seq) for seq in sorted(seqs)]

    def set_alias(
        self, name: str, alias: str, version: str, *, expected: str | None = None
    ) -> AliasRecord:
        """Point ``alias`` at ``version`` by creating the next numbered record.

        Args:
            expected: if given, the version the alias must point at now (``""`` for unset);
                otherwise the move retries on a concurrent move, last writer wins.

        Raises:
            AliasConflictError: ``expected`` did not hold, or moves kept racing.
        """
        if self.removal(name, version) is not None:
            raise self._removed_error(name, version)
        return self._write_alias(name, alias, version, expected)

    def remove_alias(self, name: str, alias: str, *, expected: str | None = None) -> AliasRecord:
        """Remove ``alias`` by creating the next numbered record with ``version: None``.

        Like a move it is compare-and-swap (``expected``) and stays in the alias's history;
        setting the alias again afterwards starts from "unset".

        Raises:
            AliasNotFoundError: the alias is not set.
            AliasConflictError: ``expected`` did not hold, or moves kept racing.
        """
        return self._write_alias(name, alias, None, expected)

    def _write_alias(
        self, name: str, alias: str, version: str | None, expected: str | None
    ) -> AliasRecord:
        who = actor()
        for _ in range(_ALIAS_RETRIES):
            seq = self._latest_alias_seq(name, alias)
            previous = self._current_version(name, alias, seq)
            if version is None and previous is None:
                self.read_alias(name, alias)  # raises AliasNotFoundError, saying why
            if expected is not None and (previous or "") != expected:
                raise AliasConflictError(
                    f"{name}@{alias} points at {previous or 'nothing'},"
                    f" not {expected or 'nothing'};"
                    " someone moved it: check `modelshelf show` and retry"
                )
            record = AliasRecord(
                alias, version, previous, seq + 1, who["user"], who["host"], now_iso()
            )
            key = f"{self._alias_prefix(name, alias)}{seq + 1:08d}.json"
            try:
                self.backend.put(key, record.to_json(), mode="create")
            except ObjectExistsError:
                continue  # another writer took this number; read again
            return record
        raise AliasConflictError(
            f"{name}@{alias} kept moving under us after {_ALIAS_RETRIES} tries; retry later"
        )

    def _current_version(self, name: str, alias: str, seq: int) -> str | None:
        """Where record ``seq`` points, or ``None`` if there is none or it is not valid.

        A forged current record must not block the move that replaces it.
        """
        if not seq:
            return None
        try:
            return self._read_alias_record(name, alias, seq).version
        except UntrustedStoreDataError:
            return None

    def _alias_seqs(self, name: str, alias: str) -> list[int]:
        prefix = self._alias_prefix(name, alias)
        seqs = []
        for meta in self.backend.list(prefix.rstrip("/")):
            match = _ALIAS_RECORD.match(meta.path[len(prefix) :])
            if match and int(match.group(1)) > 0:
                seqs.append(int(match.group(1)))
        return seqs

    def _latest_alias_seq(self, name: str, alias: str) -> int:
        return max(self._alias_seqs(name, alias), default=0)

    def _read_alias_record(self, name: str, alias: str, seq: int) -> AliasRecord:
        key = f"{self._alias_prefix(name, alias)}{seq:08d}.json"
        raw = self._read_bounded(key, trust.MAX_RECORD_BYTES, "an alias record")
        try:
            fields = trust.check_alias_record(json.loads(raw), alias=alias, seq=seq)
        except (ValueError, RecursionError) as exc:
            hint = f"set the alias again with `modelshelf alias set {name}@{alias} VERSION`"
            raise self._untrusted(key, "alias record", exc, hint) from exc
        return AliasRecord(**fields)

    # -- audit log -----------------------------------------------------------------------------
    def append_log(self, name: str, action: str, **fields: Any) -> None:
        """Write one audit record (who, when, host, what); never overwrites an earlier one."""
        when = now_iso()
        record = {"action": action, "name": name, "when": when, **actor(), **fields}
        stamp = when.replace(":", "").replace("-", "")
        key = f"assets/{name}/log/{stamp}-{uuid.uuid4().hex[:12]}.json"
        self.backend.put(key, json.dumps(record, indent=2).encode() + b"\n", mode="create")

    def log(self, name: str) -> list[dict[str, Any]]:
        """Every audit record of ``name``, oldest first.

        Raises:
            UntrustedStoreDataError: a record is not what modelshelf writes (see
                :func:`modelshelf.trust.check_log_record`); an audit log does not hide records.
        """
        keys = sorted(m.path for m in self.backend.list(f"assets/{name}/log"))
        records = []
        for key in keys:
            if key.count("/") != name.count("/") + 3:
                continue  # a record of a nested asset such as name/sub
            try:
                raw = self._read_bounded(key, trust.MAX_RECORD_BYTES, "an audit record")
            except ObjectNotFoundError:
                continue  # removed while we listed
            try:
                records.append(trust.check_log_record(json.loads(raw), name=name))
            except (ValueError, RecursionError) as exc:
                hint = "delete that key in the store to read the log again"
                raise self._untrusted(key, "audit record", exc, hint) from exc
        return records
