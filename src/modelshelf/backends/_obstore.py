"""A :class:`Backend` over any obstore store; obstore does the cloud protocols and signing.

SDK errors are translated here, once, most specific first, so nothing above this module sees an
obstore exception.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, NamedTuple, NoReturn

from modelshelf.backends.base import Backend, ObjectMeta, PutMode, check_signed_url_expiry
from modelshelf.errors import (
    ObjectExistsError,
    ObjectNotFoundError,
    StoreAuthError,
    StoreError,
    StoreUnavailableError,
    StoreUnreachableError,
    UnsupportedStoreError,
)

if TYPE_CHECKING:
    import obstore
    from obstore import GetOptions
    from obstore import exceptions as obx
    from obstore.store import ObjectStore


def load_obstore() -> None:
    """Import obstore, a native extension, when a store is opened or an error translated.

    Not at import: ``import modelshelf`` and a cache hit never pay for it. Binds the module
    globals ``obstore``, ``obx`` and ``_Translatable`` that the code below uses.
    """
    global obstore, obx, _Translatable
    import obstore
    from obstore import exceptions as obx

    _Translatable = (obx.BaseError, OSError)


# Few, quick retries for every cloud: a store that is down should say so in seconds, not minutes.
RETRY_CONFIG: Any = {
    "max_retries": 3,
    "retry_timeout": timedelta(seconds=20),
    "backoff": {
        "init_backoff": timedelta(milliseconds=100),
        "max_backoff": timedelta(seconds=2),
        "base": 2,
    },
}

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
# obstore: "... Server returned non-2xx status code: 503 Service Unavailable: <body>"
_HTTP_STATUS = re.compile(r"status code: (\d{3})([A-Za-z ]*)")
_S3_CODE = re.compile(r"<Code>([^<]{1,200})</Code>")
_S3_MESSAGE = re.compile(r"<Message>([^<]{1,500})</Message>")

_HOST = re.compile(r"\b(https?://[^/\s]+)")

# What to do about an XML error code any cloud may send; a store's own codes (naming its own
# settings) are in its hints. The default points at the endpoint and the URL.
_NEXT_STEP: Mapping[str, str] = {
    "NoSuchBucket": "create the bucket, or fix the bucket in the store URL",
    "InvalidBucketName": "fix the bucket in the store URL",
    "SlowDown": "try again shortly",
}


class StoreHints(NamedTuple):
    """What a refused or unreachable store tells the user to check, in its own cloud's words.

    Each backend sets its own (``hints`` on :class:`ObstoreBackend`), so that a refused GCS
    request names the GCS settings and never ``AWS_ACCESS_KEY_ID``.
    """

    credentials: str
    """The credential settings, e.g. ``"AWS_ACCESS_KEY_ID or AWS_PROFILE"``."""
    endpoint: str
    """The endpoint setting, e.g. ``"AWS_ENDPOINT_URL"``."""
    codes: Mapping[str, str] = MappingProxyType({})
    """Next steps for this cloud's own XML error codes, in its own settings' words, e.g.
    ``{"AuthorizationHeaderMalformed": "set AWS_REGION to the bucket's region"}``."""


GENERIC_HINTS = StoreHints(
    credentials="the store's credential settings", endpoint="the store's endpoint setting"
)
"""Hints of a store that names no settings of its own."""


def _one_line(text: str, limit: int = 300) -> str:
    """Store text squeezed onto one line and cut to ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _summary(exc: BaseException) -> str:
    """What obstore said, without its multi-line debug dump."""
    text = str(exc).split("\n\nDebug source:")[0].strip()
    return _one_line(text) if text else type(exc).__name__


def refuse_control_characters(url: str, usage: str) -> None:
    """Refuse a store URL holding control characters, before ``urlsplit`` sees it.

    ``urlsplit`` silently drops tab, CR and LF: ``az://c/a<TAB>b`` would open the prefix ``ab``.

    Raises:
        UnsupportedStoreError: the URL holds a control (or other unprintable) character.
    """
    if not url.isprintable():
        raise UnsupportedStoreError(f"{url!r}: a store URL holds no control characters; {usage}")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text, squeezed and cut (obstore adds a debug dump)."""
    text = str(exc).strip()
    return _one_line(text.splitlines()[0]) if text else type(exc).__name__


def _http_failure(exc: BaseException) -> tuple[int | None, str | None, str]:
    """The HTTP status, the S3 error code and the most informative cause in an obstore error.

    An S3 error body is XML: ``<Error><Code>NoSuchBucket</Code><Message>...</Message></Error>``;
    its code and message are the cause. Without a body, the status line is.
    """
    import html  # here: its entity table costs more at start-up than all of this module

    text = str(exc).split("\n\nDebug source:")[0]
    code_match, message_match = _S3_CODE.search(text), _S3_MESSAGE.search(text)
    status_match = _HTTP_STATUS.search(text)
    status = int(status_match.group(1)) if status_match else None
    code = html.unescape(code_match.group(1)).strip() if code_match else None
    http = f"HTTP {status}{status_match.group(2).rstrip()}" if status_match else ""
    if code:
        message = html.unescape(message_match.group(1)) if message_match else ""
        s3_error = f"{code}: {message}" if message else code
        return status, code, _one_line(f"{http}, {s3_error}" if http else s3_error)
    if http:
        return status, None, _one_line(http)
    return None, None, _summary(exc)


def translate_error(
    exc: BaseException, url: str, key: str, hints: StoreHints = GENERIC_HINTS
) -> NoReturn:
    """Raise the modelshelf error that matches an obstore (or OS) exception.

    The cause is kept (an S3 or GCS XML error's code and message, else the HTTP status, else
    obstore's summary), on one line, with the next step. Server errors (5xx) that outlived
    obstore's retries raise :class:`StoreUnavailableError`, so callers treat the store as
    unreachable. ``hints`` names the settings to check, in the store's own cloud's words.
    """
    load_obstore()
    where = f"{url.rstrip('/')}/{key}" if key else url
    status, code, cause = _http_failure(exc)
    next_step = {**_NEXT_STEP, **hints.codes}
    if code in next_step and code != "SlowDown":
        # About the bucket or the setup, not one key: a missing bucket is no missing object.
        raise StoreError(f"{url}: {cause}; {next_step[code]}") from exc
    if isinstance(exc, obx.NotFoundError | FileNotFoundError):
        raise ObjectNotFoundError(f"{where} does not exist") from exc
    if isinstance(exc, obx.AlreadyExistsError | obx.PreconditionError | FileExistsError):
        raise ObjectExistsError(f"{where} already exists") from exc
    if status is not None and status >= 500:
        raise StoreUnavailableError(
            # The part before " (" is what a fallback to the cache prints as its reason.
            f"the store {url} is not available: {cause}, still after retries; the server may"
            " be restarting or overloaded (try again shortly; cached versions stay usable"
            " with MODELSHELF_OFFLINE=1)"
        ) from exc
    text = str(exc).lower()
    refused = isinstance(exc, obx.PermissionDeniedError | obx.UnauthenticatedError)
    if refused or isinstance(exc, PermissionError) or any(h in text for h in _AUTH_HINTS):
        status_text = _STATUS.search(str(exc))
        detail = cause if code else status_text.group(1) if status_text else first_line(exc)
        raise StoreAuthError(
            f"{url} refused access to {key or 'the store'}"
            f" ({detail}). Check the credentials ({hints.credentials}) and that they may read"
            " and write there."
        ) from exc
    hint = next((h for h in _UNREACHABLE_HINTS if h in text), None)
    if hint:
        host = _HOST.search(str(exc))
        raise StoreUnreachableError(
            f"cannot reach the store {url} ({hint}{' at ' + host.group(1) if host else ''})."
            f" Check the URL and endpoint ({hints.endpoint}) and that the server is running;"
            " cached versions stay usable with MODELSHELF_OFFLINE=1."
        ) from exc
    if status is not None:
        step = next_step.get(code or "", f"check the endpoint ({hints.endpoint}) and the store URL")
        raise StoreError(f"{url}: {key or 'store'}: {cause}; {step}") from exc
    raise StoreError(f"{url}: {key or 'store'}: {first_line(exc)}") from exc


_Translatable: tuple[type[BaseException], ...] = (OSError,)  # obstore's errors join on load


class ObstoreBackend(Backend):
    """Adapts an ``obstore`` store (local, memory, S3, GCS, Azure) to :class:`Backend`.

    Subclasses for a cloud set :attr:`hints`: the settings its errors tell the user to check.
    """

    hints: StoreHints = GENERIC_HINTS
    signs: bool = False
    """True when the store's credentials can presign URLs (:meth:`signed_url`): a cloud backend
    sets it from the credentials it chose (an account key can, a SAS token or no credentials
    cannot). obstore signs only S3, GCS and Azure stores."""

    def __init__(self, store: ObjectStore, url: str) -> None:
        load_obstore()
        self._store = store
        self.url = url

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
        for chunk in self._chunks(key, chunk_size, None):
            yield bytes(chunk)

    def signed_url(
        self, key: str, method: Literal["GET", "PUT"] = "GET", expires_seconds: int = 300
    ) -> str | None:
        """A presigned URL for ``key`` (obstore's ``sign``), or ``None`` when :attr:`signs` is
        false. S3 and GCS sign here, with no request; Azure with an account key too (with a
        bearer token it asks the service for a user delegation key first)."""
        check_signed_url_expiry(expires_seconds)
        if not self.signs:
            return None
        try:
            return obstore.sign(self._store, method, key, timedelta(seconds=expires_seconds))  # type: ignore[arg-type]
        except _Translatable as exc:
            translate_error(exc, self.url, key, self.hints)

    def get_range(self, key: str, start: int, end: int) -> memoryview:
        try:
            # obstore's Bytes exposes the buffer protocol: a view, not a copy into bytes.
            return memoryview(obstore.get_range(self._store, key, start=start, end=end))
        except _Translatable as exc:
            translate_error(exc, self.url, key, self.hints)

    def get_range_chunks(
        self, key: str, start: int, end: int, chunk_size: int
    ) -> Iterator[memoryview]:
        if start >= end:
            return  # obstore refuses an empty range; there is nothing to send
        yield from self._chunks(key, chunk_size, {"range": (start, end)})

    def _chunks(
        self, key: str, chunk_size: int, options: GetOptions | None
    ) -> Iterator[memoryview]:
        """The object's (or a range's) bytes as obstore receives them, errors translated."""
        try:
            result = obstore.get(self._store, key, options=options)
            stream = result.stream(min_chunk_size=chunk_size)
        except _Translatable as exc:
            translate_error(exc, self.url, key, self.hints)
        while True:
            try:
                chunk = next(stream)
            except StopIteration:
                return
            except _Translatable as exc:
                translate_error(exc, self.url, key, self.hints)
            yield memoryview(chunk)

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
            max_concurrency=self.upload_parts_in_flight or _MULTIPART_CONCURRENCY,
        )

    def _put(self, key: str, data: bytes | BinaryIO, mode: PutMode, **options: Any) -> None:
        try:
            obstore.put(self._store, key, data, mode=mode, **options)
        except _Translatable as exc:
            translate_error(exc, self.url, key, self.hints)

    def head(self, key: str) -> ObjectMeta:
        try:
            meta = obstore.head(self._store, key)
        except _Translatable as exc:
            translate_error(exc, self.url, key, self.hints)
        return _meta(meta)

    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        # Trailing slash so that "assets/a" never lists "assets/ab".
        listing_prefix = prefix.rstrip("/") + "/" if prefix else None
        try:
            for batch in obstore.list(self._store, listing_prefix, chunk_size=1000):
                for meta in batch:
                    yield _meta(meta)
        except _Translatable as exc:
            translate_error(exc, self.url, prefix, self.hints)

    def list_after(self, prefix: str, after: str) -> Iterator[ObjectMeta]:
        # The services list in key order from an offset: the request starts at the cursor
        # rather than at the first record ever written. Under a prefix, Azure (Azurite at
        # least) lists from the start all the same: the filter keeps the contract there.
        listing_prefix = prefix.rstrip("/") + "/" if prefix else None
        try:
            for batch in obstore.list(
                self._store, listing_prefix, offset=after or None, chunk_size=1000
            ):
                for meta in batch:
                    if meta["path"] > after:
                        yield _meta(meta)
        except _Translatable as exc:
            translate_error(exc, self.url, prefix, self.hints)

    def copy(self, source: str, target: str) -> None:
        if self.local_path(source) is not None:
            super().copy(source, target)  # a local folder: through its guarded get and put
            return
        try:
            obstore.copy(self._store, source, target, overwrite=True)  # by the service itself
        except _Translatable as exc:
            try:
                translate_error(exc, self.url, source, self.hints)
            except ObjectNotFoundError:
                raise
            except StoreError:
                # S3 copies at most 5 GiB in one request: stream what the service would not copy.
                super().copy(source, target)

    def delete(self, key: str) -> None:
        try:
            obstore.delete(self._store, key)
        except (obx.NotFoundError, FileNotFoundError):
            return
        except _Translatable as exc:
            translate_error(exc, self.url, key, self.hints)


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
