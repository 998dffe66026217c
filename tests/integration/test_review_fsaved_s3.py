"""The review of issue 21 (saved instances, export) on a real S3 server (SeaweedFS): a zip bomb
saved as an instance is refused in one line naming the asset before anything is inflated, and
a default-saved model exports to a folder with its file's extension."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from tests import engines_fixtures as efx
from tests import runner_contract_fixtures as fx
from tests.servers.seaweed import S3Bucket

from modelshelf import (
    PushSource,
    Shelf,
    UntrustedStoreDataError,
    export,
    load_model,
    register_model,
)

MiB = 2**20


@pytest.fixture
def s3_env(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    for key, value in s3_bucket.env.items():
        monkeypatch.setenv(key, value)
    return s3_bucket


def test_a_skops_bomb_on_seaweedfs_is_refused_and_a_real_model_exports_with_its_extension(
    s3_env: S3Bucket, tmp_path: Path
) -> None:
    skops_io = pytest.importorskip("skops.io")
    writer = Shelf(s3_env.url, cache_dir=tmp_path / "a")
    register_model("models/iris", fx.PredictOnly, efx.tiny_pipeline(), store=writer)
    where = export(
        "models/iris", to=tmp_path / "deploy", store=Shelf(s3_env.url, cache_dir=tmp_path / "b")
    )
    assert Path(where) == tmp_path / "deploy" / "models" / "iris.skops"
    assert zipfile.is_zipfile(where)

    real = tmp_path / "m.skops"
    skops_io.dump(efx.tiny_pipeline(), real)
    bomb = tmp_path / "bomb.skops"
    with zipfile.ZipFile(real) as old, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            with old.open(info) as read, new.open(info.filename, "w", force_zip64=True) as write:
                write.write(read.read())
                if info.filename == "schema.json":
                    for _ in range(64):
                        write.write(b" " * MiB)
    section = {
        "runner": "tests.runner_contract_fixtures:PredictOnly",
        "requirements": [],
        "artifacts": ["model"],
        "props": None,
        "saved_as": "skops",
    }
    writer.push(
        PushSource.from_files({bomb: "model/model.skops"}),
        "models/bomb",
        sections={"model": section},
    )
    with pytest.raises(UntrustedStoreDataError, match="inflate") as caught:
        load_model("models/bomb", store=Shelf(s3_env.url, cache_dir=tmp_path / "c"))
    message = str(caught.value)
    assert message.startswith("models/bomb:1.0 in s3://") and "\n" not in message
