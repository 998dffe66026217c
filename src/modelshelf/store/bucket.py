"""The store layout: what the keys under a store's root mean.

```
blobs/sha256/ab/abcdef…                           content, written only if absent
assets/<name>/versions/1.3.json                   manifest; created only if absent: the commit
assets/<name>/aliases/<alias>/00000017.json       alias record 17; created only if absent
assets/<name>/notes/asset/00000003.json           the asset's labels and description, record 3
assets/<name>/notes/versions/1.3/00000001.json    version 1.3's labels and description
assets/<name>/log/<utc-time>-<random>.json        audit record of a push or an alias move
log/<utc-time>-<random>.json                      the same record in the store's log (all assets)
assets/<name>/versions/1.3.removed                removal record (who, when, why); create-only
gc/<run>/sha256/ab/abcdef…                        a blob gc is deleting, until its run ends
```
The layout is built in layers, each the only one that knows its keys: ``_shared.KeyLayout``
(shared reads), ``removal.RemovalLayout`` (removed versions and tombstones),
``aliases.AliasLayout`` (compare-and-swap alias records), ``notes.NotesLayout`` (labels and
descriptions, compare-and-swap too), ``changes.ChangeLog`` (the store's log, in time order) and
:class:`Store` (blobs, manifests, listings, the audit log).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from modelshelf import trust
from modelshelf._name_glob import listing_prefix, name_matches
from modelshelf.backends.base import ObjectMeta
from modelshelf.errors import (
    InvalidInputError,
    ObjectExistsError,
    ObjectNotFoundError,
    UntrustedStoreDataError,
)
from modelshelf.manifest import Manifest
from modelshelf.spec import Version
from modelshelf.store._shared import actor, checked_manifest, now_iso
from modelshelf.store.aliases import AliasLayout, AliasRecord
from modelshelf.store.api import LayoutGuarantees
from modelshelf.store.changes import ChangeLog, log_id
from modelshelf.store.identity import store_id
from modelshelf.store.notes import Notes, NotesLayout
from modelshelf.store.removal import Removal, is_tombstone
from modelshelf.transfer.blob_copy import copy_verified
from modelshelf.transfer.download import BlobReader, LocalBlob, ObjectBlob
from modelshelf.transfer.verified_upload import HashedBytes, upload_hashed, upload_verified

__all__ = ["AliasRecord", "Notes", "Removal", "Store", "actor", "now_iso"]

_VERSION_FILE = re.compile(r"^([0-9][0-9.]*)\.(json|removed)$")
_MANIFEST_KEY = re.compile(r"^assets/(.+)/versions/([0-9][0-9.]*)\.(json|removed)$")
_BLOB_KEY = re.compile(r"^blobs/sha256/([0-9a-f]{2})/([0-9a-f]{64})$")
_QUARANTINE_KEY = re.compile(
    r"^gc/([0-9]{8}T[0-9]{6}Z-[0-9a-f]{12})/sha256/([0-9a-f]{2})/([0-9a-f]{64})$"
)
# A push of this many files or more finds its blobs by listing each shard (blobs/sha256/ab/)
# once instead of a HEAD per blob: on SeaweedFS, 2,000 HEADs took 1.0-1.3 s and 0.7 s of
# server CPU; the 256 LISTs that replace them 0.13-0.3 s and 0.1-0.2 s.
LIST_SHARDS_FROM = 512
# A shard holding more blobs than this (a store of over ~500,000) is looked up by HEAD.
LIST_SHARD_MAX = 2000


class Store(NotesLayout, AliasLayout, ChangeLog):
    """Assets, versions, aliases and blobs in one backend, laid out as the module docstring says.

    Args:
        backend: where the bytes live.

    The first implementation of :class:`~modelshelf.store.api.StoreLayout` and
    :class:`~modelshelf.store.api.MaintainedStore`: every guarantee holds on every backend that
    offers create-only writes (all of obstore's do).
    """

    guarantees = LayoutGuarantees()

    @property
    def id(self) -> str:
        """A short, filesystem-safe name for this store, used for its part of the local cache."""
        return self.id_for(self.url, self.backend.store_identity())

    @staticmethod
    def id_for(url: str, identity: Mapping[str, str] | None = None) -> str:
        """The cache id of a store; see :func:`modelshelf.store.identity.store_id`."""
        return store_id(url, identity)

    def create(self) -> None:
        """Make the store exist before a first write: its backend's
        :meth:`~modelshelf.backends.Backend.create_store` (a ``file://`` folder is made)."""
        self.backend.create_store()

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

    def blob_finder(self, expected: int) -> Callable[[str, int], bool]:
        """A thread-safe :meth:`has_blob` for a push of about ``expected`` files.

        From :data:`LIST_SHARDS_FROM` files on, each shard that a looked-up blob falls in is
        listed once and answers for all of its blobs; a shard too long to list cheaply makes
        every later lookup a HEAD again.
        """
        if expected < LIST_SHARDS_FROM:
            return self.has_blob
        return _ShardListings(self).has_blob

    def open_blob(self, sha256: str) -> BlobReader:
        """Read access to the blob ``sha256`` (its size, byte ranges); nothing is fetched yet."""
        key = self.blob_key(sha256)
        path = self.backend.local_path(key)
        return ObjectBlob(self.backend, key) if path is None else LocalBlob(self.backend, key, path)

    def signed_blob_url(self, sha256: str, expires_seconds: int) -> str | None:
        """A presigned GET URL of the blob, valid ``expires_seconds``, or ``None`` when the
        backend cannot sign (:meth:`~modelshelf.backends.Backend.signed_url`)."""
        return self.backend.signed_url(self.blob_key(sha256), "GET", expires_seconds)

    def put_blob(
        self, sha256: str, path: Path | BlobReader | HashedBytes, size: int | None = None
    ) -> None:
        """Upload one file (another store's blob, or bytes hashed in memory) as the blob
        ``sha256``, only if its bytes hash to it.

        Content-addressed, so a rewrite by a racing writer puts the same bytes; a file that changed
        since it was hashed fails the upload before anything is stored (see
        :func:`~modelshelf.transfer.verified_upload.upload_verified`). Nothing ever deletes a blob
        on failure.

        Args:
            size: the size hashed (default: the file's size now).

        Raises:
            SourcePathError: the file changed since it was hashed.
            IntegrityError: another store's blob is damaged; nothing was stored.
        """
        if isinstance(path, HashedBytes):  # hashed from these very bytes: sent as they are
            upload_hashed(self.backend, self.blob_key(sha256), path, sha256)
            return
        if not isinstance(path, Path):
            if size is None:
                size = path.size()
            copy_verified(path, self.backend, self.blob_key(sha256), size, sha256)
            return
        if size is None:
            size = path.stat().st_size
        upload_verified(self.backend, self.blob_key(sha256), path, size, sha256)

    # -- versions ------------------------------------------------------------------------------
    def _version_listing(self, name: str) -> tuple[set[Version], set[Version]]:
        """One listing of ``versions/``: (every committed number, the removed ones)."""
        committed: set[Version] = set()
        removed: set[Version] = set()
        prefix = f"assets/{name}/versions/"
        for meta in self._listed(prefix.rstrip("/")):
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
        raw = self._read_bounded(
            key, trust.manifest_cap(), "a manifest", "or raise MODELSHELF_MAX_MANIFEST_MIB"
        )
        if is_tombstone(raw):
            raise self._removed_error(name, version)
        return checked_manifest(
            raw,
            name,
            version,
            where=f"{self.url}/{key}",
            store=self.url,
            key=key,
            step="restore or delete that key in the store",
        )

    def commit_manifest(self, manifest: Manifest) -> None:
        """Create the manifest: the single write that makes a version exist.

        Raises:
            VersionExistsError: someone else created this version first.
            VersionRemovedError: the version was removed; its number is never reused.
        """
        key = self.manifest_key(manifest.name, manifest.version)
        body, cap = manifest.to_json(), trust.manifest_cap()
        if len(body) > cap:  # no reader would take it: refuse before it exists
            raise InvalidInputError(
                f"the manifest of {manifest.name}:{manifest.version} ({len(manifest.files)}"
                f" files) takes {len(body)} bytes, over the {cap} a manifest may hold; push"
                " fewer, larger files (an archive), or raise MODELSHELF_MAX_MANIFEST_MIB here"
                " and wherever it is pulled"
            )
        try:
            self.backend.put(key, body, mode="create")
        except ObjectExistsError:
            raise self.version_taken_error(manifest.name, manifest.version) from None

    def assets(self, prefix: str = "") -> list[str]:
        """Names of every asset with a live version, sorted; optionally only those ``prefix``
        selects: whole segments (``nlp``) or a glob (``nl*``, ``nlp/*sent*``; ``*`` stops at
        ``/``, ``**`` does not), as :mod:`modelshelf._name_glob` says. Only the literal
        segments before the first wildcard are listed."""
        names = {name for name, _ in self.live_versions(listing_prefix(prefix))}
        return sorted(n for n in names if name_matches(prefix, n))

    def live_versions(self, prefix: str = "") -> set[tuple[str, str]]:
        """``(name, version)`` of every live version (under ``prefix``), from one listing."""
        list_prefix = "assets/" + prefix.strip("/") if prefix.strip("/") else "assets"
        committed: set[tuple[str, str]] = set()
        removed: set[tuple[str, str]] = set()
        for meta in self._listed(list_prefix):
            match = _MANIFEST_KEY.match(meta.path)
            if match and trust.is_name(match.group(1)) and trust.listed_version(match.group(2)):
                found = removed if match.group(3) == "removed" else committed
                found.add((match.group(1), match.group(2)))
        return committed - removed

    def blobs(self) -> Iterator[tuple[str, ObjectMeta]]:
        """Every blob in the store as ``(sha256, meta)``; keys that are not blobs are skipped."""
        for meta in self._listed("blobs/sha256"):
            match = _BLOB_KEY.match(meta.path)
            if match and match.group(2).startswith(match.group(1)):
                yield match.group(2), meta

    def delete_blob(self, sha256: str) -> None:
        """Delete one blob (garbage collection only: a referenced blob must never go)."""
        self.backend.delete(self.blob_key(sha256))

    # -- gc's quarantine: a blob being deleted can still be put back --------------------------
    @staticmethod
    def quarantine_key(run: str, sha256: str) -> str:
        return f"gc/{run}/sha256/{sha256[:2]}/{sha256}"

    def quarantine_blob(self, sha256: str, run: str) -> None:
        """Move a blob gc deletes to the quarantine of gc run ``run``: copy it there (by the
        service where it can), then delete it from ``blobs/``.

        Raises:
            ObjectNotFoundError: the blob is gone already (another gc); nothing was moved.
        """
        self.backend.copy(self.blob_key(sha256), self.quarantine_key(run, sha256))
        self.backend.delete(self.blob_key(sha256))

    def quarantined(self) -> Iterator[tuple[str, str, ObjectMeta]]:
        """Every blob in a gc quarantine as ``(run, sha256, meta)``; other keys are skipped."""
        for meta in self._listed("gc"):
            match = _QUARANTINE_KEY.match(meta.path)
            if match and match.group(3).startswith(match.group(2)):
                yield match.group(1), match.group(3), meta

    def restore_blob(self, sha256: str, run: str, size: int) -> None:
        """Put a quarantined blob back in ``blobs/``, only if its bytes are ``sha256``.

        Raises:
            IntegrityError: the quarantined object is not that blob (nothing was stored).
        """
        self.put_blob(sha256, ObjectBlob(self.backend, self.quarantine_key(run, sha256)), size)

    def drop_quarantined(self, sha256: str, run: str) -> None:
        """Delete a blob from gc run ``run``'s quarantine: the end of its deletion."""
        self.backend.delete(self.quarantine_key(run, sha256))

    # -- audit log -----------------------------------------------------------------------------
    def append_log(self, name: str, action: str, **fields: Any) -> None:
        """Write one audit record (who, when, host, what); never overwrites an earlier one."""
        when = now_iso()
        record = {"action": action, "name": name, "when": when, **actor(), **fields}
        body = json.dumps(record, indent=2).encode() + b"\n"
        if len(body) > trust.MAX_RECORD_BYTES:  # every reader of the log would refuse it
            raise InvalidInputError(
                f"the audit record of {action} on {name} takes {len(body)} bytes, over the"
                f" {trust.MAX_RECORD_BYTES} a record may take; nothing was written: shorten"
                " its fields"
            )
        record_id = log_id(when, uuid.uuid4().hex[:12])
        self.backend.put(f"assets/{name}/log/{record_id}.json", body, mode="create")
        # Then once more in the store's log, which the registry's pages and webhooks follow.
        self._write_store_log(record_id, body)

    def log(self, name: str) -> list[dict[str, Any]]:
        """Every audit record of ``name``, oldest first.

        Raises:
            UntrustedStoreDataError: a record is not what modelshelf writes (see
                :func:`modelshelf.trust.check_log_record`), or the records take more than
                :data:`~modelshelf.trust.MAX_LOG_BYTES` together; an audit log does not hide
                records, so it is refused whole.
        """
        keys = sorted(m.path for m in self._listed(f"assets/{name}/log"))
        records, total = [], 0
        for key in keys:
            if key.count("/") != name.count("/") + 3:
                continue  # a record of a nested asset such as name/sub
            try:
                raw = self._read_bounded(key, trust.MAX_RECORD_BYTES, "an audit record")
            except ObjectNotFoundError:
                continue  # removed while we listed
            total += len(raw)
            if total > trust.MAX_LOG_BYTES:
                raise UntrustedStoreDataError(
                    f"the audit log of {name} in {self.url} holds more than"
                    f" {trust.MAX_LOG_BYTES} bytes of records, more than modelshelf reads"
                    " at once; nothing was shown. Move its oldest records"
                    f" (assets/{name}/log/, oldest keys first) to an archive",
                    store=self.url,
                )
            try:
                records.append(trust.check_log_record(trust.loads_json(raw), name=name))
            except (ValueError, RecursionError) as exc:
                hint = "delete that key in the store to read the log again"
                raise self._untrusted(key, "audit record", exc, hint) from exc
        return records


class _ShardListings:
    """The blobs of each shard (``blobs/sha256/ab/``), listed once, on the first lookup in it.

    A listing is a point-in-time answer, as a HEAD is: a blob found here may vanish before the
    push commits, which the push checks again after its commit.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._shards: dict[str, tuple[threading.Lock, list[dict[str, int] | None]]] = {}
        self._too_long = False

    def has_blob(self, sha256: str, size: int) -> bool:
        listing = self._listing(sha256[:2])
        if listing is None:
            return self._store.has_blob(sha256, size)
        return listing.get(sha256) == size

    def _listing(self, shard: str) -> dict[str, int] | None:
        with self._lock:
            lock, slot = self._shards.setdefault(shard, (threading.Lock(), []))
        with lock:
            if not slot:
                slot.append(self._list(shard))
            return slot[0]

    def _list(self, shard: str) -> dict[str, int] | None:
        if self._too_long:
            return None
        found: dict[str, int] = {}
        for count, meta in enumerate(self._store.backend.list(f"blobs/sha256/{shard}")):
            if count >= LIST_SHARD_MAX:
                self._too_long = True  # a large store: HEADs cost less than its listings
                return None
            match = _BLOB_KEY.match(meta.path)  # listed keys are outside input
            if match and match.group(1) == shard:
                found[match.group(2)] = meta.size
        return found
