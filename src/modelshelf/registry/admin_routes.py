"""Administration over HTTP (``admin:*`` only): tokens, the blob listing and deletion, and gc's
quarantine, so that ``modelshelf registry token`` and ``modelshelf gc`` work through a server.

Plain ``def`` routes: FastAPI runs them in its thread pool, where the store's blocking calls
belong.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from modelshelf import trust
from modelshelf.errors import InvalidInputError
from modelshelf.registry.auth import Context, may_on_all, tokens_of
from modelshelf.registry.bodies import documented, field, json_body
from modelshelf.registry.context import Principal
from modelshelf.registry.tokens import TokenBook
from modelshelf.store.http_protocol import MAX_BATCH

__all__ = ["router"]

router = APIRouter(tags=["admin"])

_SHA256 = re.compile(r"[0-9a-f]{64}")
_RUN = re.compile(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{12}")
Admin = Annotated[Principal, Depends(may_on_all("admin"))]
JsonBody = Annotated[dict[str, Any], Depends(json_body())]
Tokens = Annotated[TokenBook, Depends(tokens_of)]


def _sha256(value: str) -> str:
    if not _SHA256.fullmatch(value):
        raise InvalidInputError(f"{trust.show(value)} is not a sha256 (64 lower-case hex digits)")
    return value


def _run(value: str) -> str:
    if not _RUN.fullmatch(value):
        raise InvalidInputError(
            f"{trust.show(value)} is not a gc run (YYYYMMDDTHHMMSSZ-<12 hex digits>)"
        )
    return value


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


# -- tokens --------------------------------------------------------------------------------------
@router.get("/tokens", summary="Every token (never a secret or its hash)")
def list_tokens(_: Admin, book: Tokens) -> dict[str, Any]:
    return {"tokens": book.list()}


@router.post(
    "/tokens",
    status_code=201,
    summary="Create a token; its text is shown once",
    openapi_extra=documented(
        {
            "name": {"type": "string"},
            "scopes": {"type": "array", "items": {"type": "string"}},
            "expires": {"type": ["string", "null"]},
        },
        ("name", "scopes"),
    ),
)
def create_token(
    principal: Admin,
    body: JsonBody,
    book: Tokens,
) -> dict[str, Any]:
    name = field(body, "name", str)
    scopes = field(body, "scopes", list)
    if not all(isinstance(s, str) for s in scopes):
        raise InvalidInputError("scopes must be a list of texts such as read:nlp/")
    expires = field(body, "expires", (str, type(None)), default=None)
    text, record = book.create(name, scopes, expires, created_by=principal.name)
    return {"token": text, **record}


@router.delete("/tokens/{name}", summary="Revoke a token, on every replica at once")
def revoke_token(name: str, _: Admin, book: Tokens) -> dict[str, Any]:
    return book.revoke(name)


# -- blobs ---------------------------------------------------------------------------------------
@router.get("/blobs", summary="Every stored blob, a page at a time (sorted by sha256)")
def list_blobs(
    _: Admin,
    context: Context,
    after: Annotated[str, Query(max_length=64)] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_BATCH)] = 1000,
) -> dict[str, Any]:
    found = sorted(
        (sha, meta.size, _iso(meta.last_modified))
        for sha, meta in context.store.blobs()
        if sha > after
    )
    page = found[:limit]
    more = len(found) > limit
    return {"blobs": [list(item) for item in page], "next": page[-1][0] if more else None}


@router.delete("/blobs/{sha256}", status_code=204, summary="Delete a blob (gc only)")
def delete_blob(sha256: str, _: Admin, context: Context) -> Response:
    context.store.delete_blob(_sha256(sha256))
    return Response(status_code=204)


# -- gc's quarantine -----------------------------------------------------------------------------
@router.get("/quarantine", summary="Every blob in a gc quarantine")
def list_quarantine(_: Admin, context: Context) -> dict[str, Any]:
    found = sorted(
        (run, sha, meta.size, _iso(meta.last_modified))
        for run, sha, meta in context.store.quarantined()
    )
    return {"blobs": [list(item) for item in found]}


@router.post("/quarantine/{run}/{sha256}", summary="Move a blob into a gc run's quarantine")
def quarantine_blob(
    run: str,
    sha256: str,
    _: Admin,
    context: Context,
) -> dict[str, Any]:
    context.store.quarantine_blob(_sha256(sha256), _run(run))  # 404 if it is gone already
    return {"run": run, "sha256": sha256}


@router.post(
    "/quarantine/{run}/{sha256}/restore",
    summary="Put a quarantined blob back (verified)",
    openapi_extra=documented({"size": {"type": "integer"}}, ("size",)),
)
def restore_blob(
    run: str,
    sha256: str,
    _: Admin,
    body: JsonBody,
    context: Context,
) -> dict[str, Any]:
    size = field(body, "size", int)
    try:
        trust.check_size(size)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None
    store = context.store
    store.restore_blob(_sha256(sha256), _run(run), size)  # 422 if its bytes are not the blob
    return {"run": run, "sha256": sha256}


@router.delete(
    "/quarantine/{run}/{sha256}", status_code=204, summary="End a quarantined blob's deletion"
)
def drop_quarantined(
    run: str,
    sha256: str,
    _: Admin,
    context: Context,
) -> Response:
    context.store.drop_quarantined(_sha256(sha256), _run(run))
    return Response(status_code=204)
