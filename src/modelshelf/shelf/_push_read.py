"""How a push reads a file for its blob: small files once, into bounded memory.

A file of at most :data:`SINGLE_PASS_MAX` bytes is read once into memory, hashed, and those very
bytes are uploaded (:class:`~modelshelf.transfer.verified_upload.HashedBytes`): what is stored under
a content key is exactly what was hashed, with no second read and no second sha256 of the file. The
bytes held at once by all workers stay under :data:`MEMORY_BUDGET` (:class:`ByteBudget`).

Larger files are hashed by streaming, then uploaded from the file and hashed again as they are sent
(:func:`~modelshelf.transfer.verified_upload.upload_verified`), because their key must be known
before the upload starts and they do not fit in memory.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from modelshelf.errors import SourcePathError
from modelshelf.shelf.source import SourceFile
from modelshelf.transfer.verified_upload import HashedBytes

__all__ = ["MEMORY_BUDGET", "SINGLE_PASS_MAX", "ByteBudget", "read_hashed"]

# Files up to this size are read once (measured: one read and one sha256 fewer per byte).
SINGLE_PASS_MAX = 64 * 1024 * 1024
# Bytes of files held in memory at once across all workers (8 x 16 MiB files fit).
MEMORY_BUDGET = 128 * 1024 * 1024


class ByteBudget:
    """A counting semaphore over bytes: :meth:`hold` waits until ``size`` more bytes fit.

    Attributes:
        limit: bytes that may be held at once.
        peak: the most bytes held at once so far.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.peak = 0
        self._held = 0
        self._changed = threading.Condition()

    @contextmanager
    def hold(self, size: int) -> Iterator[None]:
        """Hold ``size`` bytes (at most ``limit``) for the ``with`` block."""
        if size > self.limit:
            raise ValueError(f"{size} bytes can never fit in a budget of {self.limit}")
        with self._changed:
            self._changed.wait_for(lambda: self._held + size <= self.limit)
            self._held += size
            self.peak = max(self.peak, self._held)
        try:
            yield
        finally:
            with self._changed:
                self._held -= size
                self._changed.notify_all()


def read_hashed(item: SourceFile) -> HashedBytes:
    """Read the whole file once and hash it; refuse it if it changed since it was collected.

    After the read, the open file must still have the size and modification time it was
    collected with, and the read must have returned exactly that many bytes, so a file that
    changed between collection and this read (or during it) is refused as the two-pass path
    refuses one that changed while being hashed.

    Raises:
        SourcePathError: the file changed since it was collected; nothing was sent.
        OSError: the file could not be read.
    """
    fd = os.open(item.local, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(fd, item.size) if item.size else b""
        while 0 < len(data) < item.size:  # a short read (rare on regular files): keep going
            more = os.read(fd, item.size - len(data))
            if not more:
                break
            data += more
        info = os.fstat(fd)
    finally:
        os.close(fd)
    if len(data) != item.size or info.st_size != item.size or info.st_mtime_ns != item.mtime_ns:
        raise SourcePathError(item.local, "it changed while being read; push again")
    return HashedBytes(data)
