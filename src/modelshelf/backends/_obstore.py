"""A :class:`Backend` over any obstore store; obstore does the cloud protocols and signing.

SDK errors are translated here, once, most specific first, so nothing above this module sees an
obstore exception.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn

import obstore
from obstore import exceptions as obx

from modelshelf.backends.base import Backend, ObjectMeta, PutMode
from modelshelf.errors import (
    ObjectExistsError,
    ObjectNotFoundError,
    StoreAuthError,
    StoreError,
    StoreUnreachableError,
)

if TYPE_CHECKING:
    from obstore.store import ObjectStore

# Multipart parts: big enough that a 1 GiB file is ~64 requests, small enough to run in parallel.
_MULTIPART_CHUNK = 16 * 1024 * 1024
_MULTIPART_CONCURRENCY = 8

# Substrings of obstore's generic errors that mean "nobody answered".
_UNREACHABLE_HINTS = (
    "error sending request",
    "connection refused",
    "connect error",
    "tcp connect",
    "dns error",
    "timed out",
    "operation timed out",
    "failed to lookup address",
    "connection reset",
)
# obstore reports some refusals (e.g. on list) as generic errors carrying the HTTP status.
_AUTH_HINTS = (
    "403 forbidden",
    "401 unauthorized",
    "accessdenied",
    "signaturedoesnotmatch",
    "invalidaccesskeyid",
    "credential",
)

_STATUS = re.compile(r"\b([45]\d\d [A-Z][A-Za-z ]+?)(?::|$|\n)")

_HOST = re.compile(r"\b(https?://[^/\s]+)")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def translate_error(exc: BaseException, url: str, key: str) -> NoReturn:
    """Raise the modelshelf error that matches an obstore (or OS) exception."""
    where = f"{url.rstrip('/')}/{key}" if key else url
    if isinstance(exc, obx.NotFoundError | FileNotFoundError):
        raise ObjectNotFoundError(f"{where} does not exist") from exc
    if isinstance(exc, obx.AlreadyExistsError | obx.PreconditionError | FileExistsError):
        raise ObjectExistsError(f"{where} already exists") from exc
    text = str(exc).lower()
    refused = isinstance(exc, obx.PermissionDeniedError | obx.UnauthenticatedError)
    if refused or isinstance(exc, PermissionError) or any(h in text for h in _AUTH_HINTS):
        status = _STATUS.search(str(exc))
        raise StoreAuthError(
            f"{url} refused access to {key or 'the store'}"
            f" ({status.group(1) if status else _first_line(exc)}). Check the credentials"
            " (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE for s3://) and that"
            " they may read and write there."
        ) from exc
    hint = next((h for h in _UNREACHABLE_HINTS if h in text), None)
    if hint:
        host = _HOST.search(str(exc))
        raise StoreUnreachableError(
            f"cannot reach the store {url} ({hint}{' at ' + host.group(1) if host else ''})."
            " Check the URL and endpoint"
            " (AWS_ENDPOINT_URL) and that the server is running; cached versions stay usable"
            " with MODELSHELF_OFFLINE=1."
        ) from exc
    raise StoreError(f"{url}: {key or 'store'}: {_first_line(exc)}") from exc


_Translatable = (obx.BaseError, OSError)


class ObstoreBackend(Backend):
    """Adapts an ``obstore`` store (local, memory, S3, GCS, Azure) to :class:`Backend`."""

    def __init__(self, store: ObjectStore, url: str) -> None:
        self._store = store
        self.url = url

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
        try:
            result = obstore.get(self._store, key)
            stream = result.stream(min_chunk_size=chunk_size)
        except _Translatable as exc:
            translate_error(exc, self.url, key)
        while True:
            try:
                chunk = next(stream)
            except StopIteration:
                return
            except _Translatable as exc:
                translate_error(exc, self.url, key)
            yield bytes(chunk)

    def get_range(self, key: str, start: int, end: int) -> memoryview:
        try:
            # obstore's Bytes exposes the buffer protocol: a view, not a copy into bytes.
            return memoryview(obstore.get_range(self._store, key, start=start, end=end))
        except _Translatable as exc:
            translate_error(exc, self.url, key)

    def put(self, key: str, data: bytes | Path | BinaryIO, *, mode: PutMode = "overwrite") -> None:
        if isinstance(data, bytes):
            self._put(key, data, mode, use_multipart=False)
        elif isinstance(data, Path):
            # Opened outside the translation: a local file that vanished is not a store error.
            with data.open("rb") as handle:
                self._put_reader(key, handle, mode)
        else:
            self._put_reader(key, data, mode)

    def _put_reader(self, key: str, reader: BinaryIO, mode: PutMode) -> None:
        # obstore calls reader.read() itself; an exception raised there fails the put before
        # the object is committed (a single PUT is never sent, a multipart upload is aborted).
        length = _length(reader)
        # Conditional multipart completion is not offered everywhere; create-only writes
        # are small records (manifests, alias records), so they go in one request.
        self._put(
            key,
            reader,
            mode,
            use_multipart=mode == "overwrite" and (length is None or length > _MULTIPART_CHUNK),
            chunk_size=_MULTIPART_CHUNK,
            max_concurrency=_MULTIPART_CONCURRENCY,
        )

    def _put(self, key: str, data: bytes | BinaryIO, mode: PutMode, **options: Any) -> None:
        try:
            obstore.put(self._store, key, data, mode=mode, **options)
        except _Translatable as exc:
            translate_error(exc, self.url, key)

    def head(self, key: str) -> ObjectMeta:
        try:
            meta = obstore.head(self._store, key)
        except _Translatable as exc:
            translate_error(exc, self.url, key)
        return _meta(meta)

    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        # Trailing slash so that "assets/a" never lists "assets/ab".
        listing_prefix = prefix.rstrip("/") + "/" if prefix else None
        try:
            for batch in obstore.list(self._store, listing_prefix, chunk_size=1000):
                for meta in batch:
                    yield _meta(meta)
        except _Translatable as exc:
            translate_error(exc, self.url, prefix)

    def delete(self, key: str) -> None:
        try:
            obstore.delete(self._store, key)
        except (obx.NotFoundError, FileNotFoundError):
            return
        except _Translatable as exc:
            translate_error(exc, self.url, key)


def _length(reader: BinaryIO) -> int | None:
    """Bytes left in a file object, if it can tell without being read."""
    try:
        return os.fstat(reader.fileno()).st_size - reader.tell()
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation is both
        pass
    try:
        if reader.seekable():
            here = reader.tell()
            end = reader.seek(0, os.SEEK_END)
            reader.seek(here)
            return end - here
    except (OSError, ValueError, AttributeError):
        pass
    return None


def _meta(meta: Any) -> ObjectMeta:
    return ObjectMeta(
        path=meta["path"],
        size=int(meta["size"]),
        etag=meta.get("e_tag"),
        last_modified=meta.get("last_modified"),
        version=meta.get("version"),
    )
