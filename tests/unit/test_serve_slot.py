"""The model slot and the alias follower: leases pin a version, swaps are atomic, the old version
drains before it is unloaded, and a version that fails to load is never swapped in."""

from __future__ import annotations

import threading
from typing import Any

import pytest

pytest.importorskip("fastapi")

from modelshelf.errors import StoreUnreachableError
from modelshelf.serve._slot import (
    AliasFollower,
    ModelSlot,
    NotReadyError,
    ServedVersion,
)


def served(version: str, factor: float = 1.0) -> ServedVersion:
    return ServedVersion(
        version=version,
        model=factor,
        preprocess=lambda data: data,
        predict_fn=lambda model, data: [model * x for x in data],
        postprocess=lambda out: out,
    )


def test_acquire_before_any_version_is_not_ready() -> None:
    slot = ModelSlot("svc")
    assert not slot.ready
    with pytest.raises(NotReadyError, match="svc"), slot.acquire():
        pass


def test_a_lease_keeps_its_version_across_a_swap_and_the_old_one_unloads_after_it() -> None:
    slot = ModelSlot("svc")
    slot.install(served("1.0", 1.0))
    old = slot.active
    assert old is not None
    with slot.acquire() as lease:
        assert slot.install(served("1.1", 2.0)) == "1.0"
        # New leases get the new version at once; this one still runs on the old.
        with slot.acquire() as fresh:
            assert fresh.version == "1.1"
            assert fresh.predict(fresh.preprocess([1, 2])) == [2.0, 4.0]
        assert lease.version == "1.0"
        assert lease.predict([1, 2]) == [1.0, 2.0]
        assert slot.draining == ["1.0"]
        assert old.model is not None  # not unloaded while a lease holds it
    assert slot.draining == []
    assert old.model is None  # unloaded once its last lease ended


def test_an_idle_old_version_unloads_at_the_swap() -> None:
    slot = ModelSlot("svc")
    slot.install(served("1.0"))
    old = slot.active
    assert old is not None
    swaps: list[tuple[str | None, str]] = []
    slot.on_swap = lambda before, after: swaps.append((before, after))
    slot.install(served("1.1"))
    assert old.model is None and slot.draining == []
    assert swaps == [("1.0", "1.1")]


def test_leases_from_many_threads_always_see_one_whole_version() -> None:
    slot = ModelSlot("svc")
    slot.install(served("1", 1.0))
    seen: list[tuple[str, list[float]]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def client() -> None:
        try:
            while not stop.is_set():
                with slot.acquire() as lease:
                    seen.append((lease.version, lease.predict([1.0])))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    for number in range(2, 40):
        slot.install(served(str(number), float(number)))
    stop.set()
    for thread in threads:
        thread.join()
    assert not errors
    assert seen
    # Never a mix: each answer came from the model of the version it names.
    assert all(out == [float(version)] for version, out in seen)
    assert slot.draining == []


class FakeStore:
    def __init__(self, version: str) -> None:
        self.version = version
        self.fail_resolve: Exception | None = None
        self.broken: set[str] = set()
        self.loads: list[str] = []

    def resolve(self) -> str:
        if self.fail_resolve is not None:
            raise self.fail_resolve
        return self.version

    def load(self, version: str) -> ServedVersion:
        self.loads.append(version)
        if version in self.broken:
            raise RuntimeError(f"cannot load {version}")
        return served(version, float(version.split(".")[-1]) + 1)


def follower_for(store: FakeStore, interval: float = 0.0) -> tuple[ModelSlot, AliasFollower]:
    slot = ModelSlot("svc")
    slot.install(store.load(store.version))
    return slot, AliasFollower(slot, store.resolve, store.load, interval)


def test_check_now_swaps_only_when_the_alias_moved() -> None:
    store = FakeStore("1.0")
    slot, follower = follower_for(store)
    assert follower.check_now().swapped is False
    assert store.loads == ["1.0"]
    store.version = "1.1"
    result = follower.check_now()
    assert (result.version, result.swapped, result.error) == ("1.1", True, None)
    assert slot.active is not None and slot.active.version == "1.1"


def test_a_version_that_fails_to_load_is_never_swapped_in() -> None:
    store = FakeStore("1.0")
    slot, follower = follower_for(store)
    store.version, store.broken = "1.1", {"1.1"}
    failures: list[str] = []
    slot.on_swap_error = failures.append
    result = follower.check_now()
    assert failures == [result.error]
    assert result.swapped is False and result.version == "1.0"
    assert result.error is not None and "1.1 failed to load" in result.error
    assert slot.active is not None and slot.active.version == "1.0"
    assert slot.last_swap_error == result.error
    # A later good version clears the error.
    store.version = "1.2"
    assert follower.check_now().swapped
    assert slot.last_swap_error is None


def test_an_unreachable_store_keeps_serving_and_says_why() -> None:
    store = FakeStore("1.0")
    slot, follower = follower_for(store)
    store.fail_resolve = StoreUnreachableError("cannot reach the store s3://b (timeout)")
    result = follower.check_now()
    assert result.swapped is False and result.error is not None
    assert "cannot reach the store" in result.error
    assert slot.active is not None and slot.active.version == "1.0"


def test_the_poller_swaps_without_being_asked() -> None:
    store = FakeStore("1.0")
    slot, follower = follower_for(store, interval=0.01)
    swapped = threading.Event()
    slot.on_swap = lambda _old, _new: swapped.set()
    follower.start()
    try:
        store.version = "1.1"
        assert swapped.wait(30)
    finally:
        follower.stop()
    assert slot.active is not None and slot.active.version == "1.1"


def test_a_zero_interval_never_polls() -> None:
    store = FakeStore("1.0")
    _slot, follower = follower_for(store, interval=0)
    follower.start()
    follower.stop()
    assert store.loads == ["1.0"]


def test_concurrent_checks_load_a_new_version_once() -> None:
    store = FakeStore("1.0")
    slot, follower = follower_for(store)
    store.version = "1.1"
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda: results.append(follower.check_now())) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.loads == ["1.0", "1.1"]
    assert sum(result.swapped for result in results) == 1
    assert slot.active is not None and slot.active.version == "1.1"
