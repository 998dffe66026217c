"""The one seam between modelshelf and a storage service.

A backend moves bytes under string keys (``/``-separated, relative to the store's root) and knows
nothing of assets, versions or caches; ``modelshelf.store.bucket`` gives keys their meaning. A
custom backend subclasses :class:`Backend` and implements every abstract method with the contract
its docstring states, translating its SDK's errors into :mod:`modelshelf.errors` (not found, exists,
unreachable, auth) so that callers never see a vendor exception.
"""

from __future__ import annotations

import abc
import io
import json
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal, cast

from modelshelf._secrets import is_secret_name, without_secrets

__all__ = [
    "Backend",
    "ObjectMeta",
    "PutMode",
    "is_secret_option",
    "without_password",
    "without_secrets",
]


def is_flag(value: object) -> bool:
    """A boolean setting given as a bool or as text (``--backend-opt anonymous=false``)."""
    return value is True or (
        isinstance(value, str) and value.strip().lower() in {"1", "true", "yes", "on"}
    )


def is_secret_option(name: str) -> bool:
    """True if a backend option's name looks like a credential (key, secret, token, password):
    the one rule of :func:`modelshelf._secrets.is_secret_name`, also used for URL parameters.
    Such options never enter a store's identity (or its cache folder) nor any output."""
    return is_secret_name(name)


without_password = without_secrets
"""The older name of :func:`without_secrets` (it cuts query secrets too)."""


def _as_text(value: Any) -> str:
    if not isinstance(value, str):
        value = json.dumps(value, sort_keys=True, default=str)
    return without_password(value)


SIGNED_URL_MAX_SECONDS = 7 * 24 * 3600
"""The longest a presigned URL may live: S3's limit (SigV4), the strictest of the clouds."""


def check_signed_url_expiry(expires_seconds: int) -> None:
    """Refuse a presigned URL's lifetime outside 1 s .. :data:`SIGNED_URL_MAX_SECONDS`.

    Raises:
        InvalidInputError: it is not a whole number of seconds in that range.
    """
    from modelshelf.errors import InvalidInputError

    if (
        isinstance(expires_seconds, bool)
        or not isinstance(expires_seconds, int)
        or not 1 <= expires_seconds <= SIGNED_URL_MAX_SECONDS
    ):
        raise InvalidInputError(
            f"a presigned URL lives 1 to {SIGNED_URL_MAX_SECONDS} seconds (7 days), not"
            f" {expires_seconds!r}"
        )


PutMode = Literal["overwrite", "create"]
"""``create`` fails with :class:`~modelshelf.errors.ObjectExistsError` if the key exists; it is the
only conditional write modelshelf needs, because every backend can offer it."""


@dataclass(frozen=True)
class ObjectMeta:
    """What a store says about one object."""

    path: str
    size: int
    etag: str | None = None
    last_modified: datetime | None = None
    version: str | None = None


class Backend(abc.ABC):
    """Bytes under keys. Every method may raise the ``StoreError`` family of ``modelshelf.errors``.

    Attributes:
        url: the store URL this backend was opened from, for messages.
        upload_parts_in_flight: how many parts of one multipart upload are sent at once
            (``None``: the backend's default). Each part in flight is held in memory: a server
            that writes many blobs at once (the registry) lowers it to bound its memory.
    """

    url: str
    upload_parts_in_flight: int | None = None

    @classmethod
    def identity(cls, url: str, **options: Any) -> dict[str, str]:
        """What selects the store that ``cls.from_url(url, **options)`` would open.

        The local cache keys a store's manifests and snapshots by a hash of this, so two stores
        that could hold different bytes under the same name must have different identities. It
        is computed without opening the backend (no network, no credentials), so a cached,
        pinned version is still served offline.

        The default is the backend class (its import path), the URL, and every option whose
        name does not look like a secret, with any password in a URL (``user:pw@``) cut out.
        Options named like credentials (``*key*``,
        ``*secret*``, ``*token*``, ``*password*``, ``*auth*``, ...; see
        :func:`is_secret_option`) are left out: they select who you are, not which store, and
        they must not leak into folder names. Override this when something else selects the
        store (an endpoint read from the environment, as :class:`~modelshelf.backends.s3.
        S3Backend` does), or when an option does not (a timeout), so that it does not split the
        cache needlessly.

        Example:
            >>> ident = Backend.identity("x://bucket", endpoint="http://minio:9000", password="p")
            >>> ident["endpoint"], "password" in ident
            ('http://minio:9000', False)
        """
        found = {
            name: _as_text(value)
            for name, value in sorted(options.items())
            if not is_secret_option(name) and name not in ("backend", "url")
        }
        found["backend"] = f"{cls.__module__}:{cls.__qualname__}"
        found["url"] = without_password(url)
        return found

    def store_identity(self) -> dict[str, str]:
        """:meth:`identity` of this opened backend; backends that take options override it."""
        return type(self).identity(self.url)

    def create_store(self) -> None:
        """Make the store exist, before a first write: called by the writes that may start a
        store (push, copy or export to it), never by a read. The default does nothing (a
        bucket or container is made by its owner); a ``file://`` store makes its folder, so a
        mistyped path is never made by reading it. A backend that wraps another forwards it."""
        return None

    def local_path(self, key: str) -> Path | None:
        """The file on this machine that holds ``key``, for backends that are a local folder
        (pulls then copy it in the kernel); ``None``, the default, for every other backend.
        The path must be absolute and real: it is opened following no symbolic link in any
        of its parts."""
        return None

    def signed_url(
        self, key: str, method: Literal["GET", "PUT"] = "GET", expires_seconds: int = 300
    ) -> str | None:
        """A URL that lets anyone holding it ``method`` the object ``key`` for
        ``expires_seconds``, with no credentials of their own; ``None`` if this backend cannot
        presign (the default: local folders, memory, anonymous or SAS-token clouds).

        The registry server answers blob downloads with a redirect to it, so the bytes go
        from the store to the client without passing through the server. Nothing is checked
        about the object: a URL for a missing key answers 404 when it is used.

        Raises:
            InvalidInputError: ``expires_seconds`` is not between 1 second and 7 days.
            StoreError: the store's credentials could not sign (a translated SDK error).
        """
        check_signed_url_expiry(expires_seconds)
        return None

    @abc.abstractmethod
    def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
        """Stream the object's bytes in chunks of about ``chunk_size``.

        Raises:
            ObjectNotFoundError: the key does not exist.
        """
        raise NotImplementedError("'get' must be implemented")

    @abc.abstractmethod
    def get_range(self, key: str, start: int, end: int) -> bytes | memoryview:
        """Return bytes ``[start, end)`` of the object (``bytes`` or any buffer, not copied).

        A range past the end of the object returns what there is (possibly nothing), so a
        truncated object shows up as a size mismatch rather than an exception.
        """
        raise NotImplementedError("'get_range' must be implemented")

    def get_range_chunks(
        self, key: str, start: int, end: int, chunk_size: int
    ) -> Iterator[bytes | memoryview]:
        """Bytes ``[start, end)`` of the object as they arrive, in pieces of about ``chunk_size``.

        A pull writes and hashes each piece as it comes, so a backend that streams here keeps
        a pull's memory at a few pieces per request in flight. The default reads the whole
        range with :meth:`get_range` (override it to stream); the end-of-object rule is the
        same as :meth:`get_range`'s.
        """
        if start < end:
            yield self.get_range(key, start, end)

    @abc.abstractmethod
    def put(self, key: str, data: bytes | Path | BinaryIO, *, mode: PutMode = "overwrite") -> None:
        """Write the whole object atomically: readers see the old object or the new, never a part.

        Args:
            key: where to write.
            data: the bytes, a local file to upload, or a binary file object positioned at the
                start of the content (both streamed, multipart when large). A file object is
                read with ``read()`` until it returns ``b""``; if a ``read()`` raises, the put
                must fail and leave the key as it was (no object, or the old one): blob uploads
                rely on this to refuse a file that changed since it was hashed.
            mode: ``create`` to fail if the key exists.

        Raises:
            ObjectExistsError: ``mode="create"`` and the key exists.
        """
        raise NotImplementedError("'put' must be implemented")

    @abc.abstractmethod
    def head(self, key: str) -> ObjectMeta:
        """Describe one object.

        Raises:
            ObjectNotFoundError: the key does not exist.
        """
        raise NotImplementedError("'head' must be implemented")

    @abc.abstractmethod
    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        """Yield every object whose key starts with ``prefix`` + ``/`` (recursively), any order.

        ``prefix=""`` lists the whole store. Keys are relative to the store root.
        """
        raise NotImplementedError("'list' must be implemented")

    def list_after(self, prefix: str, after: str) -> Iterator[ObjectMeta]:
        """Yield the objects under ``prefix`` + ``/`` whose key sorts after the key ``after``, in
        key order: how a reader follows a folder of time-ordered records (the store's log).

        The default lists the whole prefix and sorts it; a backend whose service lists from a
        key (S3, GCS and Azure all list in key order from an offset) overrides it.
        """
        listed = [meta for meta in self.list(prefix) if meta.path > after]
        yield from sorted(listed, key=lambda meta: meta.path)

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove one object; deleting a missing key is not an error."""
        raise NotImplementedError("'delete' must be implemented")

    def copy(self, source: str, target: str) -> None:
        """Copy the object at ``source`` to ``target`` (overwriting it) in this store.

        The default streams the bytes through this machine (:meth:`get`, then :meth:`put`);
        a backend whose service copies objects itself overrides it. gc moves the blobs it
        deletes to a quarantine with this, so it should cost no transfer where it can.

        Raises:
            ObjectNotFoundError: ``source`` does not exist.
        """
        reader = _ChunkReader(self.get(source, chunk_size=8 << 20))
        try:
            self.put(target, cast("BinaryIO", reader))  # a binary file object, io's kind
        except Exception:
            if reader.failure is not None:  # the read failed (not found...): its own error
                raise reader.failure from None
            raise
        finally:
            reader.close()

    def read(self, key: str) -> bytes:
        """Return the whole object (for small records such as manifests)."""
        return b"".join(self.get(key, chunk_size=1 << 20))

    def exists(self, key: str) -> bool:
        """True if the key exists."""
        from modelshelf.errors import ObjectNotFoundError

        try:
            self.head(key)
        except ObjectNotFoundError:
            return False
        return True


class _ChunkReader(io.RawIOBase):
    """A binary file object over an iterator of chunks, for :meth:`Backend.copy`'s put.

    The chunks are fetched in a thread of their own: a store client that reads the file object
    from inside its own event loop (obstore's put) cannot also drive its get there.
    """

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=4)
        self._stop = threading.Event()
        self._left = memoryview(b"")
        self._ended = False
        self.failure: BaseException | None = None
        self._thread = threading.Thread(target=self._fetch, args=(chunks,), daemon=True)
        self._thread.start()

    def _fetch(self, chunks: Iterator[bytes]) -> None:
        try:
            for chunk in chunks:
                if not self._offer(bytes(chunk)):
                    return
            self._offer(None)
        except BaseException as exc:  # handed to the reader, which raises it in put
            self._offer(exc)

    def _offer(self, item: bytes | BaseException | None) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._left:
            if self._ended:
                return 0
            item = self._queue.get()
            if item is None:
                self._ended = True
                return 0
            if isinstance(item, BaseException):
                self._ended = True
                self.failure = item
                raise item
            self._left = memoryview(item)
        size = min(len(buffer), len(self._left))
        buffer[:size] = self._left[:size]
        self._left = self._left[size:]
        return size

    def close(self) -> None:
        self._stop.set()
        super().close()
