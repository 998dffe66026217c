"""Issue 20 items 8 and 10 on real servers: a copy racing a gc keeps its blobs; a mirror reads no
more of an object than its listing said, and no listing runs on forever."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from tests.conformance.test_hostile import put_raw
from tests.servers.gcs import expect_emulator_gap
from tests.servers.remote import RemoteStore
from tests.unit.test_copy_trust import GcAtCommit, race_copy

from modelshelf import Shelf
from modelshelf.backends import open_backend


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_copy_restores_reused_blobs_a_gc_deleted_around_its_commit(
    remote_store: RemoteStore,
    tmp_path: Path,
    when: str,
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:
    expect_emulator_gap(remote_store, request)
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(os.urandom(50_000))
    (model / "config.json").write_text('{"labels": 2}')
    source = Shelf((tmp_path / "dev").as_uri(), cache_dir=tmp_path / "c1")
    backend = GcAtCommit(open_backend(remote_store.url, **remote_store.options), when)
    destination = Shelf(backend, cache_dir=tmp_path / "c2")
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        race_copy(source, destination, backend, model)
    assert "during the copy" in caplog.text
    assert destination.verify("m:1.0", progress=False).ok
