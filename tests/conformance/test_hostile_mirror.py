"""Issue 20 items 8 and 10 on real servers: a copy racing a gc keeps its blobs; a mirror reads no
more of an object than its listing said, and no listing runs on forever."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from tests.conformance.test_hostile import put_raw
from tests.gc_schedule import reached
from tests.servers.gcs import expect_emulator_gap
from tests.servers.remote import MIRROR, RemoteStore
from tests.unit.test_copy_trust import GcAtCommit, race_copy
from tests.wrapped_backend import WrappedBackend

from modelshelf import Shelf
from modelshelf.backends import ObjectMeta, open_backend, register_backend
from modelshelf.errors import StoreError
from modelshelf.mirror.run import mirror


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_copy_restores_reused_blobs_a_gc_deleted_around_its_commit(
    remote_store: RemoteStore,
    tmp_path: Path,
    when: str,
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:
    """For a registry: the copy through one replica, the gc through another."""
    expect_emulator_gap(remote_store, request)
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(os.urandom(50_000))
    (model / "config.json").write_text('{"labels": 2}')
    source = Shelf((tmp_path / "dev").as_uri(), cache_dir=tmp_path / "c1")
    inner, sides = reached(remote_store)
    with sides.gc_store(inner) as gc_store:
        backend = GcAtCommit(inner, when, gc_store)
        with sides.writer(backend, tmp_path / "c2") as destination:
            with caplog.at_level(logging.WARNING, logger="modelshelf"):
                race_copy(source, destination, backend, model)
            assert "during the copy" in caplog.text
            assert destination.verify("m:1.0", progress=False).ok


class Lying(WrappedBackend):
    """The real store, with a listing (and HEAD) that says every object holds 10 bytes, or
    gives no size at all; counts the bytes its GETs handed over."""

    real_scheme: ClassVar[str] = ""
    listed: ClassVar[int | None] = 10
    taken: ClassVar[int] = 0

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Lying:
        return cls(open_backend(f"{cls.real_scheme}://{url.split('://', 1)[1]}", **kwargs))

    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        for meta in self.inner.list(prefix):
            yield ObjectMeta(meta.path, self.listed, meta.etag, meta.last_modified)  # type: ignore[arg-type]

    def head(self, key: str) -> ObjectMeta:
        meta = self.inner.head(key)
        return ObjectMeta(meta.path, 10, meta.etag, meta.last_modified)

    def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
        for chunk in self.inner.get(key, chunk_size):
            Lying.taken += len(chunk)
            yield chunk


@pytest.mark.bucket_only(MIRROR)
@pytest.mark.parametrize("listed", [10, None], ids=["listed-10-bytes", "listed-without-size"])
def test_a_mirror_reads_no_further_than_the_listed_size(
    remote_store: RemoteStore,
    tmp_path: Path,
    listed: int | None,
    request: pytest.FixtureRequest,
) -> None:
    # The emulator drops a 12 MiB upload and lists nothing (HTTP 501).
    expect_emulator_gap(remote_store, request, raises=(StoreError, OSError))
    real = 12 * 1024 * 1024  # one GET (below a range), 12 MiB behind a listing of 10 bytes
    put_raw(remote_store, "big/obj.bin", os.urandom(real))
    scheme, _, rest = remote_store.url.partition("://")
    register_backend("lying", Lying, clobber=True)
    Lying.real_scheme, Lying.listed, Lying.taken = scheme, listed, 0
    dest = tmp_path / "dest"
    prefix = rest.partition("/")[2]
    bucket = rest.partition("/")[0]
    with pytest.raises(StoreError, match=r"obj\.bin is larger than listed \(10 bytes\)"):
        mirror(f"lying://{bucket}/{prefix}/big", dest, **remote_store.options)
    assert 0 < Lying.taken < real // 4  # a chunk or two, not the object
    assert [p for p in dest.rglob("*") if p.is_file()] == []
