"""The registry store: an ``http(s)://`` URL names a modelshelf registry server, and this is its
client, a second implementation of the store seam (:class:`~modelshelf.store.api.StoreLayout`
and :class:`~modelshelf.store.api.MaintainedStore`).

The registry runs the bucket layout itself and enforces create-only commits, alias
compare-and-swap and token scopes; this client checks everything it answers as a bucket store
checks what it reads (:mod:`modelshelf.trust`), and verifies every blob byte as the bucket store
does. The API is :mod:`modelshelf.store.http_protocol`; the requests, retries and errors live in
``_http_transport``, the blob reads in ``_http_reads``, the uploads in ``_http_blobs`` and the
notes in ``_http_notes``.

Example:
    >>> store = HttpStore("https://models.example.com", token="msr_ci_s3cr3t")
    >>> store
    HttpStore('https://models.example.com')
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelshelf import trust
from modelshelf.backends.base import without_password
from modelshelf.errors import (
    AssetNotFoundError,
    InvalidInputError,
    ModelshelfError,
    ObjectNotFoundError,
    UnsupportedStoreError,
    VersionExistsError,
)
from modelshelf.manifest import Manifest
from modelshelf.spec import Version
from modelshelf.store import _http_blobs
from modelshelf.store._http_listings import MAX_LISTING
from modelshelf.store._http_notes import NotesRequests
from modelshelf.store._http_reads import HttpBlob
from modelshelf.store._http_transport import READ_TIMEOUT, Transport, load_token, registry_base
from modelshelf.store._shared import checked_manifest
from modelshelf.store.aliases import AliasRecord
from modelshelf.store.api import LayoutGuarantees
from modelshelf.store.http_protocol import (
    API,
    AUDITED_BY_SERVER,
    MAX_JSON_BODY,
    MAX_SINGLE_UPLOAD,
    asset_path,
)
from modelshelf.store.identity import registry_identity, store_id
from modelshelf.store.removal import (
    Removal,
    removed_target_error,
    taken_error,
    version_not_found_error,
)
from modelshelf.transfer.download import BlobReader
from modelshelf.transfer.verified_upload import HashedBytes

__all__ = ["HttpStore"]

# http(s)://host[:port][/prefix]: no userinfo, query or fragment; an @ nowhere (a password
# with a / in it would otherwise read as a path).
_BASE_URL = re.compile(
    r"https?://(\[[0-9a-f:.]+\]|[^/?#@\s:\[\]]+)(:[0-9]{1,5})?(/[^?#@\s]*)?", re.IGNORECASE
)


class HttpStore(NotesRequests):
    """A modelshelf registry at ``url``, used as a store.

    Args:
        url: the registry's base URL, ``https://host[:port][/prefix]``.
        token: the bearer token; default the first line of ``token_file``, else
            ``MODELSHELF_TOKEN`` (with ``environment_token``), else none (anonymous reads,
            where the registry allows them).
        token_file: a file holding the token.
        environment_token: take ``MODELSHELF_TOKEN`` when no token is given: the store the
            user chose as its store does; a copy's destination opens with ``False``, so that
            token never reaches a registry it was not meant for.
        ca_file: a PEM file of a private CA that signed the registry's certificate (default:
            ``SSL_CERT_FILE``, beside the public CAs).
        timeout: seconds to wait for a byte of an answer.
        redirects: let blob downloads go to a presigned URL when the registry offers one.

    The token is sent in a header only: never in a repr, a message or a log line; and never
    over plain ``http://`` to a host that is not loopback (``localhost``, 127.0.0.0/8, ``::1``).

    Raises:
        UnsupportedStoreError: the URL is not ``http(s)://host[/prefix]`` (a password or a
            query in it is refused: the token goes in ``token``), or a token would go over
            plain ``http://`` to another machine (refused before any connection).
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        token_file: str | Path | None = None,
        ca_file: str | Path | None = None,
        timeout: float | str = READ_TIMEOUT,
        redirects: bool = True,
        environment_token: bool = True,
    ) -> None:
        base = registry_base(url)
        seconds = _seconds(timeout)
        if not _BASE_URL.fullmatch(base):
            raise UnsupportedStoreError(
                f"{trust.show(without_userinfo(base), 200)} is not a registry URL; give"
                " https://host[:port][/prefix], without a password or query (the token goes in"
                " MODELSHELF_TOKEN or a named store's token / token_file)"
            )
        self.url = base
        self._redirects = redirects
        self._transport = Transport(
            base,
            token=load_token(token, token_file, base, environment=environment_token),
            ca_file=ca_file,
            timeout=seconds,
            environment_token=environment_token,
        )
        self._lock = threading.Lock()
        self._discovery: dict[str, Any] | None = None
        self._guarantees: LayoutGuarantees | None = None

    def __repr__(self) -> str:
        return f"HttpStore({self.url!r})"

    def close(self) -> None:
        """Close the connections (the store is usable again afterwards only in a new one)."""
        self._transport.close()

    @property
    def id(self) -> str:
        """The cache id of the registry: from its URL alone (never the token)."""
        return store_id(self.url, registry_identity(self.url))

    @property
    def guarantees(self) -> LayoutGuarantees:
        """What the registry promises, as its discovery document (``GET /api/v1``) says."""
        if self._guarantees is None:
            given = self.discovery().get("guarantees")
            flags = given if isinstance(given, dict) else {}
            self._guarantees = LayoutGuarantees(
                create_only_commit=flags.get("create_only_commit") is True,
                alias_compare_and_swap=flags.get("alias_compare_and_swap") is True,
                listable=flags.get("listable") is True,
            )
        return self._guarantees

    @guarantees.setter
    def guarantees(self, value: LayoutGuarantees) -> None:
        self._guarantees = value

    def discovery(self) -> dict[str, Any]:
        """The registry's discovery document (asked once): API version, guarantees, upload
        sizes, who the token is and its scopes.

        Raises:
            UntrustedStoreDataError: the server is not a modelshelf registry of API 1.
        """
        with self._lock:
            if self._discovery is None:
                found = self._transport.json("GET", API, limit=MAX_JSON_BODY, what="discovery")
                if found.get("registry") != "modelshelf" or found.get("api") != 1:
                    raise self._transport.untrusted(
                        f"GET {self.url}{API} does not describe a modelshelf registry of API 1"
                    )
                self._discovery = found
            return self._discovery

    def create(self) -> None:
        """Nothing to do: a registry exists or it does not."""

    # -- versions and manifests ----------------------------------------------------------------
    def _version_lists(self, name: str) -> tuple[list[Version], list[Version]]:
        """(live, taken) versions of ``name``, each newest first; both empty for no asset."""
        try:
            answer = self._get(asset_path(name, "versions"), what=f"the versions of {name}")
        except AssetNotFoundError as exc:
            if type(exc) is AssetNotFoundError:
                return [], []  # as a bucket store: no asset, no versions
            raise
        return self._versions(answer.get("live")), self._versions(answer.get("taken"))

    def _versions(self, listed: object) -> list[Version]:
        if not isinstance(listed, list):
            raise self._transport.untrusted("a version list is not a list")
        found = {v for v in (trust.listed_version(x) for x in listed if isinstance(x, str)) if v}
        return sorted(found, reverse=True)

    def versions(self, name: str) -> list[Version]:
        """Every live version of ``name``, newest first (empty if the asset does not exist)."""
        return self._version_lists(name)[0]

    def taken_versions(self, name: str) -> list[Version]:
        """Every version number ever committed, removed ones included, newest first."""
        live, taken = self._version_lists(name)
        return sorted(set(live) | set(taken), reverse=True)

    def read_manifest(self, name: str, version: str) -> Manifest:
        """The manifest of ``name:version``, checked as a bucket store checks it.

        Raises:
            ObjectNotFoundError: the version does not exist.
            VersionNotFoundError: the version was removed.
            UntrustedStoreDataError: the answer is not that version's manifest.
        """
        path = asset_path(name, "versions", version)
        try:
            response = self._transport.send("GET", path)
        except AssetNotFoundError as exc:
            if type(exc) is not AssetNotFoundError:
                raise  # removed (VersionNotFoundError): its own error
            # No such asset: as a bucket store says it (no manifest key), which callers expect.
            raise ObjectNotFoundError(str(exc)) from None
        where = self._transport.api_url(path)
        what = f"the manifest of {name}:{version} ({where}; MODELSHELF_MAX_MANIFEST_MIB bounds it)"
        raw = self._transport.read_bounded(response, trust.manifest_cap(), what)
        return checked_manifest(
            raw,
            name,
            version,
            where=where,
            store=self.url,
            key=where,
            step="ask the registry's admin to restore or delete that version in its store",
        )

    def commit_manifest(self, manifest: Manifest) -> None:
        """Create the version on the registry, create-only.

        A retried commit (the first answer was lost) that finds the number taken by this very
        manifest succeeded.

        Raises:
            VersionExistsError: someone else created this version first.
            VersionRemovedError: the version was removed; its number is never reused.
            InvalidInputError: the manifest is too large, or names blobs the registry lacks.
        """
        body, cap = manifest.to_json(), trust.manifest_cap()
        if len(body) > cap:
            raise InvalidInputError(
                f"the manifest of {manifest.name}:{manifest.version} ({len(manifest.files)}"
                f" files) takes {len(body)} bytes, over the {cap} a manifest may hold; push"
                " fewer, larger files (an archive)"
            )
        tries = 0

        def sent() -> bytes:
            nonlocal tries
            tries += 1
            return body

        path = asset_path(manifest.name, "versions", manifest.version)
        try:
            self._transport.send(
                "PUT",
                path,
                body=sent,
                headers={"Content-Type": "application/json"},
                idempotent=True,
                ok=(200, 201),
            ).close()
        except VersionExistsError:
            if tries > 1 and self._holds(manifest):
                return  # our own first try won; its answer was lost
            raise

    def _holds(self, manifest: Manifest) -> bool:
        try:
            return self.read_manifest(manifest.name, manifest.version) == manifest
        except ModelshelfError:
            return False

    def removal(self, name: str, version: str) -> Removal | None:
        """The removal record of ``name:version``, or ``None`` if it was not removed."""
        path = asset_path(name, "versions", version, "removal")
        response = self._transport.send("GET", path, ok=(200, 404))
        if response.status_code == 404:
            response.close()
            return None
        data = self._transport.json_of(response, trust.MAX_RECORD_BYTES, "a removal record")
        try:
            return Removal(**trust.check_removal_record(data, name=name, version=version))
        except (ValueError, RecursionError):
            # The record alone says the version is gone; an unreadable one must not revive it.
            return Removal(name, version, "unknown", "unknown", "unknown time")

    def version_taken_error(self, name: str, version: str) -> VersionExistsError:
        """The error for a push to a taken number: removed (with who and when) or existing."""
        return taken_error(name, version, self.url, self.removal(name, version))

    def version_not_found(
        self, name: str, wanted: Version | None, live: list[Version]
    ) -> AssetNotFoundError:
        """The error for a spec version that matches no live version (says if it was removed)."""

        def removed() -> list[Version]:
            gone_live, taken = self._version_lists(name)
            return sorted(set(taken) - set(gone_live), reverse=True)

        return version_not_found_error(
            name, wanted, live, self.url, lambda v: self.removal(name, v), removed
        )

    def remove_version(
        self, name: str, version: str, message: str = "", *, dry_run: bool = False
    ) -> Removal:
        """Remove a live version for good (the registry checks and audits it: admin scope)."""
        answer = self._transport.json(
            "POST",
            asset_path(name, "versions", version, "remove"),
            payload={"message": message, "dry_run": dry_run},
            limit=trust.MAX_RECORD_BYTES,
            what="a removal record",
        )
        return Removal(**self._checked(trust.check_removal_record, answer, "removal record",
                                       name=name, version=version))  # fmt: skip

    # -- aliases -------------------------------------------------------------------------------
    def read_alias(self, name: str, alias: str) -> AliasRecord:
        """The alias's current record (AliasNotFoundError if never set or removed)."""
        answer = self._get(asset_path(name, "aliases", alias), what=f"the alias {alias}")
        return self._alias_record(answer, alias)

    def alias_target(self, name: str, alias: str) -> str:
        """The version ``name@alias`` points at, refused if that version was removed."""
        version = self.read_alias(name, alias).version or ""
        removal = self.removal(name, version)
        if removal is not None:
            raise removed_target_error(name, alias, version, self.url, removal)
        return version

    def aliases(self, name: str) -> dict[str, AliasRecord]:
        """Every alias of ``name`` with its current record."""
        answer = self._get(asset_path(name, "aliases"), what=f"the aliases of {name}")
        listed = answer.get("aliases")
        if not isinstance(listed, dict):
            raise self._transport.untrusted("the aliases are not an object")
        records = {a: self._alias_record(r, a) for a, r in sorted(listed.items())}
        return {a: r for a, r in records.items() if trust.is_alias(a) and r.version is not None}

    def alias_history(self, name: str, alias: str) -> list[AliasRecord]:
        """Every record of the alias, oldest first."""
        answer = self._get(
            asset_path(name, "aliases", alias, "history"),
            what=f"the history of {alias}",
            limit=MAX_LISTING,
        )
        listed = answer.get("history")
        if not isinstance(listed, list):
            raise self._transport.untrusted("an alias history is not a list")
        records = [self._alias_record(r, alias) for r in listed]
        if [r.seq for r in records] != sorted({r.seq for r in records}):
            raise self._transport.untrusted(f"the history of {alias} is out of order")
        return records

    def set_alias(
        self, name: str, alias: str, version: str, *, expected: str | None = None
    ) -> AliasRecord:
        """Move the alias (compare-and-swap with ``expected``: AliasConflictError)."""
        answer = self._transport.json(
            "PUT",
            asset_path(name, "aliases", alias),
            payload={"version": version, "expected": expected},
            limit=trust.MAX_RECORD_BYTES,
            what="an alias record",
            ok=(200, 201),
        )
        record = self._alias_record(answer, alias)
        if record.version != version:
            raise self._transport.untrusted(f"the move of {alias} answered another version")
        return record

    def remove_alias(self, name: str, alias: str, *, expected: str | None = None) -> AliasRecord:
        """Remove the alias (compare-and-swap with ``expected``)."""
        response = self._transport.send(
            "DELETE",
            asset_path(name, "aliases", alias),
            params=None if expected is None else {"expected": expected},
            idempotent=False,
        )
        answer = self._transport.json_of(response, trust.MAX_RECORD_BYTES, "an alias record")
        return self._alias_record(answer, alias)

    def _alias_record(self, data: object, alias: str) -> AliasRecord:
        seq = data.get("seq") if isinstance(data, dict) else None
        fields = self._checked(trust.check_alias_record, data, "alias record", alias=alias,
                               seq=seq if type(seq) is int and seq > 0 else -1)  # fmt: skip
        return AliasRecord(**fields)

    # -- blobs ---------------------------------------------------------------------------------
    def has_blob(self, sha256: str, size: int | None = None) -> bool:
        """Whether the registry stores the blob (at ``size`` bytes, when given)."""
        return _http_blobs.has_blob(self._transport, sha256, size)

    def blob_finder(self, expected: int) -> Callable[[str, int], bool]:
        """A thread-safe ``has_blob`` whose concurrent lookups go in batches
        (``POST /blobs/present``)."""
        if expected <= 1:
            return self.has_blob
        return _http_blobs.PresentBatcher(self._transport)

    def open_blob(self, sha256: str) -> BlobReader:
        """Ranged reads of the blob; bytes may come from a presigned URL (verified alike)."""
        return HttpBlob(self._transport, sha256, redirects=self._redirects)

    def put_blob(
        self, sha256: str, path: Path | BlobReader | HashedBytes, size: int | None = None
    ) -> None:
        """Upload a file, another store's blob or hashed bytes as blob ``sha256``, verified
        as it is sent (one PUT, or an upload session above the registry's single-PUT size).

        Raises:
            SourcePathError: the file changed since it was hashed; nothing was stored.
            IntegrityError: another store's blob is damaged; nothing was stored.
        """
        upload = self.discovery().get("upload")
        single = upload.get("max_single") if isinstance(upload, dict) else None
        if type(single) is not int or not 0 < single <= MAX_SINGLE_UPLOAD:
            single = MAX_SINGLE_UPLOAD
        _http_blobs.put_blob(self._transport, sha256, path, size, max_single=single)

    # -- audit log -----------------------------------------------------------------------------
    def append_log(self, name: str, action: str, **fields: Any) -> None:
        """Record a write in the audit log; pushes, alias moves and removals the registry
        records itself (with the token's name as who), so those send nothing."""
        if action in AUDITED_BY_SERVER:
            return
        scalars = {k: v for k, v in fields.items() if isinstance(v, str | int | float | bool)}
        self._post(asset_path(name, "log"), {"action": action, "fields": scalars}, ok=(200, 201))

    def log(self, name: str) -> list[dict[str, Any]]:
        """Every audit record of ``name``, oldest first, each checked.

        Raises:
            UntrustedStoreDataError: a record is not what modelshelf writes.
        """
        answer = self._get(asset_path(name, "log"), what=f"the log of {name}", limit=MAX_LISTING)
        listed = answer.get("records")
        if not isinstance(listed, list):
            raise self._transport.untrusted("the audit log holds no list")
        return [self._checked(trust.check_log_record, r, "audit record", name=name) for r in listed]


def _seconds(timeout: float | str) -> float:
    """A timeout given as a number or as text (``--backend-opt timeout=30``)."""
    try:
        seconds = float(timeout)
    except (TypeError, ValueError):
        seconds = float("nan")
    if not 0 < seconds < 86400:
        raise InvalidInputError(
            f"the registry timeout {trust.show(timeout)} is not a number of seconds above 0"
        )
    return seconds


def without_userinfo(url: str) -> str:
    """``url`` without a ``user:password@`` part, for a message."""
    return re.sub(r"^([a-z]+://)[^/@]*@", r"\1", without_password(url), flags=re.IGNORECASE)
