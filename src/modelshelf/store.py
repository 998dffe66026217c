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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelshelf.backends.base import Backend, without_password
from modelshelf.errors import (
    AliasConflictError,
    AliasNotFoundError,
    InvalidManifestError,
    ObjectExistsError,
    ObjectNotFoundError,
    VersionExistsError,
)
from modelshelf.manifest import Manifest
from modelshelf.spec import Version

__all__ = ["AliasRecord", "Store", "actor", "now_iso"]

_ALIAS_RECORD = re.compile(r"^(\d{8})\.json$")
_VERSION_FILE = re.compile(r"^([0-9][0-9.]*)\.json$")
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
            if match:
                try:
                    found.append(Version.parse(match.group(1)))
                except ValueError:
                    continue  # not ours: skip rather than fail the listing
        return sorted(found, reverse=True)

    def read_manifest(self, name: str, version: str) -> Manifest:
        """The manifest of one version.

        Raises:
            ObjectNotFoundError: the version does not exist.
            InvalidManifestError: it exists but does not parse.
        """
        key = self.manifest_key(name, version)
        manifest = Manifest.from_json(self.backend.read(key), where=f"{self.url}/{key}")
        if manifest.name != name or manifest.version != version:
            raise InvalidManifestError(
                f"{self.url}/{key} describes {manifest.name}:{manifest.version}, not"
                f" {name}:{version}; the store has been edited by hand"
            )
        return manifest

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
            if match:
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
            if match:
                latest[alias] = max(latest.get(alias, 0), int(match.group(1)))
        return {a: self._read_alias_record(name, a, s) for a, s in sorted(latest.items())}

    def alias_history(self, name: str, alias: str) -> list[AliasRecord]:
        """Every move of an alias, oldest first."""
        last = self._latest_alias_seq(name, alias)
        return [self._read_alias_record(name, alias, seq) for seq in range(1, last + 1)]

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
            previous = self._read_alias_record(name, alias, seq).version if seq else None
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

    def _latest_alias_seq(self, name: str, alias: str) -> int:
        prefix = self._alias_prefix(name, alias)
        seqs = [0]
        for meta in self.backend.list(prefix.rstrip("/")):
            match = _ALIAS_RECORD.match(meta.path[len(prefix) :])
            if match:
                seqs.append(int(match.group(1)))
        return max(seqs)

    def _read_alias_record(self, name: str, alias: str, seq: int) -> AliasRecord:
        key = f"{self._alias_prefix(name, alias)}{seq:08d}.json"
        try:
            data = json.loads(self.backend.read(key))
            return AliasRecord(**data)
        except (ValueError, TypeError) as exc:
            raise InvalidManifestError(f"{self.url}/{key} is not a valid alias record") from exc

    # -- audit log -----------------------------------------------------------------------------
    def append_log(self, name: str, action: str, **fields: Any) -> None:
        """Write one audit record (who, when, host, what); never overwrites an earlier one."""
        when = now_iso()
        record = {"action": action, "name": name, "when": when, **actor(), **fields}
        stamp = when.replace(":", "").replace("-", "")
        key = f"assets/{name}/log/{stamp}-{uuid.uuid4().hex[:12]}.json"
        self.backend.put(key, json.dumps(record, indent=2).encode() + b"\n", mode="create")

    def log(self, name: str) -> list[dict[str, Any]]:
        """Every audit record of ``name``, oldest first."""
        keys = sorted(m.path for m in self.backend.list(f"assets/{name}/log"))
        records = []
        for key in keys:
            if key.count("/") != name.count("/") + 3:
                continue  # a record of a nested asset such as name/sub
            try:
                records.append(json.loads(self.backend.read(key)))
            except (ObjectNotFoundError, ValueError):
                continue
        return records
