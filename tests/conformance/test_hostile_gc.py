"""Issue 20 review B4 (item 10) on real servers: a push or copy racing a gc keeps its blob in
every order of events, with gc's quarantine moved by the service's own copy; a killed gc's
quarantine is recovered by the next."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from tests.gc_schedule import ORDERS
from tests.servers.gcs import expect_emulator_gap
from tests.servers.remote import BACKEND, RemoteStore
from tests.unit.test_gc_trust import LATER, WEIGHTS, DiesBeforeLastListing, quarantine, race

from modelshelf import Shelf
from modelshelf.backends import Backend, open_backend
from modelshelf.errors import ObjectNotFoundError
from modelshelf.store.bucket import Store
from modelshelf.store.gc import collect_garbage

# Every test here races gc against a backend wrapped around the store's bucket.
pytestmark = pytest.mark.bucket_only(BACKEND)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "w.bin").write_bytes(WEIGHTS)
    return folder


def remote(remote_store: RemoteStore, tmp_path: Path, model: Path) -> Shelf:
    backend = open_backend(remote_store.url, **remote_store.options)
    shelf = Shelf(backend, cache_dir=tmp_path / "c0")
    shelf.push(model, "old", progress=False)
    shelf.remove("old:1.0")
    return shelf


@pytest.mark.parametrize("order", ORDERS)
def test_a_push_racing_gc_keeps_its_blob_in_every_order(
    remote_store: RemoteStore,
    tmp_path: Path,
    model: Path,
    order: str,
    request: pytest.FixtureRequest,
) -> None:
    expect_emulator_gap(remote_store, request)
    shelf = remote(remote_store, tmp_path, model)
    race(order, shelf.store.backend, "push", model, tmp_path, None)


def test_a_copy_racing_gc_keeps_its_blob_when_only_gc_can_repair_it(
    remote_store: RemoteStore, tmp_path: Path, model: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request)
    shelf = remote(remote_store, tmp_path, model)
    source = Shelf((tmp_path / "dev").as_uri(), cache_dir=tmp_path / "c1")
    source.push(model, "m", progress=False)
    race("R Lk C P D L", shelf.store.backend, "copy", model, tmp_path, source)


def test_the_next_gc_restores_a_blob_a_killed_gc_left_in_quarantine(
    remote_store: RemoteStore, tmp_path: Path, model: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request)
    shelf = remote(remote_store, tmp_path, model)
    inner = shelf.store.backend
    dying = DiesBeforeLastListing(inner, lambda: shelf.push(model, "new", progress=False))
    with pytest.raises(KeyboardInterrupt):
        collect_garbage(Store(dying), now=LATER)
    assert not shelf.verify("new:1.0", progress=False).ok
    assert len(quarantine(inner)) == 1
    report = collect_garbage(Store(inner), now=LATER + timedelta(days=2))
    assert report.restored == ("new:1.0",)
    assert shelf.verify("new:1.0", progress=False).ok
    assert quarantine(inner) == []


def test_the_store_moves_a_blob_to_the_quarantine_itself(
    remote_store: RemoteStore, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gc's move costs no transfer through this machine: the service copies the object."""
    expect_emulator_gap(remote_store, request)
    backend = open_backend(remote_store.url, **remote_store.options)
    backend.put("blobs/x", b"bytes to move")

    def streamed(self: Backend, source: str, target: str) -> None:
        raise AssertionError("copied through this machine")

    monkeypatch.setattr(Backend, "copy", streamed)
    backend.copy("blobs/x", "gc/x")
    assert backend.read("gc/x") == b"bytes to move"
    with pytest.raises(ObjectNotFoundError):
        type(backend).copy(backend, "blobs/absent", "gc/absent")
