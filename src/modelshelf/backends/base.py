"""The one seam between modelshelf and a storage service.

A backend moves bytes under string keys (``/``-separated, relative to the store's root) and knows
nothing of assets, versions or caches; ``modelshelf.store`` gives keys their meaning. A custom
backend subclasses :class:`Backend` and implements every abstract method with the contract its
docstring states, translating its SDK's errors into :mod:`modelshelf.errors` (not found, exists,
unreachable, auth) so that callers never see a vendor exception.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Literal

__all__ = ["Backend", "ObjectMeta", "PutMode"]

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
    """

    url: str

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

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove one object; deleting a missing key is not an error."""
        raise NotImplementedError("'delete' must be implemented")

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
