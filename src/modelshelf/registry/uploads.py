"""Upload sessions: a blob too large for one ``PUT`` sent in chunks, resumable, kept in the store.

OCI distribution's POST/PATCH/PUT model, stateless on the server (any replica serves any
request)::

    registry/uploads/{ID}/session.json          {sha256, size, token, created}; create-only
    registry/uploads/{ID}/{offset:020d}         the bytes from that offset on; create-only

A ``PATCH`` is spooled to disk first, so a chunk cut mid-body stores nothing; the spooled chunk
is then stored as pieces of at most :data:`PIECE` bytes, each under its own offset (so the
server holds one piece in memory, not a 64 MiB chunk, where a store client buffers a single
request). The session's offset is the end of the pieces that follow each other from 0: what a
client resumes from after a dropped connection. The final ``PUT`` streams the pieces in order
through ``Store.put_blob`` (:class:`UploadedPieces`), which hashes them as they are uploaded:
the blob exists only if its bytes are its name.

A session belongs to the token that opened it (another token gets 404), its ID starts with the
token's name, and one token has at most :data:`MAX_OPEN_PER_TOKEN` sessions used within
:data:`SESSION_TTL`. They are counted from an empty marker per session,
``registry/upload-owners/{token}/{ID}``, rewritten by every chunk, so opening a session lists
only its token's markers, never every piece of every upload. Sessions nothing was written to
for that long are aborted by the server (:meth:`UploadBook.drop_stale`, when it starts and
then every hour; :mod:`modelshelf.registry._upload_keys` says which).
"""

from __future__ import annotations

import bisect
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response

from modelshelf.backends.base import Backend
from modelshelf.errors import (
    IntegrityError,
    InvalidInputError,
    ObjectExistsError,
    ObjectNotFoundError,
    UntrustedStoreDataError,
)
from modelshelf.registry._blob_io import (
    check_sha256,
    content_length,
    integrity_error,
    spooled_body,
    storing,
)
from modelshelf.registry._upload_keys import ID as _ID
from modelshelf.registry._upload_keys import (
    OWNERS,
    PREFIX,
    SESSION_TTL,
    stale_sessions,
)
from modelshelf.registry._upload_keys import PIECE_NAME as _PIECE_NAME
from modelshelf.registry._upload_keys import owner_key as _owner_key
from modelshelf.registry._upload_keys import piece_key as _piece_key
from modelshelf.registry._upload_keys import session_key as _session_key
from modelshelf.registry.auth import context_of, principal_of
from modelshelf.registry.bodies import Refusal, decode_object, read_bounded
from modelshelf.registry.context import Principal, RegistryContext
from modelshelf.store.bucket import Store
from modelshelf.store.http_protocol import (
    CHUNK as PROTOCOL_CHUNK,
)
from modelshelf.store.http_protocol import (
    MAX_SINGLE_UPLOAD,
    UPLOAD_OFFSET_HEADER,
)

__all__ = [
    "CHUNK",
    "MAX_BLOB",
    "MAX_OPEN_PER_TOKEN",
    "MAX_SINGLE",
    "MIN_CHUNK",
    "PIECE",
    "SESSION_TTL",
    "UploadBook",
    "UploadSession",
    "UploadedPieces",
    "router",
]

# Module globals, read at each request, so tests can make them small.
CHUNK = PROTOCOL_CHUNK
"""The largest ``PATCH`` body (the ``chunk`` a new session announces)."""
MAX_SINGLE = MAX_SINGLE_UPLOAD
"""The largest body of a blob's single ``PUT``."""
MIN_CHUNK = 1 << 20
"""The smallest chunk but the last (or ``CHUNK`` if smaller): bounds a session's objects."""
PIECE = 8 << 20
"""The most bytes of a chunk stored as one object (and held in memory while stored)."""
MAX_BLOB = 5 << 40
"""The largest blob a session takes: 5 TiB, the most S3 stores in one object."""
MAX_OPEN_PER_TOKEN = 16
"""Sessions one token may have open (younger than :data:`SESSION_TTL`) at once."""
_MAX_RECORD = 4096
_DIGITS = re.compile(r"[0-9]{1,19}")

Context = Annotated[RegistryContext, Depends(context_of)]
Caller = Annotated[Principal, Depends(principal_of)]

router = APIRouter()


@dataclass(frozen=True)
class UploadSession:
    """One session's record: the blob it uploads and who opened it."""

    id: str
    sha256: str
    size: int
    token: str
    created: str


def _no_session(upload_id: str) -> ObjectNotFoundError:
    return ObjectNotFoundError(
        f"there is no upload session {upload_id[:120]!r} of this token (it was finished,"
        " aborted, or opened by another token); start one with POST"
        " /api/v1/blobs/SHA256/uploads"
    )


class UploadBook:
    """The upload sessions of one store; every method blocks (routes run them in threads)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.backend = store.backend

    def open(self, sha256: str, size: int, token: str) -> UploadSession:
        """A new session for the blob ``sha256`` of ``size`` bytes, owned by ``token``.

        Raises:
            InvalidInputError: the token already has :data:`MAX_OPEN_PER_TOKEN` sessions.
        """
        if self._open_count(token) >= MAX_OPEN_PER_TOKEN:
            raise InvalidInputError(
                f"the token {token!r} has {MAX_OPEN_PER_TOKEN} upload sessions open, the most"
                " one token may hold; finish or abort one (DELETE /api/v1/uploads/ID), or wait"
                f" until one is {SESSION_TTL.total_seconds() / 3600:.0f} h old"
            )
        session = UploadSession(
            id=f"{token}_{uuid.uuid4().hex}",
            sha256=sha256,
            size=size,
            token=token,
            created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        record = {"sha256": sha256, "size": size, "token": token, "created": session.created}
        self.backend.put(_session_key(session.id), json.dumps(record).encode(), mode="create")
        self.backend.put(_owner_key(token, session.id), b"", mode="create")
        return session

    def _open_count(self, token: str) -> int:
        """This token's sessions younger than :data:`SESSION_TTL` (its markers), up to the
        bound: a marker a crash left behind stops counting after that."""
        since = datetime.now(UTC) - SESSION_TTL
        count = 0
        for meta in self.backend.list(f"{OWNERS}/{token}"):
            if meta.last_modified is None or meta.last_modified >= since:
                count += 1
                if count >= MAX_OPEN_PER_TOKEN:
                    break
        return count

    def session(self, upload_id: str, token: str) -> UploadSession:
        """The session ``upload_id`` if ``token`` opened it.

        Raises:
            ObjectNotFoundError: no such session, or another token's (the same answer).
            UntrustedStoreDataError: its record is not one this server writes.
        """
        owner = _ID.fullmatch(upload_id)
        if owner is None or owner.group(1) != token:
            raise _no_session(upload_id)
        key = _session_key(upload_id)
        try:
            data = b""
            for piece in self.backend.get(key, _MAX_RECORD):
                data += piece
                if len(data) > _MAX_RECORD:
                    raise _bad_record(key, f"over {_MAX_RECORD} bytes")
        except ObjectNotFoundError:
            raise _no_session(upload_id) from None
        session = _parse_record(upload_id, key, data)
        if session.token != token:
            raise _no_session(upload_id)
        return session

    def pieces(self, upload_id: str) -> list[tuple[int, int]]:
        """``(offset, size)`` of each stored piece that follows the ones before it from 0."""
        found: dict[int, int] = {}
        for meta in self.backend.list(f"{PREFIX}/{upload_id}"):
            name = meta.path.rsplit("/", 1)[-1]
            if _PIECE_NAME.fullmatch(name) and meta.size > 0:
                found[int(name)] = meta.size
        run, offset = [], 0
        while offset in found:  # a piece of a racing PATCH that lost is never reached
            run.append((offset, found[offset]))
            offset += found[offset]
        return run

    def offset(self, upload_id: str) -> int:
        """Where the next chunk starts: the end of :meth:`pieces`."""
        run = self.pieces(upload_id)
        return run[-1][0] + run[-1][1] if run else 0

    def store_chunk(self, session: UploadSession, start: int, path: Path, length: int) -> int:
        """Store a spooled chunk at ``start`` as pieces, each create-only; the new offset.

        Raises:
            ObjectExistsError: another request stored a piece at one of these offsets first.
        """
        with path.open("rb") as chunk:
            for done in range(0, length, PIECE):
                data = chunk.read(min(PIECE, length - done))
                self.backend.put(_piece_key(session.id, start + done), data, mode="create")
        return start + length

    def finish(self, session: UploadSession) -> None:
        """Store the session's bytes as its blob if they hash to it, then delete the session.

        Raises:
            InvalidInputError: the pieces do not reach the blob's size yet.
            IntegrityError: they are not the blob; nothing was stored (the session is deleted).
        """
        run = self.pieces(session.id)
        offset = run[-1][0] + run[-1][1] if run else 0
        if offset != session.size:
            raise InvalidInputError(
                f"the upload {session.id} holds {offset} of the blob's {session.size} bytes;"
                f" send the rest from offset {offset} (PATCH) before finishing it"
            )
        if not self.store.has_blob(session.sha256, session.size):
            reader = UploadedPieces(self.backend, session, run)
            try:
                self.store.put_blob(session.sha256, reader, session.size)
            except IntegrityError as exc:
                self.abort(session.id)
                found = re.search(r"hash to ([0-9a-f]{64})", str(exc.actual))
                actual = found.group(1) if found else "other bytes"
                raise integrity_error(
                    session.sha256, actual, session.size, f"the upload {session.id}"
                ) from None
        self.abort(session.id)

    def touch(self, session: UploadSession) -> None:
        """Mark ``session`` as in use now (its owner's marker, rewritten): the sweep judges a
        session by its last write, so one still receiving chunks is never dropped."""
        self.backend.put(_owner_key(session.token, session.id), b"")

    def drop_stale(self, now: datetime | None = None) -> int:
        """Abort every session nothing was written to for :data:`SESSION_TTL` (marker, record
        or piece), and every such folder of pieces without a record: what a client that never
        came back, or a chunk that raced a sweep, left in the store. Returns how many.

        Replicas may run it at once: deleting what another replica deleted is no error.
        """
        stale = stale_sessions(self.backend, (now or datetime.now(UTC)) - SESSION_TTL)
        for upload_id in stale:
            self.abort(upload_id)
        return len(stale)

    def abort(self, upload_id: str) -> None:
        """Delete the session's pieces, then its record (so it never lists pieces it lacks),
        then its owner's marker."""
        keys = [meta.path for meta in self.backend.list(f"{PREFIX}/{upload_id}")]
        record = _session_key(upload_id)
        for key in sorted(k for k in keys if k != record):
            self.backend.delete(key)
        self.backend.delete(record)
        owner = _ID.fullmatch(upload_id)
        if owner is not None:
            self.backend.delete(_owner_key(owner.group(1), upload_id))


def _bad_record(key: str, why: str) -> UntrustedStoreDataError:
    return UntrustedStoreDataError(
        f"the upload session record {key} is not one this registry writes ({why}); abort the"
        " session and start another"
    )


def _parse_record(upload_id: str, key: str, data: bytes) -> UploadSession:
    try:
        record = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise _bad_record(key, "not JSON") from None
    fields = record if isinstance(record, dict) else {}
    sha256, size = fields.get("sha256"), fields.get("size")
    token, created = fields.get("token"), fields.get("created")
    if not (
        isinstance(sha256, str)
        and re.fullmatch(r"[0-9a-f]{64}", sha256)
        and type(size) is int
        and 0 <= size <= MAX_BLOB
        and isinstance(token, str)
        and isinstance(created, str)
    ):
        raise _bad_record(key, "missing or malformed fields")
    return UploadSession(upload_id, sha256, size, token, created[:40])


class UploadedPieces:
    """A session's pieces read as one blob: the :class:`~modelshelf.transfer.download.BlobReader`
    that ``Store.put_blob`` streams (and hashes) into the blob."""

    def __init__(
        self, backend: Backend, session: UploadSession, run: list[tuple[int, int]]
    ) -> None:
        self.backend = backend
        self.session = session
        self._offsets = [offset for offset, _ in run]
        self._run = run

    @property
    def name(self) -> str:
        return f"upload {self.session.id}"

    @property
    def where(self) -> str:
        return f"the upload session {self.session.id}"

    def size(self) -> int:
        return self.session.size

    def _parts(self, start: int, end: int) -> Iterator[tuple[str, int, int]]:
        """``(key, start, end)`` within each piece that ``[start, end)`` covers."""
        index = max(0, bisect.bisect_right(self._offsets, start) - 1)
        while index < len(self._run) and start < end:
            offset, size = self._run[index]
            stop = min(end, offset + size)
            if stop > start:
                yield _piece_key(self.session.id, offset), start - offset, stop - offset
                start = stop
            index += 1

    def read_range(self, start: int, end: int) -> bytes | memoryview:
        parts = [self.backend.get_range(key, a, b) for key, a, b in self._parts(start, end)]
        # Ranges of 8 MiB from 0 fall within one piece of PIECE bytes: passed on, not copied.
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def read_chunks(self, start: int, end: int) -> Iterator[bytes | memoryview]:
        for key, a, b in self._parts(start, end):
            yield from self.backend.get_range_chunks(key, a, b, 1 << 20)


def _book(context: RegistryContext) -> UploadBook:
    return UploadBook(context.store)


@router.post("/blobs/{sha256}/uploads")
async def open_upload(sha256: str, request: Request, context: Context, caller: Caller) -> Response:
    """``{"size": N}`` -> 201 ``{"upload", "offset": 0, "chunk"}`` (``Location``: the session),
    or 200 ``{"present": true}`` when the store has the blob at that size."""
    caller.require_any("write")
    check_sha256(sha256)
    body = decode_object(await read_bounded(request, 4096))
    size = body.get("size") if isinstance(body, dict) else None
    if type(size) is not int or not 0 <= size <= MAX_BLOB:
        raise InvalidInputError(
            f'the body must be {{"size": N}}, N the blob\'s bytes <= {MAX_BLOB}'
        )
    if await run_in_threadpool(context.store.has_blob, sha256, size):
        return JSONResponse({"present": True})
    session = await run_in_threadpool(_book(context).open, sha256, size, caller.name)
    location = request.url_for("upload_status", upload_id=session.id).path
    return JSONResponse(
        {"upload": session.id, "offset": 0, "chunk": CHUNK},
        status_code=201,
        headers={"Location": location},
    )


@router.get("/uploads/{upload_id}", name="upload_status")
async def upload_status(upload_id: str, context: Context, caller: Caller) -> Response:
    """``{"offset", "size", "sha256"}``: where to resume."""
    caller.require_any("write")
    book = _book(context)
    session = await run_in_threadpool(book.session, upload_id, caller.name)
    offset = await run_in_threadpool(book.offset, upload_id)
    return JSONResponse({"offset": offset, "size": session.size, "sha256": session.sha256})


def _wrong_offset(upload_id: str, asked: int, current: int) -> Refusal:
    error = InvalidInputError(
        f"the upload {upload_id} is at offset {current}, not {asked}; send the chunk that"
        f" starts at {current} (GET /api/v1/uploads/{upload_id} says where to resume)"
    )
    return Refusal(error, 416, attrs={"offset": current})


@router.patch("/uploads/{upload_id}")
async def upload_chunk(
    upload_id: str, request: Request, context: Context, caller: Caller
) -> Response:
    """Store the body as the bytes from ``Upload-Offset`` on: 202 ``{"offset": new}``."""
    caller.require_any("write")
    book = _book(context)
    session = await run_in_threadpool(book.session, upload_id, caller.name)
    try:
        start_text = request.headers.get(UPLOAD_OFFSET_HEADER, "").strip()
        if not _DIGITS.fullmatch(start_text):
            raise InvalidInputError(f"a chunk needs an {UPLOAD_OFFSET_HEADER} header: its offset")
        start = int(start_text)
        length = content_length(request, CHUNK, f"send chunks of at most {CHUNK} bytes")
        _check_chunk(session, start, length)
        current = await run_in_threadpool(book.offset, upload_id)
        if start != current:
            raise _wrong_offset(upload_id, start, current)
        await run_in_threadpool(book.touch, session)
        async with spooled_body(request, context.spool_dir, length) as chunk:
            try:
                offset = await storing(
                    context, book.store_chunk, session, start, chunk.path, length
                )
            except ObjectExistsError:  # a racing PATCH stored this offset first
                current = await run_in_threadpool(book.offset, upload_id)
                raise _wrong_offset(upload_id, start, current) from None
    except ClientDisconnect:
        return Response(status_code=400)  # nobody reads it: the client is gone
    return JSONResponse({"offset": offset}, status_code=202)


def _check_chunk(session: UploadSession, start: int, length: int) -> None:
    """Refuse an empty chunk, one past the blob's end, or a small one that is not the last."""
    if length == 0 or start + length > session.size:
        raise InvalidInputError(
            f"a chunk of {length} bytes at offset {start} does not fit the blob's"
            f" {session.size} bytes (a chunk holds 1 byte or more, up to the end)"
        )
    smallest = min(MIN_CHUNK, CHUNK)
    if length < smallest and start + length < session.size:
        raise InvalidInputError(
            f"a chunk of {length} bytes is too small: every chunk but the last holds at least"
            f" {smallest} bytes"
        )


@router.put("/uploads/{upload_id}")
async def finish_upload(upload_id: str, context: Context, caller: Caller) -> Response:
    """Verify the session's bytes and store them as the blob: 201 ``{"sha256", "size"}``."""
    caller.require_any("write")
    book = _book(context)
    session = await run_in_threadpool(book.session, upload_id, caller.name)
    await storing(context, book.finish, session)
    return JSONResponse({"sha256": session.sha256, "size": session.size}, status_code=201)


@router.delete("/uploads/{upload_id}")
async def abort_upload(upload_id: str, context: Context, caller: Caller) -> Response:
    """Delete the session and its chunks: 204."""
    caller.require_any("write")
    book = _book(context)
    await run_in_threadpool(book.session, upload_id, caller.name)
    await run_in_threadpool(book.abort, upload_id)
    return Response(status_code=204)
