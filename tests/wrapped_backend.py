"""A backend that forwards every call to another: tests subclass it to count or inject faults."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from modelshelf.backends import Backend, ObjectMeta, PutMode


class WrappedBackend(Backend):
    """Delegates every method to ``inner``; override the ones a test needs to watch."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.url = inner.url

    def store_identity(self) -> dict[str, str]:
        return self.inner.store_identity()  # the same store, watched

    def create_store(self) -> None:
        self.inner.create_store()  # a write may start the store (a file:// folder)

    def put(self, key: str, data: bytes | Path | BinaryIO, *, mode: PutMode = "overwrite") -> None:
        self.inner.put(key, data, mode=mode)

    def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
        return self.inner.get(key, chunk_size)

    def get_range(self, key: str, start: int, end: int) -> bytes | memoryview:
        return self.inner.get_range(key, start, end)

    def head(self, key: str) -> ObjectMeta:
        return self.inner.head(key)

    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        return self.inner.list(prefix)

    def delete(self, key: str) -> None:
        self.inner.delete(key)


class Interleaving(WrappedBackend):
    """Runs ``before`` (or ``after``) once around the first blob upload; records deletes."""

    def __init__(
        self,
        inner: Backend,
        *,
        before: Callable[[], None] | None = None,
        after: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(inner)
        self.before, self.after = before, after
        self.deletes: list[str] = []

    def put(self, key: str, data: bytes | Path | BinaryIO, *, mode: PutMode = "overwrite") -> None:
        blob = key.startswith("blobs/")
        if blob and self.before is not None:
            hook, self.before = self.before, None
            hook()
        self.inner.put(key, data, mode=mode)
        if blob and self.after is not None:
            hook, self.after = self.after, None
            hook()

    def delete(self, key: str) -> None:
        self.deletes.append(key)
        self.inner.delete(key)


class WatchingReads(WrappedBackend):
    """Records every read: whole ranges asked of get_range, and the pieces streamed."""

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.whole_reads: list[int] = []
        self.pieces: list[int] = []

    def get_range(self, key: str, start: int, end: int) -> bytes | memoryview:
        self.whole_reads.append(end - start)
        return self.inner.get_range(key, start, end)

    def get_range_chunks(
        self, key: str, start: int, end: int, chunk_size: int
    ) -> Iterator[bytes | memoryview]:
        for piece in self.inner.get_range_chunks(key, start, end, chunk_size):
            self.pieces.append(memoryview(piece).nbytes)
            yield piece


class CountingWrites(WrappedBackend):
    """Records every write (``puts``, ``deletes``); ``barrier`` (when set) holds each thread's
    first manifest commit until all threads arrive, so that racing pushes have all compared
    with the same latest version."""

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.puts: list[str] = []
        self.deletes: list[str] = []
        self.barrier: threading.Barrier | None = None
        self.passed: set[int] = set()

    def put(self, key: str, data: bytes | Path | BinaryIO, *, mode: PutMode = "overwrite") -> None:
        self.puts.append(key)
        commit = "/versions/" in key and mode == "create"
        if self.barrier is not None and commit and threading.get_ident() not in self.passed:
            self.passed.add(threading.get_ident())
            self.barrier.wait(timeout=30)
        self.inner.put(key, data, mode=mode)

    def delete(self, key: str) -> None:
        self.deletes.append(key)
        self.inner.delete(key)
