"""Blob routes: ``HEAD``/``GET``/``PUT /blobs/{sha256}`` and ``POST /blobs/present``.

A blob is named by its content, so any read scope (or the anonymous-read prefixes) reads every
blob and any write scope uploads (and asks which blobs are present: that serves pushes). Bytes
never sit whole in memory: a download streams from the store in pieces of
``constants.STREAM_CHUNK_SIZE`` (1 MiB), or is a ``307`` to a presigned URL of the store when
the backend can sign (the client then fetches it with no credentials); an upload is spooled to
a temporary file while it is hashed, and stored only if it hashes to its name. :data:`router`
also carries the upload-session routes (:mod:`modelshelf.registry.uploads`), so the app mounts
one router for both.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from modelshelf.errors import InvalidInputError, ObjectNotFoundError, StoreError
from modelshelf.registry import uploads
from modelshelf.registry._blob_io import (
    check_sha256,
    content_length,
    integrity_error,
    length_mismatch,
    parse_range,
    spooled_body,
    storing,
)
from modelshelf.registry.auth import context_of, principal_of
from modelshelf.registry.bodies import decode_object, read_bounded
from modelshelf.registry.context import Principal, RegistryContext
from modelshelf.store.bucket import Store
from modelshelf.store.http_protocol import MAX_BATCH, MAX_JSON_BODY, NO_REDIRECT_HEADER
from modelshelf.transfer.verified_upload import HashedBytes

__all__ = ["PRESIGNED_SECONDS", "router"]

_log = logging.getLogger(__name__)

PRESIGNED_SECONDS = 300
"""How long the presigned URL of a blob redirect stays valid (the client uses it at once)."""

Context = Annotated[RegistryContext, Depends(context_of)]
Caller = Annotated[Principal, Depends(principal_of)]

router = APIRouter()
router.include_router(uploads.router)


def _missing(sha256: str) -> ObjectNotFoundError:
    return ObjectNotFoundError(f"the registry holds no blob {sha256}")


async def _size_of(context: RegistryContext, sha256: str) -> int:
    """The stored blob's size (one HEAD on the store).

    Raises:
        ObjectNotFoundError: there is no such blob (answered 404).
    """
    try:
        size: int = await run_in_threadpool(context.store.open_blob(sha256).size)
    except ObjectNotFoundError:
        raise _missing(sha256) from None
    return size


@router.head("/blobs/{sha256}")
async def head_blob(sha256: str, context: Context, caller: Caller) -> Response:
    """200 with the blob's size as ``Content-Length``, or 404."""
    caller.require_any("read")
    size = await _size_of(context, check_sha256(sha256))
    return Response(headers=_blob_headers(sha256, size), media_type="application/octet-stream")


def _blob_headers(sha256: str, size: int) -> dict[str, str]:
    return {"Content-Length": str(size), "Accept-Ranges": "bytes", "ETag": f'"{sha256}"'}


@router.get("/blobs/{sha256}")
async def get_blob(sha256: str, request: Request, context: Context, caller: Caller) -> Response:
    """The blob's bytes (206 for a ``Range``), or a 307 to a presigned URL of the store."""
    caller.require_any("read")
    size = await _size_of(context, check_sha256(sha256))
    if context.redirect and request.headers.get(NO_REDIRECT_HEADER) != "1":
        url = await _presigned(context, sha256)
        if url is not None:
            return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})
    wanted = parse_range(request.headers.get("range"), size)
    start, end = (wanted.start, wanted.end) if wanted else (0, size)
    headers = _blob_headers(sha256, size)
    headers["Content-Length"] = str(end - start)
    if wanted is not None:
        headers["Content-Range"] = wanted.content_range
    # A sync iterator: Starlette pulls each piece in a worker thread, so the store's blocking
    # reads never stall the event loop, and one piece (1 MiB) at a time is in memory.
    pieces = context.store.open_blob(sha256).read_chunks(start, end) if end > start else iter(())
    return StreamingResponse(
        pieces,
        status_code=206 if wanted is not None else 200,
        headers=headers,
        media_type="application/octet-stream",
    )


async def _presigned(context: RegistryContext, sha256: str) -> str | None:
    """A presigned GET URL of the blob, or ``None`` (the backend cannot sign, or failed to:
    the bytes are then streamed, which works wherever the store can be read)."""
    try:
        url = await run_in_threadpool(context.store.signed_blob_url, sha256, PRESIGNED_SECONDS)
    except StoreError as exc:
        _log.warning("cannot presign blob %s (streaming it instead): %s", sha256, exc)
        return None
    return url


@router.post("/blobs/present")
async def blobs_present(request: Request, context: Context, caller: Caller) -> Response:
    """``{"blobs": [[sha256, size], ...]}`` -> ``{"present": [bool, ...]}``, in order.

    Up to 10,000 lookups (shard listings) for one small request: it serves pushes, so it takes
    a write scope, never a reader's or an anonymous caller's (who read a blob by its HEAD).
    """
    caller.require_any("write")
    body = decode_object(await read_bounded(request, MAX_JSON_BODY))
    asked = _blob_list(body)
    finder = context.store.blob_finder(len(asked))
    present = await run_in_threadpool(lambda: [finder(sha, size) for sha, size in asked])
    return JSONResponse({"present": present})


def _blob_list(body: Any) -> list[tuple[str, int]]:
    """The checked ``blobs`` of a ``present`` request.

    Raises:
        InvalidInputError: not ``{"blobs": [[sha256, size], ...]}`` with at most
            :data:`MAX_BATCH` pairs of a blob name and a size >= 0.
    """
    blobs = body.get("blobs") if isinstance(body, dict) else None
    if not isinstance(blobs, list) or len(blobs) > MAX_BATCH:
        raise InvalidInputError(
            f'the body must be {{"blobs": [[sha256, size], ...]}} with at most {MAX_BATCH} pairs'
        )
    found = []
    for pair in blobs:
        valid = isinstance(pair, list) and len(pair) == 2
        sha, size = pair if valid else ("", -1)
        if not isinstance(sha, str) or type(size) is not int or size < 0:
            raise InvalidInputError(
                "each entry of blobs must be [sha256, size]: a blob name and a size in bytes"
            )
        found.append((check_sha256(sha), size))
    return found


SMALL_BLOB = 1 << 20
"""Blobs up to this size are uploaded from memory: no spool file, and no wait for a large
write's turn (2,000 files of 64 KiB are 2,000 uploads; their memory is small)."""


def _put_small(store: Store, sha256: str, data: bytes, length: int) -> None:
    """Store ``data`` as the blob ``sha256`` if it is ``length`` bytes that hash to it."""
    if len(data) != length:
        raise length_mismatch(length, "fewer")
    hashed = HashedBytes(data)
    if hashed.sha256 != sha256:
        raise integrity_error(sha256, hashed.sha256, length, "the upload")
    store.put_blob(sha256, hashed)  # content-addressed: a racing writer puts the same bytes


@router.put("/blobs/{sha256}")
async def put_blob(sha256: str, request: Request, context: Context, caller: Caller) -> Response:
    """Store the body as the blob ``sha256`` if it hashes to it: 201, or 200 if already there.

    ``Content-Length`` is required (411) and at most ``max_single`` (413: use a session);
    the body is spooled to disk while hashed (held in memory up to :data:`SMALL_BLOB`), and
    nothing is stored unless it matches (422).
    """
    caller.require_any("write")
    check_sha256(sha256)
    try:
        length = content_length(
            request,
            uploads.MAX_SINGLE,
            f"send a blob this large through an upload session (POST /api/v1/blobs/{sha256}"
            "/uploads)",
        )
        if length <= SMALL_BLOB:
            data = await read_bounded(request, length, "the blob")
            await run_in_threadpool(_put_small, context.store, sha256, data, length)
            return Response(status_code=201)
        async with spooled_body(request, context.spool_dir, length) as body:
            if body.sha256 != sha256:
                raise integrity_error(sha256, body.sha256, body.size, "the upload")
            if await run_in_threadpool(context.store.has_blob, sha256, body.size):
                return Response(status_code=200)
            await storing(context, context.store.put_blob, sha256, body.path, body.size)
    except ClientDisconnect:
        return Response(status_code=400)  # nobody reads it: the client is gone
    return Response(status_code=201)
