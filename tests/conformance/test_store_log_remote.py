"""The store's log on every remote store: writes through the store (or through a registry in
front of it) land in ``log/`` in time order, and ``list_after`` lists from a key the way the
service does (obstore's offset on S3, GCS and Azure)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conformance.test_hostile import pushed
from tests.servers.gcs import expect_emulator_gap
from tests.servers.remote import RemoteStore

from modelshelf.backends.registry import open_backend
from modelshelf.store.bucket import Store


def _bucket(remote_store: RemoteStore) -> Store:
    behind = remote_store.behind()
    return Store(open_backend(behind.url, **behind.options))


def test_writes_land_in_the_store_log_in_order(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request)
    shelf = pushed(remote_store, tmp_path)  # m:1.0
    shelf.set_alias("m@production", "1.0")
    shelf.remove("m:1.0", message="bad")
    changes = _bucket(remote_store).changes()
    assert [(c.name, c.action) for c in changes] == [
        ("m", "push"),
        ("m", "alias"),
        ("m", "remove"),
    ]
    assert [c.id for c in changes] == sorted(c.id for c in changes)
    if remote_store.is_registry:  # the registry writes the records, in the token's name
        assert all(c.record.get("via") == "registry" for c in changes)


def test_list_after_starts_at_the_key(
    remote_store: RemoteStore, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request)
    backend = _bucket(remote_store).backend
    keys = [f"log/{n:04d}" for n in (3, 1, 2, 10, 7)]
    for key in keys:
        backend.put(key, b"x")
    backend.put("logx/0005", b"x")
    assert [m.path for m in backend.list_after("log", "log/0002")] == [
        "log/0003",
        "log/0007",
        "log/0010",
    ]
