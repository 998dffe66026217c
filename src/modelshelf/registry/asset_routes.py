"""Assets, versions, manifests, removals, aliases and the audit log, over HTTP.

An asset's name holds ``/``; its routes put ``/-/`` after it (``/assets/nlp/sentiment/-/versions``).
Every route is a plain ``def``: FastAPI runs it in its thread pool, where the store's blocking
calls belong. The scope a route needs is its first dependency, checked before any body is read;
every write the registry does for a caller is audited by the registry, as the token's name.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request
from starlette.responses import Response

from modelshelf import trust
from modelshelf._name_glob import listing_prefix, name_matches
from modelshelf.errors import (
    AliasConflictError,
    AliasNotFoundError,
    InvalidInputError,
    ObjectNotFoundError,
)
from modelshelf.manifest import FileEntry, Manifest
from modelshelf.registry.audit import audit_done_write
from modelshelf.registry.auth import Caller, Context, audit_of, may_on_name, writer_of
from modelshelf.registry.bodies import Refusal, documented, field, json_body, manifest_body
from modelshelf.registry.context import Principal, RegistryContext
from modelshelf.spec import Version, movable_alias, validate_alias
from modelshelf.store.bucket import Store, now_iso
from modelshelf.store.commit import commit_reusing
from modelshelf.store.http_protocol import AUDITED_BY_SERVER, MAX_BATCH
from modelshelf.transfer.download import run_concurrently

__all__ = ["router"]

router = APIRouter(tags=["assets"])
log = logging.getLogger("modelshelf.registry")

ASSET = "/assets/{name:path}/-"
Reader = Annotated[Principal, Depends(may_on_name("read"))]
Writer = Annotated[Principal, Depends(may_on_name("write"))]
Admin = Annotated[Principal, Depends(may_on_name("admin"))]
JsonBody = Annotated[dict[str, Any], Depends(json_body())]
# An audit record sent by a client: its fields (4 KiB of JSON) and room for escapes and spaces.
AuditBody = Annotated[dict[str, Any], Depends(json_body(64 << 10))]
ManifestBody = Annotated[bytes, Depends(manifest_body)]
# Audit fields the registry sets itself: a client's values for them are dropped.
_SERVER_FIELDS = frozenset({"name", "action", "when", "user", "host", "via"})
_CLIENT_ACTIONS = ("copy", "repair")
_MAX_LOG_FIELDS = 50
MAX_CLIENT_AUDIT_BYTES = 4096
"""The most bytes of JSON a client's audit fields take (a copy's source and version are a few
dozen): far below what a reader of the log takes per record (``trust.MAX_RECORD_BYTES``)."""


def path_name(name: str) -> str:
    try:
        return trust.check_name(name)
    except ValueError as exc:
        raise InvalidInputError(f"the asset name in the path is refused: {exc}") from None


def path_version(version: str) -> str:
    try:
        return trust.check_version(version)
    except ValueError as exc:
        raise InvalidInputError(f"the version in the path is refused: {exc}") from None


def _alias(alias: str) -> str:
    validate_alias(alias)  # InvalidSpecError (400)
    return alias


def _store(context: RegistryContext) -> Store:
    return context.store


# -- listings ------------------------------------------------------------------------------------
@router.get("/assets", summary="Asset names the caller may read, a page at a time")
def list_assets(
    principal: Caller,
    context: Context,
    prefix: Annotated[str, Query(max_length=1024)] = "",
    after: Annotated[str, Query(max_length=1024)] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_BATCH)] = 1000,
) -> dict[str, Any]:
    principal.require_any("read")  # 401 without a token: an empty list would hide why
    # The caller's names first, then the pattern: a glob is matched only against names the
    # caller may read, never against the whole store on an anonymous request.
    listed = {n for n, _ in context.store.live_versions(listing_prefix(prefix))}
    readable = [n for n in sorted(listed) if n > after and principal.can("read", n)]
    names = (n for n in readable if name_matches(prefix, n))
    page = list(itertools.islice(names, limit + 1))
    more = len(page) > limit
    page = page[:limit]
    return {"assets": page, "next": page[-1] if more and page else None}


@router.get("/live-versions", summary="Every live (name, version) the caller may read")
def live_versions(
    principal: Caller,
    context: Context,
    prefix: Annotated[str, Query(max_length=1024)] = "",
) -> dict[str, Any]:
    principal.require_any("read")  # 401 without a token: an empty list would hide why
    found = context.store.live_versions(prefix)
    readable = sorted(pair for pair in found if principal.can("read", pair[0]))
    return {"versions": [list(pair) for pair in readable]}


@router.get(f"{ASSET}/versions", summary="Live and taken versions, newest first")
def versions(
    name: str,
    _: Reader,
    context: Context,
) -> dict[str, Any]:
    store = _store(context)
    name = path_name(name)
    live, taken = store.versions(name), store.taken_versions(name)
    return {"live": [str(v) for v in live], "taken": [str(v) for v in taken]}


# -- manifests -----------------------------------------------------------------------------------
@router.get(f"{ASSET}/versions/{{version}}", summary="A version's manifest")
def read_manifest(
    name: str,
    version: str,
    _: Reader,
    context: Context,
) -> Response:
    store = _store(context)
    name, version = path_name(name), path_version(version)
    try:
        manifest = store.read_manifest(name, version)
    except ObjectNotFoundError:
        raise store.version_not_found(name, Version.parse(version), store.versions(name)) from None
    return Response(manifest.to_json(), media_type="application/json")


@router.put(
    f"{ASSET}/versions/{{version}}",
    status_code=201,
    summary="Commit a version (create-only)",
    openapi_extra=documented({"format": {"type": "integer"}}, ("name", "version", "files")),
)
def commit_manifest(
    request: Request,
    name: str,
    version: str,
    principal: Writer,
    raw: ManifestBody,
    context: Context,
) -> dict[str, Any]:
    store = _store(context)
    name, version = path_name(name), path_version(version)
    # The checks of a store read (400 InvalidManifestError), before anything is written.
    manifest = Manifest.from_json(raw, where=f"the manifest sent for {name}:{version}")
    if manifest.name != name or manifest.version != version:
        raise InvalidInputError(
            f"the manifest sent describes {manifest.name}:{manifest.version}, not"
            f" {name}:{version}; send it to its own path"
        )
    _check_blobs_stored(store, manifest)
    # 409 when the number is taken. Every blob was found present, so each is looked up again
    # after the commit: one a concurrent gc deleted meanwhile is named in the log (the client
    # has the file; `modelshelf verify` finds it, `repair` uploads it again).
    commit_reusing(store, manifest, manifest.files, _vanished(manifest))
    audit_done_write(
        store,
        name,
        "push",
        version=version,
        message=manifest.message,
        files=len(manifest.files),
        size=manifest.size,
        **audit_of(request, principal),
    )
    return {"version": version}


def _vanished(manifest: Manifest) -> Callable[[FileEntry], None]:
    def restore(entry: FileEntry) -> None:
        log.warning(
            "%s:%s is committed, but its blob %s went missing meanwhile (a concurrent gc?);"
            " `modelshelf verify %s:%s` names it, `modelshelf repair` uploads it again",
            manifest.name, manifest.version, entry.sha256, manifest.name, manifest.version,
        )  # fmt: skip

    return restore


def _check_blobs_stored(store: Store, manifest: Manifest) -> None:
    """Refuse a manifest naming a blob the store does not hold at its size."""
    wanted = list({(f.sha256, f.size) for f in manifest.files})
    has_blob = store.blob_finder(len(wanted))
    present = run_concurrently(lambda item: has_blob(*item), wanted)
    missing = sorted(sha for (sha, _), ok in zip(wanted, present, strict=True) if not ok)
    if missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise InvalidInputError(
            f"{manifest.name}:{manifest.version} names {len(missing)} blob(s) the registry does"
            f" not hold at their size: {shown}; upload them (PUT /blobs/SHA256) before the"
            " manifest"
        )


# -- removals ------------------------------------------------------------------------------------
@router.get(f"{ASSET}/versions/{{version}}/removal", summary="Who removed a version, if anyone")
def read_removal(
    name: str,
    version: str,
    _: Reader,
    context: Context,
) -> dict[str, Any]:
    name, version = path_name(name), path_version(version)
    removal = _store(context).removal(name, version)
    if removal is None:
        raise ObjectNotFoundError(f"{name}:{version} was not removed")
    return dict(removal.__dict__)


@router.post(
    f"{ASSET}/versions/{{version}}/remove",
    summary="Remove a version (admin)",
    openapi_extra=documented({"message": {"type": "string"}, "dry_run": {"type": "boolean"}}),
)
def remove_version(
    request: Request,
    name: str,
    version: str,
    principal: Admin,
    body: JsonBody,
    context: Context,
) -> dict[str, Any]:
    name, version = path_name(name), path_version(version)
    message = field(body, "message", str, default="")
    trust.check_text(message, "message", limit=trust.MAX_TEXT, one_line=False)
    dry_run = field(body, "dry_run", bool, default=False)
    store = _store(context)
    record = store.remove_version(
        name, version, message, dry_run=dry_run, writer=writer_of(principal)
    )
    if not dry_run:
        audit_done_write(
            store, name, "remove", version=version, message=message, **audit_of(request, principal)
        )
    return dict(record.__dict__)


# -- aliases -------------------------------------------------------------------------------------
@router.get(f"{ASSET}/aliases", summary="Every alias of an asset, with its current record")
def list_aliases(
    name: str,
    _: Reader,
    context: Context,
) -> dict[str, Any]:
    records = _store(context).aliases(path_name(name))
    return {"aliases": {alias: dict(r.__dict__) for alias, r in records.items()}}


@router.get(f"{ASSET}/aliases/{{alias}}", summary="An alias's current record")
def read_alias(
    name: str,
    alias: str,
    _: Reader,
    context: Context,
) -> dict[str, Any]:
    return dict(_store(context).read_alias(path_name(name), _alias(alias)).__dict__)


@router.get(f"{ASSET}/aliases/{{alias}}/history", summary="Every move of an alias, oldest first")
def alias_history(
    name: str,
    alias: str,
    _: Reader,
    context: Context,
) -> dict[str, Any]:
    records = _store(context).alias_history(path_name(name), _alias(alias))
    return {"history": [dict(r.__dict__) for r in records]}


@router.put(
    f"{ASSET}/aliases/{{alias}}",
    summary="Move an alias (compare-and-swap)",
    openapi_extra=documented(
        {"version": {"type": "string"}, "expected": {"type": ["string", "null"]}}, ("version",)
    ),
)
def set_alias(
    request: Request,
    name: str,
    alias: str,
    principal: Writer,
    body: JsonBody,
    context: Context,
) -> dict[str, Any]:
    name, alias = path_name(name), movable_alias(alias)
    version = path_version(field(body, "version", str))
    expected = field(body, "expected", (str, type(None)), default=None)
    if expected:
        path_version(expected)
    store = _store(context)
    # As the Shelf does before a move: an alias points at a live version of an asset that
    # exists (the errors name what exists, or who removed it).
    live = store.versions(name)
    if version not in {str(v) for v in live}:
        raise store.version_not_found(name, Version.parse(version), live)
    try:
        record = store.set_alias(
            name, alias, version, expected=expected, writer=writer_of(principal)
        )
    except AliasConflictError as exc:
        raise _with_current(store, name, alias, exc) from None
    _audit_alias(request, principal, store, name, record.__dict__)
    return dict(record.__dict__)


@router.delete(f"{ASSET}/aliases/{{alias}}", summary="Remove an alias (compare-and-swap)")
def remove_alias(
    request: Request,
    name: str,
    alias: str,
    principal: Writer,
    context: Context,
    expected: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    name, alias = path_name(name), movable_alias(alias)
    if expected:
        path_version(expected)
    store = _store(context)
    try:
        record = store.remove_alias(name, alias, expected=expected, writer=writer_of(principal))
    except AliasConflictError as exc:
        raise _with_current(store, name, alias, exc) from None
    _audit_alias(request, principal, store, name, record.__dict__)
    return dict(record.__dict__)


def _with_current(
    store: Store, name: str, alias: str, exc: AliasConflictError
) -> AliasConflictError:
    """``exc`` with ``current``: where the alias points now (``""``: unset), which the client
    compares with what it expected."""
    try:
        exc.current = store.read_alias(name, alias).version or ""  # type: ignore[attr-defined]
    except AliasNotFoundError:
        exc.current = ""  # type: ignore[attr-defined]
    return exc


def _audit_alias(
    request: Request, principal: Principal, store: Store, name: str, record: dict[str, Any]
) -> None:
    audit_done_write(
        store,
        name,
        "alias",
        alias=record["alias"],
        version=record["version"],
        previous=record["previous"],
        seq=record["seq"],
        **audit_of(request, principal),
    )


# -- audit log -----------------------------------------------------------------------------------
@router.get(f"{ASSET}/log", summary="An asset's audit records, oldest first")
def read_log(
    name: str,
    _: Reader,
    context: Context,
) -> dict[str, Any]:
    return {"records": _store(context).log(path_name(name))}


@router.post(
    f"{ASSET}/log",
    status_code=201,
    summary="Audit a copy or a repair",
    openapi_extra=documented(
        {"action": {"enum": list(_CLIENT_ACTIONS)}, "fields": {"type": "object"}}, ("action",)
    ),
)
def append_log(
    request: Request,
    name: str,
    principal: Writer,
    body: AuditBody,
    context: Context,
) -> dict[str, Any]:
    name = path_name(name)
    action = field(body, "action", str)
    if action not in _CLIENT_ACTIONS:
        why = (
            "the registry audits those writes itself"
            if action in AUDITED_BY_SERVER
            else "it is no action a client audits"
        )
        raise InvalidInputError(
            f"the audit action {trust.show(action)} is refused: {why}; a client sends only"
            f" {' or '.join(_CLIENT_ACTIONS)}"
        )
    fields = field(body, "fields", dict, default={})
    if len(fields) > _MAX_LOG_FIELDS:
        raise InvalidInputError(f"an audit record holds at most {_MAX_LOG_FIELDS} fields")
    kept = {k: v for k, v in fields.items() if k not in _SERVER_FIELDS}
    size = len(json.dumps(kept, separators=(",", ":")).encode())
    if size > MAX_CLIENT_AUDIT_BYTES:
        error = InvalidInputError(
            f"the audit fields sent for {name} take {size} bytes of JSON, over the"
            f" {MAX_CLIENT_AUDIT_BYTES} a client's audit record may hold; send short values"
            " (a copy's source and version)"
        )
        raise Refusal(error, 413)
    record = {
        "action": action,
        "name": name,
        "when": now_iso(),
        **kept,
        **audit_of(request, principal),
    }
    try:
        trust.check_log_record(record, name=name)  # what every reader of the log will check
    except ValueError as exc:
        raise InvalidInputError(f"the audit record sent is refused: {exc}") from None
    _store(context).append_log(name, action, **kept, **audit_of(request, principal))
    return {}
