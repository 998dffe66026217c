"""What the blob and upload routes share: request bodies spooled to disk while hashed, ranges,
and the answers whose HTTP status the error tree alone does not give (411, 413, 416).

A blob's body is never held in memory: it is read from the socket as it arrives, gathered in
buffers of :data:`SPOOL_BUFFER` bytes, and each buffer is hashed and written to a temporary file
in a worker thread, so the event loop never blocks on a disk or a hash.

Range grammar (RFC 9110, one range; anything else is answered whole)::

    Range = "bytes" "=" ( first "-" [ last ] | "-" suffix )      first, last, suffix: digits
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import anyio
import anyio.to_thread
from starlette.concurrency import run_in_threadpool

from modelshelf.errors import IntegrityError, InvalidInputError
from modelshelf.registry.bodies import Refusal

if TYPE_CHECKING:
    from starlette.requests import Request

    from modelshelf.registry.context import RegistryContext

__all__ = [
    "MAX_STORE_PUTS",
    "UPLOAD_PARTS_IN_FLIGHT",
    "SPOOL_BUFFER",
    "ByteRange",
    "Spooled",
    "check_sha256",
    "content_length",
    "integrity_error",
    "length_mismatch",
    "parse_range",
    "spooled_body",
    "storing",
]

SPOOL_BUFFER = 1 << 20
"""Bytes of a request body gathered before they are hashed and written (one thread hop each)."""
MAX_STORE_PUTS = 2
"""Blobs and session chunks one app writes into its store at once (the rest wait, spooled on
disk).

A store client buffers what it uploads: obstore sends a large object as 16 MiB parts, 8 at a
time by default, so each blob written cost the server ~80-120 MiB while it lasted (measured on
SeaweedFS; a chunk, stored as 8 MiB pieces, ~25 MiB). This bound and
:data:`UPLOAD_PARTS_IN_FLIGHT` keep a server's memory flat however many clients push at once.
8 clients pushing 256 MiB each (``make bench-registry`` with ``--quick --clients 8 --client-mib
256``), 2 parts in flight: peak 509 MiB with 4 writes at once and glibc's defaults, 273-360 MiB
with 4 and run._bound_allocator, 215 MiB with 2 (one run); 8 clients x 1 GiB with 2: 218 MiB."""
UPLOAD_PARTS_IN_FLIGHT = 2
"""Parts of one multipart upload the server's store sends at once (``Backend.
upload_parts_in_flight``): 2 x 16 MiB per blob written, for at most :data:`MAX_STORE_PUTS`
blobs."""

T = TypeVar("T")

_SHA256 = re.compile(r"[0-9a-f]{64}")
# At most 19 digits: every value fits an int64 and a huge one cannot cost time to convert.
_RANGE = re.compile(
    r"bytes[ \t]*=[ \t]*(?:([0-9]{1,19})[ \t]*-[ \t]*([0-9]{0,19})|-[ \t]*([0-9]{1,19}))",
    re.IGNORECASE,
)
_LENGTH = re.compile(r"[0-9]{1,19}")


async def storing(context: RegistryContext, write: Callable[..., T], *args: object) -> T:
    """Run ``write(*args)``, a blocking write of a whole blob into the store, in a worker
    thread, at most :data:`MAX_STORE_PUTS` at once in this app."""
    if context.store_puts is None:  # no await between the check and here: made once
        context.store_puts = anyio.CapacityLimiter(MAX_STORE_PUTS)
    return await anyio.to_thread.run_sync(write, *args, limiter=context.store_puts)


def check_sha256(text: str) -> str:
    """A blob name from a URL: 64 lowercase hex digits.

    Raises:
        InvalidInputError: anything else (answered 400).
    """
    if not _SHA256.fullmatch(text):
        raise InvalidInputError(
            f"{text[:80]!r} is not a blob name: a blob is named by the sha256 of its bytes, 64"
            " lowercase hex digits"
        )
    return text


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``[start, end)`` of an object of ``size`` bytes, as a ``Range`` header asked."""

    start: int
    end: int
    size: int

    @property
    def content_range(self) -> str:
        """The ``Content-Range`` header of a 206 answer."""
        return f"bytes {self.start}-{self.end - 1}/{self.size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range a ``Range`` header asks of an object of ``size`` bytes.

    ``None`` when the whole object is to be sent: no header, a header that does not parse, or
    several ranges (RFC 9110 lets a server ignore a Range it does not honour). A last byte
    past the end is cut to the end, as the RFC says.

    Raises:
        Refusal: 416 with ``Content-Range: bytes */size``: the range starts past the end (or
            asks for the last 0 bytes).

    Example:
        >>> parse_range("bytes=2-4", 10)
        ByteRange(start=2, end=5, size=10)
        >>> parse_range("bytes=-3", 10)
        ByteRange(start=7, end=10, size=10)
        >>> parse_range("bytes=0-1,4-5", 10) is None
        True
    """
    match = _RANGE.fullmatch(header.strip(" \t")) if header else None
    if match is None:
        return None
    first, last, suffix = match.groups()
    if suffix is not None:
        count = int(suffix)
        if count == 0 or size == 0:
            raise _unsatisfiable(header or "", size)
        return ByteRange(max(0, size - count), size, size)
    start = int(first)
    if last and int(last) < start:
        return None  # not a valid range: ignored, as the RFC says
    if start >= size:
        raise _unsatisfiable(header or "", size)
    end = min(int(last) + 1, size) if last else size
    return ByteRange(start, end, size)


def _unsatisfiable(header: str, size: int) -> Refusal:
    error = InvalidInputError(
        f"the range {header[:80]!r} lies outside the blob's {size} bytes; ask for bytes"
        f" between 0 and {max(size - 1, 0)}"
    )
    return Refusal(error, 416, {"Content-Range": f"bytes */{size}"})


def content_length(request: Request, limit: int, too_large: str) -> int:
    """The request's ``Content-Length``, checked before a byte of the body is read.

    Raises:
        Refusal: 411 when there is none (or it is not a number), 413 when it is over
            ``limit`` (the message ends with ``too_large``: what to do instead).
    """
    text = request.headers.get("content-length")
    if text is None or not _LENGTH.fullmatch(text.strip()):
        error = InvalidInputError(
            "this upload needs a Content-Length header giving its size in bytes (a body sent"
            " in chunks without one is refused)"
        )
        raise Refusal(error, 411)
    length = int(text)
    if length > limit:
        then = f"; {too_large}" if too_large else ""
        error = InvalidInputError(f"the body is {length} bytes, over the {limit} allowed{then}")
        raise Refusal(error, 413)
    return length


def integrity_error(sha256: str, actual: str, size: int, what: str) -> IntegrityError:
    """The 422 answer to bytes that are not the blob they were sent as: nothing was stored."""
    error = IntegrityError(f"blobs/{sha256}", sha256, actual)
    # IntegrityError's own text is about the cache; an upload's says what happened here.
    Exception.__init__(
        error,
        f"{what} of the blob {sha256} was refused: its {size} bytes hash to {actual}, not to"
        " the blob's name, so nothing was stored; send the file's bytes again (it may have"
        " changed while it was sent)",
    )
    return error


@dataclass(frozen=True)
class Spooled:
    """A request body written to a temporary file: where, how long, and its sha256."""

    path: Path
    size: int
    sha256: str


def _new_spool_file(folder: Path | None) -> tuple[int, Path]:
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="modelshelf-spool-", dir=folder)
    return fd, Path(name)


def _write_and_hash(fd: int, digest: hashlib._Hash, data: bytes) -> None:
    digest.update(data)  # hashlib lets go of the GIL for large buffers: threads overlap
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


@contextlib.asynccontextmanager
async def spooled_body(
    request: Request, folder: Path | None, length: int
) -> AsyncIterator[Spooled]:
    """Read the request body (``length`` bytes, as its ``Content-Length`` said) into a
    temporary file under ``folder`` (the system's temp folder if ``None``), hashing it on the
    way; the file is removed when the block ends, whatever happens.

    Raises:
        Refusal: 422 (an ``IntegrityError``) when the body is longer or shorter than
            ``length``.
        starlette.requests.ClientDisconnect: the client went away before the end (nothing is
            left behind).
    """
    fd, path = await run_in_threadpool(_new_spool_file, folder)
    digest = hashlib.sha256()
    received = 0
    try:
        try:
            buffer = bytearray()
            async for piece in request.stream():
                received += len(piece)
                if received > length:
                    raise length_mismatch(length, "more")
                buffer += piece
                if len(buffer) >= SPOOL_BUFFER:
                    await run_in_threadpool(_write_and_hash, fd, digest, bytes(buffer))
                    buffer.clear()
            if buffer:
                await run_in_threadpool(_write_and_hash, fd, digest, bytes(buffer))
        finally:
            os.close(fd)
        if received != length:
            raise length_mismatch(length, "fewer")
        yield Spooled(path, received, digest.hexdigest())
    finally:
        with contextlib.suppress(FileNotFoundError):
            await run_in_threadpool(path.unlink)


def length_mismatch(length: int, how: str) -> Refusal:
    """The 422 answer to a body of another length than its Content-Length said."""
    error = IntegrityError("the request body", f"{length} bytes", f"{how} bytes")
    Exception.__init__(
        error,
        f"the body held {how} bytes than its Content-Length of {length}; nothing was stored",
    )
    return Refusal(error, 422)
