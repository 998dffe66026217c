"""verify, rm and gc against a real SeaweedFS S3 server on loopback."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.servers.seaweed import S3Bucket

from modelshelf import Shelf, VersionNotFoundError, VersionRemovedError
from modelshelf.cli.main import main
from modelshelf.store.gc import collect_garbage


@pytest.fixture
def shelf(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Shelf:
    for name, value in s3_bucket.env.items():
        monkeypatch.setenv(name, value)
    return Shelf(s3_bucket.url, cache_dir=tmp_path / "cache")


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    root.mkdir()
    (root / "weights.bin").write_bytes(os.urandom(300_000))
    (root / "config.json").write_bytes(b'{"layers": 2}')
    return root


def test_verify_finds_a_corrupted_blob(
    shelf: Shelf, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = shelf.push(model, "m", progress=False)
    assert shelf.verify("m", progress=False).ok
    weights = manifest.file("weights.bin")
    assert weights is not None
    key = shelf.store.blob_key(weights.sha256)
    shelf.store.backend.put(key, os.urandom(weights.size))  # same size, other bytes
    assert shelf.verify("m", quick=True, progress=False).ok
    assert main(["--store", shelf.url, "verify", "m:1.0"]) == 1
    out = capsys.readouterr().out
    assert "BAD  weights.bin: sha256 fault at" in out and key in out
    shelf.store.backend.put(key, b"truncated")
    (fault,) = shelf.verify("m", quick=True, progress=False).faults
    assert (fault.path, fault.problem) == ("weights.bin", "size")


def test_a_removed_version_number_is_never_reused(shelf: Shelf, model: Path) -> None:
    shelf.push(model, "m", progress=False)
    shelf.push(model, "m", progress=False)
    shelf.remove("m:1.1", message="leaked")
    body = shelf.store.backend.read("assets/m/versions/1.1.json")
    assert b"weights.bin" not in body
    with pytest.raises(VersionRemovedError, match="never reused"):
        shelf.push(model, "m:1.1", progress=False)
    with pytest.raises(VersionNotFoundError, match="removed by"):
        shelf.resolve("m:1.1")
    assert shelf.push(model, "m", progress=False).version == "1.2"
    assert shelf.versions("m") == ["1.2", "1.0"]


def test_gc_deletes_old_orphans_only(shelf: Shelf, model: Path, tmp_path: Path) -> None:
    manifest = shelf.push(model, "m", progress=False)
    used = {f.sha256 for f in manifest.files}
    orphan = b"left by a killed push"
    digest = hashlib.sha256(orphan).hexdigest()
    shelf.store.backend.put(shelf.store.blob_key(digest), orphan)
    kept = shelf.gc()  # default grace 24h: the orphan is young
    assert (kept.deleted, kept.young, kept.referenced) == ((), 1, 2)
    later = datetime.now(UTC) + timedelta(days=2)
    report = collect_garbage(shelf.store, now=later)
    assert report.deleted == (digest,) and report.deleted_bytes == len(orphan)
    assert {d for d, _ in shelf.store.blobs()} == used
    fresh = Shelf(shelf.url, cache_dir=tmp_path / "fresh")
    pulled = fresh.pull("m:1.0", progress=False)
    assert (pulled / "config.json").read_bytes() == b'{"layers": 2}'
