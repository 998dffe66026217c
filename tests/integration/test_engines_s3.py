"""An engine helper on a real S3 server (SeaweedFS): a scikit-learn pipeline via skops."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests import engines_fixtures as fx
from tests.servers.seaweed import S3Bucket

from modelshelf import Shelf, load_model, register_sklearn_model


@pytest.fixture
def s3_env(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    for key, value in s3_bucket.env.items():
        monkeypatch.setenv(key, value)
    return s3_bucket


def test_sklearn_pipeline_through_seaweedfs(s3_env: S3Bucket, tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("skops")
    pipeline = fx.tiny_pipeline()
    x, _ = fx.tiny_data()
    writer = Shelf(s3_env.url, cache_dir=tmp_path / "a")
    manifest = register_sklearn_model(
        "models/sk", pipeline, postprocess_data=fx.to_list, store=writer
    )
    assert [f.path for f in manifest.files] == ["model/model.skops"]

    loaded = load_model("models/sk:1", store=Shelf(s3_env.url, cache_dir=tmp_path / "b"))
    assert loaded.predict(x) == pipeline.predict(x).tolist()
    assert loaded.metadata["engine"] == "sklearn"
    assert (loaded.path / "model" / "model.skops").stat().st_size == manifest.size
