"""Copying a blob from one store to another: streamed in ranges, verified, bounded memory.

A destination store client (obstore) reads :class:`BlobStream` from inside its own runtime,
where no other store call may run, so the ranges come from a thread of the stream's own, a few
ranges ahead. :func:`copy_verified` hashes the bytes as the destination reads them
(:class:`~modelshelf.transfer.verified_upload.VerifyingReader`): a damaged source fails the upload
before the object exists.
"""

from __future__ import annotations

import io
import os
import queue
import threading
from typing import Any, BinaryIO, cast

from modelshelf import constants
from modelshelf.backends.base import Backend, without_secrets
from modelshelf.errors import IntegrityError, StoreError
from modelshelf.transfer.download import BlobReader, _ranges
from modelshelf.transfer.verified_upload import VerifyingReader

__all__ = ["BlobStream", "copy_verified"]


class BlobStream(io.RawIOBase):
    """A blob of another store read in order, a few ranges ahead: bounded memory.

    The ranges are fetched by a thread of its own: a store client (obstore) reads this stream
    from inside its own runtime, which must not start another store call on that thread.

    Attributes:
        failure: what the source store raised, if it did (the reader sees an OSError).
    """

    def __init__(
        self, blob: BlobReader, size: int, range_size: int = constants.CHUNK_SIZE, ahead: int = 2
    ) -> None:
        super().__init__()
        self._blob, self._size, self._range, self._ahead = blob, size, range_size, ahead
        self._position = 0
        self._buffer = memoryview(b"")
        self.failure: BaseException | None = None
        self._reader: threading.Thread | None = None
        self._stop = threading.Event()
        self._queue: queue.Queue[memoryview | BaseException | None] = queue.Queue()

    def _start(self, position: int) -> None:
        self._stop.set()
        stop, ranges = (
            threading.Event(),
            queue.Queue[memoryview | BaseException | None](maxsize=self._ahead),
        )
        self._stop, self._queue = stop, ranges

        def offer(item: memoryview | BaseException | None) -> bool:
            while not stop.is_set():
                try:
                    ranges.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def fetch() -> None:
            try:
                for start, end in _ranges(self._size - position, self._range):
                    data = memoryview(self._blob.read_range(position + start, position + end))
                    if not offer(data):
                        return
                offer(None)
            except BaseException as exc:  # handed to the reading side, which raises it
                offer(exc)

        self._reader = threading.Thread(target=fetch, name="modelshelf-blob-stream", daemon=True)
        self._reader.start()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Only back to the start (a store client retrying an upload) or where it already is."""
        target = {os.SEEK_SET: offset, os.SEEK_CUR: self._position + offset}.get(whence)
        if target == self._position:
            return self._position
        if target != 0:
            raise io.UnsupportedOperation("a blob stream seeks only back to 0")
        self._position, self._buffer = 0, memoryview(b"")
        self._reader = None  # restarted on the next read
        self._stop.set()
        return 0

    def read(self, size: int | None = -1) -> bytes:
        if self._reader is None:
            self._start(self._position)
        if not self._buffer and self._position < self._size:
            item = self._queue.get()
            if isinstance(item, BaseException):
                self.failure = item
                raise OSError(f"reading {self._blob.where} failed: {item}") from item
            if item is None:
                return b""
            self._buffer = item
        want = len(self._buffer) if size is None or size < 0 else size
        data, self._buffer = self._buffer[:want], self._buffer[want:]
        self._position += len(data)
        return bytes(data)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._stop.set()
        super().close()


def copy_verified(source: BlobReader, backend: Backend, key: str, size: int, sha256: str) -> None:
    """Stream a blob of one store to ``key`` of another, checking size and sha256 as it goes.

    The bytes pass through in ranges (memory stays bounded by the store client's part size);
    a source whose bytes are not ``sha256`` fails the upload before the object exists.

    Raises:
        IntegrityError: the source blob is damaged; the destination is untouched.
        StoreError: either store failed.
    """
    stream = BlobStream(source, size)
    reader = VerifyingReader(cast("BinaryIO", stream), size, sha256)
    try:
        backend.put(key, cast("BinaryIO", reader))
    except Exception as exc:
        if stream.failure is not None:  # the source store failed: its own error
            raise stream.failure from None
        if reader.failure is None:
            raise
        raise IntegrityError(
            source.name, sha256, f"bytes that fail the check ({reader.failure})", source.where
        ) from exc
    finally:
        stream.close()
    if not reader.verified:
        raise StoreError(
            f"{without_secrets(backend.url)}"
            f": the backend stored {key} without reading the whole upload; its"
            " put() must read a file object to the end"
        )
