"""Concurrent, hashed transfers between local files and a backend.

A download is a series of ranged GETs of ``RANGE_SIZE`` bytes: a bounded window of them is in
flight, each worker writes its range at its offset as it arrives, and this thread feeds the
ranges to sha256 in order (hashlib releases the GIL on large updates). Hashing thus overlaps the
transfer and the writes instead of re-reading the file afterwards, and no byte is copied between
the store client's buffer, the file and the hash.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, Protocol, TypeVar, cast

from modelshelf import constants
from modelshelf._progress import ProgressTask
from modelshelf.backends.base import Backend
from modelshelf.errors import (
    CacheWriteError,
    IntegrityError,
    ObjectNotFoundError,
    SourcePathError,
    StoreAuthError,
    StoreError,
    StoreUnreachableError,
)

__all__ = [
    "HashedBytes",
    "VerifyingReader",
    "download_verified",
    "hash_file",
    "hash_object",
    "run_concurrently",
    "run_per_blob",
    "upload_hashed",
    "upload_verified",
]

T = TypeVar("T")
R = TypeVar("R")


class _Blob(Protocol):
    """What :func:`run_per_blob` needs of an entry (a manifest's ``FileEntry``)."""

    @property
    def sha256(self) -> str: ...

    @property
    def size(self) -> int: ...


E = TypeVar("E", bound=_Blob)


def hash_file(path: Path, progress: ProgressTask | None = None) -> str:
    """The sha256 (hex) of a local file, read in large chunks."""
    digest = hashlib.sha256()
    with path.open("rb", buffering=0) as handle:
        while chunk := handle.read(constants.CHUNK_SIZE):
            digest.update(chunk)
            if progress is not None:
                progress.advance(len(chunk))
    return digest.hexdigest()


class SourceChanged(OSError):  # noqa: N818 - raised into the store client, never to callers
    """Raised from :meth:`VerifyingReader.read` so that the upload reading it fails."""


class VerifyingReader(io.RawIOBase):
    """A binary reader over a local file that checks, as it is read, that it is what was hashed.

    Every ``read`` feeds sha256 and counts bytes. The read that reaches ``size`` bytes compares
    the digest with ``sha256`` *before* returning its bytes, a read past ``size`` or an early end
    of file fails too, so the reading store client never holds a complete body that is not the
    expected content: a single PUT is never sent, a multipart upload is never completed.

    Attributes:
        failure: why the content was refused (``None`` while it matches).
        verified: every expected byte was read and matched.
    """

    def __init__(self, raw: BinaryIO, size: int, sha256: str) -> None:
        super().__init__()
        self._raw, self._size, self._expected = raw, size, sha256
        self._digest = hashlib.sha256()
        self._seen = self._position = 0
        self.failure: str | None = None
        self.verified = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._raw.seekable()

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move as the raw file does; back at 0, verification starts over (a retried upload)."""
        self._position = self._raw.seek(offset, whence)
        if self._position == 0 and self.failure is None:
            self._digest, self._seen, self.verified = hashlib.sha256(), 0, False
        return self._position

    def _fail(self, reason: str) -> NoReturn:
        self.failure = reason
        raise SourceChanged(reason)

    def read(self, size: int | None = -1) -> bytes:
        if self.failure is not None:
            raise SourceChanged(self.failure)
        if self._position != self._seen:  # a store client's bug, not a change of the file
            raise io.UnsupportedOperation("a verified upload must be read in order from 0")
        data = self._raw.read(-1 if size is None else size)
        self._seen += len(data)
        self._position = self._seen
        if self._seen > self._size:
            self._fail(f"it now holds more than the {self._size} bytes hashed")
        self._digest.update(data)
        if self._seen == self._size and not self.verified:
            actual = self._digest.hexdigest()
            if actual != self._expected:
                self._fail(f"its bytes now hash to {actual}, not {self._expected}")
            self.verified = True
        elif not data and self._seen < self._size:
            self._fail(f"it now ends after {self._seen} of the {self._size} bytes hashed")
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def upload_verified(backend: Backend, key: str, path: Path, size: int, sha256: str) -> None:
    """Upload the local file ``path`` to ``key`` only if its bytes are ``size`` and ``sha256``.

    The bytes are checked as the backend reads them (:class:`VerifyingReader`), so a file that
    changed since it was hashed makes the upload itself fail and nothing is stored: a content
    key only ever receives its own content, and no upload needs to be taken back.

    Raises:
        SourcePathError: the file changed since it was hashed; the store is untouched.
        StoreError: the store failed, or stored the object without reading all of it.
    """
    with path.open("rb", buffering=0) as raw:
        reader = VerifyingReader(raw, size, sha256)
        try:
            backend.put(key, cast("BinaryIO", reader))  # a binary file object, io's kind
        except Exception as exc:
            if reader.failure is None:
                raise
            raise SourcePathError(
                path, f"it changed while being pushed ({reader.failure}); push again"
            ) from exc
    if not reader.verified:
        raise StoreError(
            f"{backend.url}: the backend stored {key} without reading the whole upload; its"
            " put() must read a file object to the end"
        )


class HashedBytes:
    """Immutable bytes and the sha256 computed from exactly them, here, so the two cannot differ.

    The single-pass upload: a small file is read once into memory, hashed, and these very
    bytes are sent (:func:`upload_hashed`), so what is stored under a content key is what was
    hashed without a second read or a second hash of the file.
    """

    __slots__ = ("_data", "_sha256")

    def __init__(self, data: bytes) -> None:
        if type(data) is not bytes:  # a bytearray or a view could change after hashing
            raise TypeError(f"HashedBytes holds immutable bytes, not {type(data).__name__}")
        self._data = data
        self._sha256 = hashlib.sha256(data).hexdigest()  # releases the GIL on large data

    @property
    def data(self) -> bytes:
        """The bytes."""
        return self._data

    @property
    def sha256(self) -> str:
        """Their sha256 (hex)."""
        return self._sha256

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"HashedBytes({len(self._data)} bytes, sha256={self._sha256[:12]}...)"


def upload_hashed(backend: Backend, key: str, content: HashedBytes, sha256: str) -> None:
    """Upload ``content`` to ``key``, the content key of ``sha256``, in one request.

    Nothing is read or hashed again: :class:`HashedBytes` computed its digest from the very
    bytes that are sent, so comparing the two digests is the whole check.

    Raises:
        ValueError: ``content`` does not hash to ``sha256`` (a caller's bug); nothing is sent.
    """
    if content.sha256 != sha256:
        raise ValueError(f"{key}: the bytes hash to {content.sha256}, not {sha256}")
    backend.put(key, content.data)


def run_concurrently(
    fn: Callable[[T], R], items: Sequence[T], max_workers: int | None = None
) -> list[R]:
    """``[fn(i) for i in items]`` on a bounded thread pool, in order; the first error wins.

    On an error, work not yet started is cancelled before the error is raised, so a failing
    pull stops quickly instead of finishing every other download first.
    """
    if not items:
        return []
    workers = min(max_workers or constants.max_concurrency(), len(items))
    if workers == 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="modelshelf") as pool:
        futures = {pool.submit(fn, item): index for index, item in enumerate(items)}
        results: list[R | None] = [None] * len(items)
        try:
            for future in as_completed(futures):
                results[futures[future]] = future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return results  # type: ignore[return-value]


def run_per_blob(fn: Callable[[E], R], entries: Sequence[E]) -> dict[str, R]:
    """``{entry.sha256: fn(entry)}``: blobs of at most one range share one bounded pool; larger
    ones run one after another, each with its own window of ranges, so requests in flight
    stay bounded either way."""
    small = [e for e in entries if e.size <= constants.RANGE_SIZE]
    large = [e for e in entries if e.size > constants.RANGE_SIZE]
    found = dict(zip([e.sha256 for e in small], run_concurrently(fn, small), strict=True))
    found.update({e.sha256: fn(e) for e in large})
    return found


def _ranges(size: int, range_size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, size, range_size):
        yield start, min(start + range_size, size)


class BlobReader(Protocol):
    """Read access to one stored blob, as a store layout hands it out (``Store.open_blob``)."""

    @property
    def name(self) -> str:
        """The blob's name within its store (the key, for a bucket)."""
        ...

    @property
    def where(self) -> str:
        """Where the blob lies, for error messages (``s3://bucket/prefix/blobs/sha256/ab/...``)."""
        ...

    def size(self) -> int:
        """The stored size; raises ObjectNotFoundError when the blob is missing."""
        ...

    def read_range(self, start: int, end: int) -> bytes | memoryview:
        """Bytes ``[start, end)``."""
        ...


class ObjectBlob:
    """A blob that is one object under one key of a :class:`Backend` (the bucket layout)."""

    def __init__(self, backend: Backend, key: str) -> None:
        self.backend = backend
        self.key = key

    @property
    def name(self) -> str:
        return self.key

    @property
    def where(self) -> str:
        return f"{self.backend.url}/{self.key}"

    def size(self) -> int:
        return self.backend.head(self.key).size

    def read_range(self, start: int, end: int) -> bytes | memoryview:
        return self.backend.get_range(self.key, start, end)


def _fetch_to_file(blob: BlobReader, size: int, fd: int | None) -> Iterator[memoryview]:
    """Write the blob into ``fd`` (if any) by ranges, in parallel; yield the ranges in order."""

    def fetch(start: int, end: int) -> memoryview:
        data = memoryview(blob.read_range(start, end))
        view = data
        while view and fd is not None:
            view = view[os.pwrite(fd, view, start + data.nbytes - view.nbytes) :]
        return data

    # A generator, never a list: the size comes from a manifest, and a claim of 2**62 bytes
    # must not plan 2**38 ranges up front (callers compare it with the real size first).
    ranges = _ranges(size, constants.RANGE_SIZE)
    if size <= constants.RANGE_SIZE:
        yield from (fetch(start, end) for start, end in ranges)
        return
    window = max(2, constants.max_concurrency())
    pending: deque[Future[memoryview]] = deque()
    with ThreadPoolExecutor(max_workers=window, thread_name_prefix="modelshelf-range") as pool:
        try:
            for start, end in ranges:
                pending.append(pool.submit(fetch, start, end))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def hash_object(
    blob: BlobReader, size: int, progress: ProgressTask | None = None
) -> tuple[str, int]:
    """The sha256 (hex) and length of the first ``size`` bytes of a blob, read by ranges.

    The same bounded window of ranged GETs as a download, hashed in order, nothing written.
    """
    digest = hashlib.sha256()
    received = 0
    for chunk in _fetch_to_file(blob, size, None):
        digest.update(chunk)
        received += chunk.nbytes
        if progress is not None:
            progress.advance(chunk.nbytes)
    return digest.hexdigest(), received


def _explain_damage(blob: BlobReader, size: int, expected: str, label: str, exc: Exception) -> None:
    """Turn a failed read of a missing or truncated blob into the IntegrityError it is."""
    try:
        _check_real_size(blob, size, expected, label)
    except IntegrityError as damage:
        raise damage from exc


def _check_real_size(blob: BlobReader, size: int, expected: str, label: str) -> None:
    """Raise :class:`IntegrityError` unless the blob holds ``size`` bytes."""
    where = blob.where
    try:
        actual = blob.size()
    except ObjectNotFoundError as exc:
        raise IntegrityError(label, expected, "nothing: the blob is missing", where) from exc
    except StoreError:
        return  # the store cannot tell us more now (restarting): report the read's own failure
    if actual != size:
        raise IntegrityError(
            label, expected, f"an object of {actual} bytes instead of {size}", where
        )


def download_verified(
    blob: BlobReader,
    size: int,
    expected_sha256: str,
    dest: Path,
    *,
    label: str,
    progress: ProgressTask | None = None,
) -> None:
    """Write the blob to the new file ``dest``, checking size and sha256 on the way.

    Args:
        label: what to call the content in an error (the file's path in its asset).

    Raises:
        IntegrityError: the bytes do not hash to ``expected_sha256`` or have the wrong size;
            ``dest`` is then left for the caller to delete.
        CacheWriteError: ``dest`` could not be written (a full disk); left for the caller too.
    """
    if size > constants.RANGE_SIZE:
        # One HEAD before planning many ranges: a manifest that lies about the size fails here,
        # naming both sizes, instead of fetching (or planning) ranges for bytes that are not
        # there. A single range needs no HEAD: a short or long object fails the checks below.
        _check_real_size(blob, size, expected_sha256, label)
    digest = hashlib.sha256()
    received = 0
    try:
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise CacheWriteError(label, str(dest.parent), exc) from exc
    try:
        for chunk in _fetch_to_file(blob, size, fd):
            digest.update(chunk)
            received += chunk.nbytes
            if progress is not None:
                progress.advance(chunk.nbytes)
    except (StoreUnreachableError, StoreAuthError):
        raise
    except StoreError as exc:
        _explain_damage(blob, size, expected_sha256, label, exc)
        raise
    except OSError as exc:  # the store's failures are StoreErrors: this is the local write
        raise CacheWriteError(label, str(dest.parent), exc) from exc
    finally:
        os.close(fd)
    actual = digest.hexdigest()
    if received != size or actual != expected_sha256:
        if size <= constants.RANGE_SIZE:
            with contextlib.suppress(StoreError):  # the size, if that is what is wrong
                _check_real_size(blob, size, expected_sha256, label)
        raise IntegrityError(
            label,
            expected_sha256,
            actual if received == size else f"{actual} ({received} bytes, expected {size})",
            where=blob.where,
        )
