"""Issue 20 review B4 (item 10) on real servers: a push or copy racing a gc keeps its blob in
every order of events, with gc's quarantine moved by the service's own copy; a killed gc's
quarantine is recovered by the next.

For a registry (``http-*``) the race is two registry replicas over the bucket behind it: gc goes
through one, the writer through the other, each served in this process over a backend gated
for its side (``tests.gc_schedule.ThroughRegistries``)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from tests.gc_schedule import ORDERS, Sides, reached
from tests.servers.gcs import expect_emulator_gap
from tests.servers.remote import RemoteStore
from tests.unit.test_gc_trust import LATER, WEIGHTS, killed_gc, quarantine, race

from modelshelf import Shelf
from modelshelf.backends import Backend
from modelshelf.errors import ObjectNotFoundError
from modelshelf.store.gc import collect_garbage


@pytest.fixture
def model(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "w.bin").write_bytes(WEIGHTS)
    return folder


def remote(remote_store: RemoteStore, tmp_path: Path, model: Path) -> tuple[Backend, Sides]:
    """:func:`reached`, with the model's blob an old orphan in the bucket."""
    backend, sides = reached(remote_store)
    shelf = Shelf(backend, cache_dir=tmp_path / "c0")
    shelf.push(model, "old", progress=False)
    shelf.remove("old:1.0")
    return backend, sides


@pytest.mark.parametrize("order", ORDERS)
def test_a_push_racing_gc_keeps_its_blob_in_every_order(
    remote_store: RemoteStore,
    tmp_path: Path,
    model: Path,
    order: str,
    request: pytest.FixtureRequest,
) -> None:
    expect_emulator_gap(remote_store, request)
    backend, sides = remote(remote_store, tmp_path, model)
    race(order, backend, model, tmp_path, None, sides)


def test_a_copy_racing_gc_keeps_its_blob_when_only_gc_can_repair_it(
    remote_store: RemoteStore, tmp_path: Path, model: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request)
    backend, sides = remote(remote_store, tmp_path, model)
    source = Shelf((tmp_path / "dev").as_uri(), cache_dir=tmp_path / "c1")
    source.push(model, "m", progress=False)
    race("R Lk C P D L", backend, model, tmp_path, source, sides)


def test_the_next_gc_restores_a_blob_a_killed_gc_left_in_quarantine(
    remote_store: RemoteStore, tmp_path: Path, model: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request)
    inner, sides = remote(remote_store, tmp_path, model)
    with killed_gc(inner, model, tmp_path, sides) as shelf:
        assert not shelf.verify("new:1.0", progress=False).ok
        assert len(quarantine(inner)) == 1
        with sides.gc_store(inner) as store:
            report = collect_garbage(store, now=LATER + timedelta(days=2))
        assert report.restored == ("new:1.0",)
        assert shelf.verify("new:1.0", progress=False).ok
    assert quarantine(inner) == []


def test_the_store_moves_a_blob_to_the_quarantine_itself(
    remote_store: RemoteStore, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gc's move costs no transfer through this machine (nor through a registry's): the
    service copies the object."""
    expect_emulator_gap(remote_store, request)
    if remote_store.behind().kind == "file":
        pytest.skip(
            "the folder behind this registry is on the registry's machine: it is copied there"
        )
    backend, sides = reached(remote_store)
    data = b"bytes to move"
    sha = hashlib.sha256(data).hexdigest()
    backend.put(f"blobs/sha256/{sha[:2]}/{sha}", data)
    run = "20260101T000000Z-0123456789ab"

    def streamed(self: Backend, source: str, target: str) -> None:
        raise AssertionError("copied through this machine")

    monkeypatch.setattr(Backend, "copy", streamed)
    with sides.gc_store(backend) as store:
        store.quarantine_blob(sha, run)
        assert backend.read(f"gc/{run}/sha256/{sha[:2]}/{sha}") == data
        with pytest.raises(ObjectNotFoundError):
            store.quarantine_blob(hashlib.sha256(b"absent").hexdigest(), run)
