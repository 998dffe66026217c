"""The store layout: what the keys under a store's root mean.

```
blobs/sha256/ab/abcdef…                           content, written only if absent
assets/<name>/versions/1.3.json                   manifest; created only if absent: the commit
assets/<name>/aliases/<alias>/00000017.json       alias record 17; created only if absent
assets/<name>/log/<utc-time>-<random>.json        audit record of a push or an alias move
```
An alias moves by creating the next numbered record after reading the current one. Create-only
writes exist on every backend (S3 If-None-Match, GCS generation match, local exclusive create),
so exactly one of two racing writers gets a given number: this is compare-and-swap on the
alias's sequence number, and the records double as the alias's history.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import re
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelshelf import trust
from modelshelf.backends.base import Backend
from modelshelf.errors import (
    AliasConflictError,
    AliasNotFoundError,
    InvalidManifestError,
    ObjectExistsError,
    ObjectNotFoundError,
    UntrustedStoreDataError,
    VersionExistsError,
)
from modelshelf.manifest import Manifest
from modelshelf.spec import Version

__all__ = ["AliasRecord", "Store", "actor", "now_iso"]

_ALIAS_RECORD = re.compile(r"^(\d{8})\.json$")
_VERSION_FILE = re.compile(r"^([0-9][0-9.]*)\.json$")
_NOT_OURS = "modelshelf did not write it (or it was edited since)"
_MANIFEST_KEY = re.compile(r"^assets/(.+)/versions/([0-9][0-9.]*)\.json$")
_ALIAS_RETRIES = 8


def now_iso() -> str:
    """The current UTC time, ISO 8601 with microseconds and a ``Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def actor() -> dict[str, str]:
    """Who is writing: user and host, for manifests and audit records."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return {"user": user, "host": socket.gethostname()}


@dataclass(frozen=True)
class AliasRecord:
    """One move of an alias: it points at ``version`` since ``when``; ``seq`` counts the moves."""

    alias: str
    version: str
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
        return self.id_for(self.url)

    @staticmethod
    def id_for(url: str) -> str:
        """The cache id of the store at ``url``: readable tail plus a hash of the whole URL."""
        slug = re.sub(r"[^a-z0-9]+", "-", url.lower()).strip("-")[-40:].strip("-")
        digest = hashlib.sha256(url.encode()).hexdigest()[:10]
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

    def put_blob(self, sha256: str, path: Path) -> None:
        """Upload one file as the blob ``sha256``; content-addressed, so a rewrite is harmless."""
        self.backend.put(self.blob_key(sha256), path)

    # -- versions ------------------------------------------------------------------------------
    @staticmethod
    def manifest_key(name: str, version: str) -> str:
        return f"assets/{name}/versions/{version}.json"

    def versions(self, name: str) -> list[Version]:
        """Every version of ``name``, newest first (empty if the asset does not exist)."""
        found = []
        prefix = f"assets/{name}/versions/"
        for meta in self.backend.list(prefix.rstrip("/")):
            match = _VERSION_FILE.match(meta.path[len(prefix) :])
            version = trust.listed_version(match.group(1)) if match else None
            if version is not None:  # anything else is not ours: skip, do not fail the listing
                found.append(version)
        return sorted(found, reverse=True)

    def read_manifest(self, name: str, version: str) -> Manifest:
        """The manifest of one version.

        Raises:
            ObjectNotFoundError: the version does not exist.
            InvalidManifestError: it exists but does not parse.
        """
        key = self.manifest_key(name, version)
        raw = self._read_bounded(key, trust.MAX_MANIFEST_BYTES, "a manifest")
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
        """
        key = self.manifest_key(manifest.name, manifest.version)
        try:
            self.backend.put(key, manifest.to_json(), mode="create")
        except ObjectExistsError:
            raise VersionExistsError(manifest.name, manifest.version, self.url) from None

    def assets(self, prefix: str = "") -> list[str]:
        """Names of every asset with at least one version, sorted; optionally under ``prefix``."""
        list_prefix = "assets/" + prefix.strip("/") if prefix.strip("/") else "assets"
        names = set()
        for meta in self.backend.list(list_prefix):
            match = _MANIFEST_KEY.match(meta.path)
            if match and trust.is_name(match.group(1)) and trust.listed_version(match.group(2)):
                names.add(match.group(1))
        wanted = prefix.strip("/")
        return sorted(n for n in names if not wanted or n == wanted or n.startswith(wanted + "/"))

    # -- aliases -------------------------------------------------------------------------------
    def _alias_prefix(self, name: str, alias: str) -> str:
        return f"assets/{name}/aliases/{alias}/"

    def read_alias(self, name: str, alias: str) -> AliasRecord:
        """The current record of an alias.

        Raises:
            AliasNotFoundError: the alias was never set.
        """
        seq = self._latest_alias_seq(name, alias)
        if seq == 0:
            raise AliasNotFoundError(
                f"{name} has no alias {alias!r} in {self.url}; set it with"
                f" `modelshelf alias set {name}@{alias} VERSION`",
                name=name,
                store=self.url,
            )
        return self._read_alias_record(name, alias, seq)

    def aliases(self, name: str) -> dict[str, AliasRecord]:
        """Every alias of ``name`` with its current record."""
        prefix = f"assets/{name}/aliases/"
        latest: dict[str, int] = {}
        for meta in self.backend.list(prefix.rstrip("/")):
            alias, _, rest = meta.path[len(prefix) :].partition("/")
            match = _ALIAS_RECORD.match(rest)
            if match and int(match.group(1)) > 0 and trust.is_alias(alias):
                latest[alias] = max(latest.get(alias, 0), int(match.group(1)))
        return {a: self._read_alias_record(name, a, s) for a, s in sorted(latest.items())}

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
        who = actor()
        for _ in range(_ALIAS_RETRIES):
            seq = self._latest_alias_seq(name, alias)
            previous = self._current_version(name, alias, seq)
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
