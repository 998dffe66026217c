"""A copy never commits a version without its blobs: a gc racing the copy is repaired after the
commit, as a push repairs it (issue 20, item 10). The same race on SeaweedFS and Azurite is in
tests/conformance/test_hostile_mirror.py."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import pytest
from tests.wrapped_backend import WrappedBackend

from modelshelf import Shelf
from modelshelf.backends import Backend, PutMode, open_backend
from modelshelf.store.api import MaintainedStore
from modelshelf.store.bucket import Store
from modelshelf.store.gc import collect_garbage

LATER = datetime.now(UTC) + timedelta(days=2)  # every blob written by a test is old by then


class GcAtCommit(WrappedBackend):
    """A gc that runs when the copy commits its manifest: ``before`` the manifest is written (a
    real gc: the reused blob is still an orphan) or right ``after`` it (a gc that listed the
    manifests before the commit and deletes now). The gc goes through ``gc_store``: by default
    the bucket ``inner`` itself; for a registry, a replica of its own over that bucket."""

    def __init__(self, inner: Backend, when: str, gc_store: MaintainedStore | None = None) -> None:
        super().__init__(inner)
        self.gc_store = gc_store if gc_store is not None else Store(inner)
        self.when = when
        self.armed = False
        self.victims: list[str] = []

    def put(self, key: str, data: bytes | Path | BinaryIO, *, mode: PutMode = "overwrite") -> None:
        commit = self.armed and "/versions/" in key and key.endswith(".json")
        if commit and self.when == "before":
            self.armed = False
            report = collect_garbage(self.gc_store, now=LATER)
            self.victims = list(report.deleted)
        super().put(key, data, mode=mode)
        if commit and self.when == "after":
            self.armed = False
            for sha in self.victims:
                self.inner.delete(f"blobs/sha256/{sha[:2]}/{sha}")


def race_copy(source: Shelf, destination: Shelf, backend: GcAtCommit, model: Path) -> None:
    """Leave the model's blobs in ``destination`` as orphans, then copy it there while a gc
    deletes them between the copy's lookups and its commit (or just after the commit)."""
    source.push(model, "m", progress=False)
    destination.push(model, "old", progress=False)
    destination.remove("old:1.0")  # its blobs are orphans now: present, but gc's to delete
    if backend.when == "after":
        backend.victims = sorted({f.sha256 for f in source.store.read_manifest("m", "1.0").files})
    backend.armed = True
    report = source.copy("m:1.0", destination, progress=False)
    assert report.blobs_present == 2 and report.blobs_copied == 0  # found present: not sent
    assert backend.victims  # the race happened: the blobs were deleted under the copy


@pytest.fixture
def model(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(os.urandom(50_000))
    (folder / "config.json").write_text('{"labels": 2}')
    return folder


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_copy_restores_reused_blobs_a_gc_deleted_around_its_commit(
    tmp_path: Path, model: Path, when: str, caplog: pytest.LogCaptureFixture
) -> None:
    source = Shelf((tmp_path / "dev").as_uri(), cache_dir=tmp_path / "c1")
    backend = GcAtCommit(open_backend((tmp_path / "prod").as_uri()), when)
    destination = Shelf(backend, cache_dir=tmp_path / "c2")
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        race_copy(source, destination, backend, model)
    report = destination.verify("m:1.0", progress=False)
    assert report.ok, report
    assert "vanished from" in caplog.text and "during the copy" in caplog.text
    out = destination.pull("m:1.0", output=tmp_path / "out", progress=False)
    assert (out / "weights.bin").read_bytes() == (model / "weights.bin").read_bytes()
