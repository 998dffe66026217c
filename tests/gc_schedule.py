"""Deterministic interleavings of a gc and a writer (push or copy) that reuses an orphan blob.

Each side runs in its own thread over its own :class:`Gated` view of one store. The events that
matter are named; a :class:`Schedule` lets each one happen only after every event listed before
it has finished, so an order such as ``C < P < D < L`` is forced exactly:

- ``R``: gc's second listing of the manifests, the last before it deletes (every order starts
  with it: a commit before it would simply keep the blob);
- ``Lk``: the writer looks the blob up (its first HEAD of the blob key) and finds it present;
- ``C``: the writer commits its manifest;
- ``P``: the writer looks the blob up again after its commit (its second HEAD);
- ``D``: gc deletes the blob's key;
- ``L``: gc's last listing of the manifests (its third listing of ``assets``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from tests.wrapped_backend import WrappedBackend

from modelshelf.backends import Backend, ObjectMeta, PutMode

# Every order of the five events in which the writer reuses the blob (Lk < D), C < P and D < L.
ORDERS = [
    "R Lk D L C P",
    "R Lk D C L P",
    "R Lk D C P L",
    "R Lk C D L P",
    "R Lk C D P L",
    "R Lk C P D L",
]


class Schedule:
    """Lets the named events happen in ``order`` only; an event not listed passes freely."""

    def __init__(self, order: str, timeout: float = 20.0) -> None:
        self.order = order.split()
        self.done = 0
        self.timeout = timeout
        self.cond = threading.Condition()
        self.failures: list[str] = []

    def at(self, event: str) -> None:
        with self.cond:
            index = self.order.index(event)
            if not self.cond.wait_for(lambda: self.done >= index, self.timeout):
                self.failures.append(f"{event} waited for {self.order[self.done]}")

    def finished(self, event: str) -> None:
        with self.cond:
            if self.order[self.done] == event:
                self.done += 1
            self.cond.notify_all()

    def around(self, event: str, action: Callable[[], object]) -> object:
        if event not in self.order[self.done :]:
            return action()
        self.at(event)
        try:
            return action()
        finally:
            self.finished(event)


class Gated(WrappedBackend):
    """One side's view of the store: its operations on ``blob_key`` and the manifests are the
    schedule's events."""

    def __init__(self, inner: Backend, schedule: Schedule, side: str, blob_key: str) -> None:
        super().__init__(inner)
        self.schedule, self.side, self.blob_key = schedule, side, blob_key
        self.heads = 0
        self.asset_lists = 0

    def head(self, key: str) -> ObjectMeta:
        if self.side == "writer" and key == self.blob_key:
            self.heads += 1
            event = "Lk" if self.heads == 1 else "P" if self.heads == 2 else ""
            if event:
                found = self.schedule.around(event, lambda: self.inner.head(key))
                assert isinstance(found, ObjectMeta)
                return found
        return self.inner.head(key)

    def put(self, key: str, data: bytes | Path | BinaryIO, *, mode: PutMode = "overwrite") -> None:
        if self.side == "writer" and "/versions/" in key and key.endswith(".json"):
            self.schedule.around("C", lambda: self.inner.put(key, data, mode=mode))
            return
        self.inner.put(key, data, mode=mode)

    def delete(self, key: str) -> None:
        if self.side == "gc" and key == self.blob_key:
            self.schedule.around("D", lambda: self.inner.delete(key))
            return
        self.inner.delete(key)

    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        if self.side == "gc" and prefix == "assets":
            self.asset_lists += 1
            if self.asset_lists in (2, 3):  # gc's listings before and after its deletes
                event = "R" if self.asset_lists == 2 else "L"
                listed = self.schedule.around(event, lambda: list(self.inner.list(prefix)))
                assert isinstance(listed, list)
                return iter(listed)
        return self.inner.list(prefix)

    def copy(self, source: str, target: str) -> None:
        self.inner.copy(source, target)  # the store's own copy (server-side where it has one)


def run_both(gc: Callable[[], object], writer: Callable[[], object]) -> list[BaseException]:
    """Run gc and the writer in two threads; the exceptions either raised."""
    errors: list[BaseException] = []

    def guarded(fn: Callable[[], object]) -> None:
        try:
            fn()
        except BaseException as exc:  # reported to the test
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(fn,)) for fn in (gc, writer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors
