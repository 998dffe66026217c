"""Promotion between a local store and SeaweedFS, both ways, multipart-sized blobs included."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.servers.seaweed import S3Bucket

from modelshelf import Shelf


@pytest.fixture
def s3_env(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    for name, value in s3_bucket.env.items():
        monkeypatch.setenv(name, value)
    return s3_bucket


def test_promote_file_to_s3_and_back(s3_env: S3Bucket, tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    big = os.urandom(40 * 1024 * 1024)  # several multipart parts and stream ranges
    (model / "weights.bin").write_bytes(big)
    (model / "config.json").write_text("{}")
    dev = Shelf((tmp_path / "dev").as_uri(), cache_dir=tmp_path / "cache")
    prod = Shelf(s3_env.url, cache_dir=tmp_path / "cache")
    pushed = dev.push(model, "nlp/big", message="dev", progress=False)
    report = dev.copy("nlp/big:1.0", prod, progress=False)
    assert report.blobs_copied == 2 and not report.already_there
    assert prod.store.read_manifest("nlp/big", "1.0") == pushed
    out = prod.pull("nlp/big:1.0", output=tmp_path / "from-s3", progress=False)
    assert (out / "weights.bin").read_bytes() == big
    # And from S3 to a third store: the source is now the remote one.
    air = Shelf((tmp_path / "airgap").as_uri(), cache_dir=tmp_path / "cache2")
    back = prod.copy("nlp/big:1.0", air, progress=False)
    assert back.blobs_copied == 2
    assert air.store.read_manifest("nlp/big", "1.0") == pushed
