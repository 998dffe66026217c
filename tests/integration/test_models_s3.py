"""A runner model registered on a real S3 server (SeaweedFS) loads into a fresh cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests import models_fixtures as fx
from tests.servers.seaweed import S3Bucket

from modelshelf import Shelf, load_model, register_model


@pytest.fixture
def s3_env(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    for key, value in s3_bucket.env.items():
        monkeypatch.setenv(key, value)
    return s3_bucket


def test_register_and_load_through_seaweedfs(s3_env: S3Bucket, tmp_path: Path) -> None:
    weights = {"x": 2.0, "y": -1.5, "bias": 0.25}
    (tmp_path / "ckpt" / "e1").mkdir(parents=True)
    (tmp_path / "ckpt" / "e1" / "w.bin").write_bytes(bytes(range(256)) * 64)
    writer = Shelf(s3_env.url, cache_dir=tmp_path / "a")
    first = register_model(
        "models/linear",
        fx.LinearRunner,
        weights,
        requirements=["pytest>=1"],
        artifacts={f"{tmp_path / 'ckpt'}/*": "ckpt"},
        store=writer,
    )
    second = register_model("models/linear", fx.LinearRunner, weights, version="3", store=writer)
    assert (first.version, second.version) == ("1.0", "3.0")
    assert [f.path for f in first.files] == ["ckpt/e1/w.bin", "model/weights.json"]

    loaded = load_model("models/linear:1", store=Shelf(s3_env.url, cache_dir=tmp_path / "b"))
    assert loaded.predict([{"x": 1, "y": 2}]) == [-0.75]
    assert loaded.metadata["requirements"] == ["pytest>=1"]
    assert (loaded.path / "ckpt" / "e1" / "w.bin").read_bytes() == bytes(range(256)) * 64
