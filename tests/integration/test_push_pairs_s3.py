"""A push of (local file, path in asset) pairs with a manifest section, on a real S3 server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.servers.seaweed import S3Bucket

from modelshelf import PushSource, Shelf
from modelshelf.backends import open_backend
from modelshelf.store.bucket import Store


@pytest.fixture
def s3_env(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    for key, value in s3_bucket.env.items():
        monkeypatch.setenv(key, value)
    return s3_bucket


def test_pairs_with_a_section_round_trip_through_seaweedfs(
    s3_env: S3Bucket, tmp_path: Path
) -> None:
    (tmp_path / "out").mkdir()
    weights = tmp_path / "out" / "model.pt"
    weights.write_bytes(bytes(range(256)) * 4096)  # 1 MiB
    checkpoint = tmp_path / "ckpt-7.bin"
    checkpoint.write_bytes(b"step 7")
    section = {"runner": "pkg.mod:Cls", "engine": "torch", "requirements": ["torch==2.13.0"]}

    source = PushSource.from_files({weights: "model.pt", checkpoint: "checkpoints/7.bin"})
    manifest = Shelf(s3_env.url, cache_dir=tmp_path / "a").push(
        source, "models/pairs", sections={"model": section}
    )
    assert manifest.extra == {"model": section}

    # What the server holds, read raw: the section sits at the top level of the manifest.
    raw = b"".join(open_backend(s3_env.url).get(Store.manifest_key("models/pairs", "1.0"), 65536))
    assert json.loads(raw)["model"] == section

    fresh = Shelf(s3_env.url, cache_dir=tmp_path / "b")
    folder = fresh.pull("models/pairs:1")
    assert (folder / "model.pt").read_bytes() == weights.read_bytes()
    assert (folder / "checkpoints" / "7.bin").read_bytes() == b"step 7"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "checkpoints/7.bin",
        "model.pt",
    ]
    assert fresh.manifest("models/pairs:1.0").extra == {"model": section}
