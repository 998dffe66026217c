"""The notes (labels and description) of an asset or a version, over HTTP.

```
GET {asset}/notes                                  the current record (seq 0: never written)
GET {asset}/notes/history                          {"history": [records, oldest first]}
PUT {asset}/notes    {labels, description, expected_seq}  -> the new record (201)
    {asset}/versions/{version}/notes[/history]     the same for one version
```
A read needs the read scope on the asset, a write the write scope. A write is compare-and-swap
on the record number (409 ``NotesConflictError`` with ``current`` when another write won) and
is audited by the registry as the token's name: action ``label`` with ``seq``, ``labels`` (the
text ``gpu, team=nlp``), ``description_changed`` and, for a version's notes, ``version``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.requests import Request

from modelshelf import trust
from modelshelf.errors import InvalidInputError, ObjectNotFoundError, UntrustedStoreDataError
from modelshelf.registry.asset_routes import ASSET, path_name, path_version
from modelshelf.registry.audit import audit_done_write
from modelshelf.registry.auth import Context, audit_of, may_on_name, writer_of
from modelshelf.registry.bodies import documented, field, json_body
from modelshelf.registry.context import Principal
from modelshelf.store.bucket import Store
from modelshelf.store.notes import Notes, checked_notes, notes_target

__all__ = ["router"]

router = APIRouter(tags=["notes"])

_VERSION = f"{ASSET}/versions/{{version}}"
Reader = Annotated[Principal, Depends(may_on_name("read"))]
Writer = Annotated[Principal, Depends(may_on_name("write"))]
# Labels (64 x ~320 characters) and a description of 64 KiB, with room for JSON's escapes.
NotesBody = Annotated[dict[str, Any], Depends(json_body(trust.MAX_RECORD_BYTES))]
_BODY = documented(
    {
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "description": {"type": "string"},
        "expected_seq": {"type": "integer", "minimum": 0},
    },
    ("labels", "description", "expected_seq"),
)


@router.get(f"{ASSET}/notes", summary="An asset's labels and description")
def asset_notes(name: str, _: Reader, context: Context) -> dict[str, Any]:
    return context.store.read_notes(path_name(name)).to_dict()


@router.get(f"{ASSET}/notes/history", summary="Every record of an asset's notes, oldest first")
def asset_notes_history(name: str, _: Reader, context: Context) -> dict[str, Any]:
    return _history(context.store.notes_history(path_name(name)))


@router.put(
    f"{ASSET}/notes",
    status_code=201,
    summary="Replace an asset's notes (compare-and-swap)",
    openapi_extra=_BODY,
)
def write_asset_notes(
    request: Request, name: str, principal: Writer, body: NotesBody, context: Context
) -> dict[str, Any]:
    return _write(request, principal, context.store, path_name(name), None, body)


@router.get(f"{_VERSION}/notes", summary="A version's labels and description")
def version_notes(name: str, version: str, _: Reader, context: Context) -> dict[str, Any]:
    return context.store.read_notes(path_name(name), path_version(version)).to_dict()


@router.get(f"{_VERSION}/notes/history", summary="Every record of a version's notes, oldest first")
def version_notes_history(name: str, version: str, _: Reader, context: Context) -> dict[str, Any]:
    return _history(context.store.notes_history(path_name(name), path_version(version)))


@router.put(
    f"{_VERSION}/notes",
    status_code=201,
    summary="Replace a version's notes (compare-and-swap)",
    openapi_extra=_BODY,
)
def write_version_notes(
    request: Request,
    name: str,
    version: str,
    principal: Writer,
    body: NotesBody,
    context: Context,
) -> dict[str, Any]:
    return _write(request, principal, context.store, path_name(name), path_version(version), body)


def _history(records: list[Notes]) -> dict[str, Any]:
    return {"history": [record.to_dict() for record in records]}


def _write(
    request: Request,
    principal: Principal,
    store: Store,
    name: str,
    version: str | None,
    body: dict[str, Any],
) -> dict[str, Any]:
    what = notes_target(name, version)
    expected = field(body, "expected_seq", int)
    if expected < 0:
        raise InvalidInputError(f"expected_seq for the notes of {what} must be 0 or more")
    labels, description = checked_notes(
        field(body, "labels", dict), field(body, "description", str), what
    )
    record = store.write_notes(
        name,
        version,
        labels=labels,
        description=description,
        expected_seq=expected,
        writer=writer_of(principal),
    )
    fields: dict[str, Any] = {} if version is None else {"version": version}
    audit_done_write(
        store,
        name,
        "label",
        **fields,
        seq=record.seq,
        labels=record.labels_text(),
        description_changed=_description_changed(store, name, version, record),
        **audit_of(request, principal),
    )
    return record.to_dict()


def _description_changed(store: Store, name: str, version: str | None, record: Notes) -> bool:
    """Whether ``record`` changed the description of the record it replaced (an unreadable
    record replaced counts as changed)."""
    if record.seq == 1:
        return bool(record.description)
    try:
        previous = store.notes_record(name, version, record.seq - 1)
    except (UntrustedStoreDataError, ObjectNotFoundError):
        return True
    return previous.description != record.description
