"""The store seam: the facade talks to the StoreLayout interface only, never to a backend's keys."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import modelshelf
from modelshelf import Shelf
from modelshelf.backends import open_backend
from modelshelf.store.api import MaintainedStore, StoreLayout
from modelshelf.store.bucket import Store
from modelshelf.transfer.download import BlobReader

SRC = Path(modelshelf.__file__).parent
# The store layout itself, and the layers below it, may know keys; nothing above.
BELOW_THE_SEAM = {
    "store/bucket.py",
    "store/api.py",
    "store/_shared.py",
    "store/aliases.py",
    "store/removal.py",
    "registry/tokens.py",  # the registry's own keys (registry/tokens/), beside the layout's
    "registry/uploads.py",  # and its upload sessions (registry/uploads/, registry/upload-owners/)
    "registry/app.py",  # bounds the memory of its store's uploads (upload_parts_in_flight)
    # the webhooks' own keys (registry/webhooks/): hooks, cursors, deliveries, the lease
    "registry/webhooks/hooks.py",
    "registry/webhooks/deliveries.py",
    "registry/webhooks/lease.py",
}


def test_the_bucket_store_is_both_interfaces() -> None:
    store = Store(open_backend("memory://seam"))
    assert isinstance(store, StoreLayout)
    assert isinstance(store, MaintainedStore)
    assert store.guarantees.create_only_commit and store.guarantees.alias_compare_and_swap


def test_nothing_above_the_seam_reaches_a_stores_backend_or_keys() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        relative = path.relative_to(SRC).as_posix()
        if relative in BELOW_THE_SEAM or relative.startswith(("backends/", "transfer/")):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"store\.backend\b|\bblob_key\(", line):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == []


class CountingBlob:
    def __init__(self, inner: BlobReader, reads: list[str]) -> None:
        self.inner = inner
        self.reads = reads

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def where(self) -> str:
        return self.inner.where

    def size(self) -> int:
        self.reads.append("size")
        return self.inner.size()

    def read_range(self, start: int, end: int) -> bytes | memoryview:
        self.reads.append("range")
        return self.inner.read_range(start, end)

    def read_chunks(self, start: int, end: int) -> Iterator[bytes | memoryview]:
        self.reads.append("range")
        return self.inner.read_chunks(start, end)


def test_pull_and_verify_read_blobs_through_open_blob(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shelf = Shelf("memory://seam-reads", cache_dir=tmp_path / "cache")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "w.bin").write_bytes(b"weights" * 100)
    shelf.push(tmp_path / "model", "team/m")
    reads: list[str] = []
    opened = Store.open_blob

    def counting(self: Store, sha256: str) -> BlobReader:
        return CountingBlob(opened(self, sha256), reads)

    monkeypatch.setattr(Store, "open_blob", counting)
    shelf.pull("team/m:1.0")
    assert "range" in reads
    reads.clear()
    assert shelf.verify("team/m:1.0").ok
    assert reads.count("size") >= 1 and "range" in reads
