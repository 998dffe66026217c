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

The two sides reach the store as :class:`Sides` say: :class:`OnTheBucket` (a :class:`Store` and
a :class:`Shelf` straight over their gated backends), or :class:`ThroughRegistries` (each side
through a registry replica of its own, served in this process over its gated backend: two
replicas over one bucket, racing). A registry looks a blob up twice where a bucket writer looks
once (the client asks, then the server checks the manifest's blobs before it commits; after the
commit the server looks again and only logs a gone blob, then the client looks and restores
it): there ``Lk`` and ``P`` each span both lookups, and a test of gc's delete between the
client's lookup and the server's check names that check an event of its own.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Protocol

from tests.registry.registry_blob_app import served
from tests.servers.remote import RemoteStore
from tests.wrapped_backend import WrappedBackend

from modelshelf import Shelf
from modelshelf.backends import Backend, ObjectMeta, PutMode, open_backend
from modelshelf.errors import ObjectNotFoundError, StoreError
from modelshelf.registry.app import create_app
from modelshelf.registry.tokens import TokenBook
from modelshelf.store.api import MaintainedStore
from modelshelf.store.bucket import Store
from modelshelf.store.http import HttpStore

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
            if self.done < len(self.order) and self.order[self.done] == event:
                self.done += 1
            self.cond.notify_all()

    def begin(self, event: str) -> None:
        """Wait for ``event``'s turn (at once if it is not, or no longer, in the order)."""
        if event in self.order[self.done :]:
            self.at(event)

    def around(self, event: str, action: Callable[[], object]) -> object:
        self.begin(event)
        try:
            return action()
        finally:
            self.finished(event)


class Gated(WrappedBackend):
    """One side's view of the store: its operations on ``blob_key`` and the manifests are the
    schedule's events. ``heads`` names the event of each of the writer's HEADs of the blob, in
    turn; HEADs named alike in a row are one event, from the first's start to the last's end
    (later HEADs are no event)."""

    def __init__(
        self,
        inner: Backend,
        schedule: Schedule,
        side: str,
        blob_key: str,
        heads: Sequence[str] = ("Lk", "P"),
    ) -> None:
        super().__init__(inner)
        self.schedule, self.side, self.blob_key = schedule, side, blob_key
        self.head_events = list(heads)
        self.heads = 0
        self.asset_lists = 0

    def head(self, key: str) -> ObjectMeta:
        if self.side != "writer" or key != self.blob_key or self.heads >= len(self.head_events):
            return self.inner.head(key)
        events = self.head_events
        self.heads += 1
        event = events[self.heads - 1]
        if self.heads == 1 or events[self.heads - 2] != event:
            self.schedule.begin(event)
        ends = self.heads == len(events) or events[self.heads] != event
        try:
            return self.inner.head(key)
        except ObjectNotFoundError:
            raise  # an answer ("gone"), as much as a found blob is
        except BaseException:
            ends = True  # the other side waits no more: the test fails
            raise
        finally:
            if ends:
                self.schedule.finished(event)

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


class Sides(Protocol):
    """How gc and the writer reach the store they race on."""

    heads: Sequence[str]
    """The event of each of the writer's HEADs of a blob (see :class:`Gated`)."""
    kill: type[BaseException]
    """What a backend raises to kill gc where it stands."""
    killed: type[BaseException]
    """What gc's caller sees then."""

    def gc_store(self, backend: Backend) -> contextlib.AbstractContextManager[MaintainedStore]:
        """gc's store over ``backend``."""
        ...

    def writer(self, backend: Backend, cache: Path) -> contextlib.AbstractContextManager[Shelf]:
        """The writer's shelf over ``backend``."""
        ...


class OnTheBucket:
    """Both sides straight on the bucket's backend."""

    heads: Sequence[str] = ("Lk", "P")
    kill: type[BaseException] = KeyboardInterrupt  # nothing catches it: killed
    killed: type[BaseException] = KeyboardInterrupt

    @contextlib.contextmanager
    def gc_store(self, backend: Backend) -> Iterator[MaintainedStore]:
        yield Store(backend)

    @contextlib.contextmanager
    def writer(self, backend: Backend, cache: Path) -> Iterator[Shelf]:
        yield Shelf(backend, cache_dir=cache)


ON_THE_BUCKET = OnTheBucket()


class GcKilledError(RuntimeError):
    """Raised in a registry's backend to kill the gc whose request it serves."""


class ThroughRegistries:
    """Each side through a registry of its own (``create_app`` over its backend, served in this
    process on 127.0.0.1), with an ``admin:*`` token written into the bucket ``inner``."""

    # A KeyboardInterrupt would stop the server's event loop, not the gc: its request fails
    # instead (answered 500, never retried), and the gc client stops there as a killed one.
    kill: type[BaseException] = GcKilledError
    killed: type[BaseException] = StoreError

    def __init__(self, inner: Backend, heads: Sequence[str] = ("Lk", "Lk", "P", "P")) -> None:
        self.heads = heads  # the client's lookup and the server's check, before and after C
        self.token, _ = TokenBook(Store(inner)).create("gc-race", ["admin:*"], None, "tests")

    @contextlib.contextmanager
    def gc_store(self, backend: Backend) -> Iterator[MaintainedStore]:
        with served(create_app(Store(backend))) as url:
            store = HttpStore(url, token=self.token)
            try:
                yield store
            finally:
                store.close()

    @contextlib.contextmanager
    def writer(self, backend: Backend, cache: Path) -> Iterator[Shelf]:
        with served(create_app(Store(backend))) as url:
            yield Shelf(url, token=self.token, cache_dir=cache)


def reached(remote_store: RemoteStore) -> tuple[Backend, Sides]:
    """The bucket (the one behind the registry, for a registry) and how gc and a writer reach
    it: straight, or each through a registry replica of its own."""
    behind = remote_store.behind()
    backend = open_backend(behind.url, **behind.options)
    return backend, ThroughRegistries(backend) if remote_store.is_registry else OnTheBucket()
