"""Blobs of a registry store: uploads in one ``PUT`` or through a resumable upload session, and
batched presence lookups (the reads are ``_http_reads``).

Bytes are never held whole: an upload sends a file
(or another store's blob) piece by piece from its offset. Every upload is hashed as it is sent
and stops before the last byte when the bytes are not the blob's; the registry checks them again
before anything is stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from modelshelf.errors import (
    IntegrityError,
    ModelshelfError,
    SourcePathError,
    StoreError,
    StoreUnreachableError,
)
from modelshelf.store._http_transport import Transport
from modelshelf.store.http_protocol import (
    CHUNK,
    MAX_BATCH,
    MAX_JSON_BODY,
    UPLOAD_OFFSET_HEADER,
)
from modelshelf.transfer.download import BlobReader
from modelshelf.transfer.verified_upload import HashedBytes

__all__ = ["PresentBatcher", "has_blob", "put_blob"]

PIECE = 1 << 20
"""Bytes read from a file (or received) at a time."""
MAX_RESUMES = 5
_UPLOAD_ID = re.compile(r"[A-Za-z0-9._-]{1,200}")


# -- uploads -----------------------------------------------------------------------------------
Pieces = Callable[[int, int], Iterator[bytes]]
"""The bytes ``[start, end)`` of what is uploaded, in pieces."""


class _Checked:
    """The upload's sha256 and length, fed in order as pieces are sent (a resent piece is not
    hashed twice); :meth:`fail` stops the upload before a last byte that is not the blob's."""

    def __init__(self, sha256: str, size: int, mismatch: Callable[[str], ModelshelfError]):
        self._sha256, self._size, self._mismatch = sha256, size, mismatch
        self._digest = hashlib.sha256()
        self.position = 0
        self.failure: ModelshelfError | None = None

    def send(self, start: int, pieces: Iterator[bytes], end: int) -> Iterator[bytes]:
        offset = start
        for piece in pieces:
            if offset + len(piece) > end:
                self.fail(f"it holds more than the {self._size} bytes hashed")
            fresh = offset + len(piece) - self.position
            if 0 < fresh <= len(piece):
                self._digest.update(piece[len(piece) - fresh :])
                self.position += fresh
            offset += len(piece)
            if self.position == self._size:
                self.check()  # before the last piece leaves
            yield piece
        if offset < end:
            self.fail(f"it ends after {offset} of the {self._size} bytes hashed")

    def check(self) -> None:
        if self.failure is not None:
            raise self.failure
        if self.position != self._size:
            self.fail(f"only {self.position} of its {self._size} bytes were read")
        actual = self._digest.hexdigest()
        if actual != self._sha256:
            self.fail(f"its bytes hash to {actual}, not {self._sha256}")

    def fail(self, reason: str) -> None:
        self.failure = self._mismatch(reason)
        raise self.failure


def _file_pieces(path: Path) -> Pieces:
    def pieces(start: int, end: int) -> Iterator[bytes]:
        fd = os.open(path, os.O_RDONLY)
        try:
            offset = start
            while offset < end:
                data = os.pread(fd, min(PIECE, end - offset), offset)
                if not data:
                    return
                offset += len(data)
                yield data
        finally:
            os.close(fd)

    return pieces


def _reader_pieces(blob: BlobReader) -> Pieces:
    def pieces(start: int, end: int) -> Iterator[bytes]:
        for piece in blob.read_chunks(start, end):
            yield bytes(piece)

    return pieces


def put_blob(
    transport: Transport,
    sha256: str,
    source: Path | BlobReader | HashedBytes,
    size: int | None,
    *,
    max_single: int,
) -> None:
    """Store ``source`` as blob ``sha256``: one ``PUT`` up to ``max_single`` bytes, an upload
    session beyond. Verified as it is sent.

    Raises:
        SourcePathError: a local file changed since it was hashed; nothing was stored.
        IntegrityError: another store's blob is not ``sha256``; nothing was stored.
    """
    pieces: Pieces
    mismatch: Callable[[str], ModelshelfError]
    if isinstance(source, HashedBytes):
        if source.sha256 != sha256:
            raise ValueError(f"the bytes hash to {source.sha256}, not {sha256}")
        data = source.data
        size = len(data)
        pieces = lambda start, end: iter((data[start:end],))  # noqa: E731 - one piece
        mismatch = lambda reason: StoreError(reason)  # noqa: E731 - cannot happen: hashed here
    elif isinstance(source, Path):
        size = source.stat().st_size if size is None else size
        pieces, path = _file_pieces(source), source

        def mismatch(reason: str) -> ModelshelfError:
            return SourcePathError(path, f"it changed while being pushed ({reason}); push again")
    else:
        size = source.size() if size is None else size
        pieces, blob = _reader_pieces(source), source

        def mismatch(reason: str) -> ModelshelfError:
            return IntegrityError(
                blob.name, sha256, f"bytes that fail the check ({reason})", blob.where
            )

    upload = _Upload(sha256, size, pieces, mismatch)
    if size <= max_single:
        _put_single(transport, upload)
    else:
        _Session(transport, upload).run()


@dataclass(frozen=True)
class _Upload:
    """What is uploaded: its name and size, its bytes by range, the error if they are not it."""

    sha256: str
    size: int
    pieces: Pieces
    mismatch: Callable[[str], ModelshelfError]


def _put_single(transport: Transport, upload: _Upload) -> None:
    checked: list[_Checked] = []
    sha256, size, pieces = upload.sha256, upload.size, upload.pieces

    def body() -> Iterator[bytes]:
        check = _Checked(sha256, size, upload.mismatch)
        checked.append(check)
        if size == 0:
            check.check()
        return check.send(0, pieces(0, size), size)

    try:
        response = transport.send(
            "PUT",
            f"/blobs/{sha256}",
            body=body,
            headers={"Content-Length": str(size), "Content-Type": "application/octet-stream"},
            idempotent=True,
            ok=(200, 201),
        )
    except Exception:
        if checked and checked[-1].failure is not None:
            raise checked[-1].failure from None
        raise
    response.close()


class _Session:
    """One upload session: ``POST`` to open, a ``PATCH`` per chunk, ``PUT`` to finish; a
    dropped chunk resumes where the registry says it stands (``GET /uploads/{ID}``)."""

    def __init__(self, transport: Transport, upload: _Upload) -> None:
        self._transport, self._sha256, self._size = transport, upload.sha256, upload.size
        self._pieces = upload.pieces
        self._checked = _Checked(upload.sha256, upload.size, upload.mismatch)
        self._path = ""

    def run(self) -> None:
        opened = self._transport.json(
            "POST",
            f"/blobs/{self._sha256}/uploads",
            payload={"size": self._size},
            limit=MAX_JSON_BODY,
            what="the answer to opening an upload session",
            ok=(200, 201),
        )
        if opened.get("present") is True:
            return  # stored at this size already
        upload = opened.get("upload")
        if not isinstance(upload, str) or not _UPLOAD_ID.fullmatch(upload):
            raise self._transport.untrusted("an upload session's id is missing or malformed")
        chunk = opened.get("chunk")
        chunk = chunk if type(chunk) is int and 0 < chunk <= CHUNK else CHUNK
        self._path = f"/uploads/{upload}"
        try:
            self._send_chunks(self._offset(opened), chunk)
            self._checked.check()
            self._finish()
        except BaseException:
            self._abort()
            raise

    def _send_chunks(self, offset: int, chunk: int) -> None:
        resumes = 0
        while offset < self._size:
            start, end = offset, min(offset + chunk, self._size)
            try:
                response = self._transport.send(
                    "PATCH",
                    self._path,
                    body=self._chunk_body(start, end),
                    headers={
                        UPLOAD_OFFSET_HEADER: str(start),
                        "Content-Length": str(end - start),
                        "Content-Type": "application/octet-stream",
                    },
                    idempotent=False,
                    ok=(202, 416),
                )
            except StoreUnreachableError:
                if self._checked.failure is not None:
                    raise self._checked.failure from None
                resumes += 1
                if resumes > MAX_RESUMES:
                    raise
                offset = self._offset(self._status())
                continue
            except Exception:
                if self._checked.failure is not None:
                    raise self._checked.failure from None
                raise
            if response.status_code == 416:  # the registry stands elsewhere: ask where
                response.close()
                resumes += 1
                if resumes > MAX_RESUMES:
                    raise StoreError(f"the upload session {self._where} kept losing its place")
                offset = self._offset(self._status())
                continue
            offset = self._offset(
                self._transport.json_of(response, MAX_JSON_BODY, "the answer to a chunk")
            )
            if offset != end:
                raise self._transport.untrusted(
                    f"the upload session {self._where} stands at {offset} after a chunk that"
                    f" ended at {end}"
                )

    def _chunk_body(self, start: int, end: int) -> Callable[[], Iterator[bytes]]:
        return lambda: self._checked.send(start, self._pieces(start, end), end)

    @property
    def _where(self) -> str:
        return self._transport.api_url(self._path)

    def _status(self) -> dict[str, object]:
        return self._transport.json(
            "GET", self._path, limit=MAX_JSON_BODY, what="an upload session's state"
        )

    def _offset(self, answer: dict[str, object]) -> int:
        offset = answer.get("offset", 0)
        # Chunks are stored whole or not at all, so the registry never stands past what we sent.
        if type(offset) is not int or not 0 <= offset <= min(self._size, self._checked.position):
            raise self._transport.untrusted(
                f"the upload session {self._where or self._sha256} gave the offset {offset!r}"
            )
        return offset

    def _finish(self) -> None:
        """``PUT`` the session, retried on a 503 or a dropped connection as a chunk is: the
        registry's finish is safe to repeat (it stores the blob from the pieces, or, the blob
        present, just deletes the session). A finish whose first try stored the blob meets no
        session the second time (404): the blob present at its size is the success. Left
        failing for a passing reason (the registry unreachable or unavailable), the session is
        kept, not aborted: the registry may be storing it still, and drops it after 24 h."""
        try:
            response = self._transport.send("PUT", self._path, idempotent=True, ok=(200, 201, 404))
        except StoreUnreachableError:  # StoreUnavailableError too: both pass
            self._path = ""  # kept: never aborted on a passing failure
            if not _present_at(self._transport, self._sha256, self._size):
                raise
            return
        if response.status_code == 404 and not _present_at(
            self._transport, self._sha256, self._size
        ):
            raise self._transport.error_of(response)
        response.close()
        self._path = ""  # finished: nothing to abort

    def _abort(self) -> None:
        if not self._path:
            return
        with contextlib.suppress(ModelshelfError):  # best effort: gc drops old sessions
            self._transport.send("DELETE", self._path, idempotent=True, ok=(204, 200, 404)).close()


def _present_at(transport: Transport, sha256: str, size: int) -> bool:
    response = transport.send("HEAD", f"/blobs/{sha256}", ok=(200, 404))
    response.close()
    return response.status_code == 200 and response.headers.get("Content-Length") == str(size)


def has_blob(transport: Transport, sha256: str, size: int | None) -> bool:
    """Whether the registry stores ``sha256`` (at ``size`` bytes, when given): one HEAD."""
    response = transport.send("HEAD", f"/blobs/{sha256}", ok=(200, 404))
    response.close()
    if response.status_code == 404:
        return False
    return size is None or response.headers.get("Content-Length") == str(size)


class PresentBatcher:
    """A thread-safe ``has_blob(sha256, size)`` that asks about many blobs in one request.

    Lookups that arrive while a ``POST /blobs/present`` is in flight wait and go together in
    the next one, sent by the thread that came first (no timer, no extra thread): a push on N
    threads asks in batches of about N, a single thread one at a time.
    """

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._lock = threading.Lock()
        self._pending: list[tuple[str, int, Future[bool]]] = []
        self._running = False

    def __call__(self, sha256: str, size: int) -> bool:
        answer: Future[bool] = Future()
        with self._lock:
            self._pending.append((sha256, size, answer))
            lead, self._running = not self._running, True
        if lead:
            self._drain()
        return answer.result()

    def _drain(self) -> None:
        while True:
            with self._lock:
                batch = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
                if not batch:
                    self._running = False
                    return
            try:
                found = self._ask([(sha, size) for sha, size, _ in batch])
            except BaseException as exc:  # every waiter of the batch sees the failure
                for _, _, answer in batch:
                    answer.set_exception(exc)
                continue
            for (_, _, answer), present in zip(batch, found, strict=True):
                answer.set_result(present)

    def _ask(self, blobs: list[tuple[str, int]]) -> list[bool]:
        answer = self._transport.json(
            "POST",
            "/blobs/present",
            payload={"blobs": [list(b) for b in blobs]},
            limit=MAX_JSON_BODY,
            what="the answer to which blobs are present",
            idempotent=True,
        )
        present = answer.get("present")
        if not isinstance(present, list) or len(present) != len(blobs):
            raise self._transport.untrusted("the answer to which blobs are present has the"
                                            " wrong length")  # fmt: skip
        if not all(type(p) is bool for p in present):
            raise self._transport.untrusted("the answer to which blobs are present holds"
                                            " something other than true or false")  # fmt: skip
        return present
