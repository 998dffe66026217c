"""The runner contract on a real S3 server (SeaweedFS): a predict-only runner's instance saved
by engine, registered with a message, aliases and metadata, loads into a fresh cache; the
aliases are create-only records moved after the commit, audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests import engines_fixtures as efx
from tests import runner_contract_fixtures as fx
from tests.servers.seaweed import S3Bucket

from modelshelf import Shelf, load_model, register_model, register_pickle_model


@pytest.fixture
def s3_env(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    for key, value in s3_bucket.env.items():
        monkeypatch.setenv(key, value)
    return s3_bucket


def test_a_predict_only_runner_on_seaweedfs(s3_env: S3Bucket, tmp_path: Path) -> None:
    pytest.importorskip("skops")
    pipeline = efx.tiny_pipeline()
    x, _ = efx.tiny_data()
    writer = Shelf(s3_env.url, cache_dir=tmp_path / "a")
    manifest = register_model(
        "models/iris",
        fx.PredictOnly,
        pipeline,
        store=writer,
        message="first cut",
        aliases=["prod"],
        metadata={"dataset": "tiny"},
    )
    assert manifest.extra["model"]["saved_as"] == "skops"
    assert manifest.source["runner"] == "tests.runner_contract_fixtures:PredictOnly"
    assert "modelshelf-register-" not in manifest.to_json().decode()
    reader = Shelf(s3_env.url, cache_dir=tmp_path / "b")
    loaded = load_model("models/iris@prod", store=reader)
    assert loaded.predict(x).tolist() == pipeline.predict(x).tolist()
    assert (loaded.manifest.message, loaded.manifest.metadata) == ("first cut", manifest.metadata)
    actions = [(r.get("action"), r.get("alias")) for r in reader.log("models/iris")]
    assert ("alias", "prod") in actions

    again = register_pickle_model("models/iris", fx.Scaler(2.0), store=writer, aliases=["prod"])
    assert reader.resolve("models/iris@prod").version == again.version != manifest.version
