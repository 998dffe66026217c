"""Uploads of a blob that can only store its own content under its content key.

A file is either hashed and then verified as the store client reads it (:class:`VerifyingReader`,
:func:`upload_verified`), or read once into memory, hashed, and those very bytes sent
(:class:`HashedBytes`, :func:`upload_hashed`).
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, cast

from modelshelf.backends.base import Backend, without_secrets
from modelshelf.errors import SourcePathError, StoreError

__all__ = ["HashedBytes", "SourceChanged", "VerifyingReader", "upload_hashed", "upload_verified"]


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
            f"{without_secrets(backend.url)}"
            f": the backend stored {key} without reading the whole upload; its"
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
