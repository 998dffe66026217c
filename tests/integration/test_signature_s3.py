"""Signatures and safetensors through a real S3 server (SeaweedFS): recorded, pulled into a
fresh cache, read back strictly, shown; a forged signature in the bucket is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.servers.seaweed import S3Bucket
from tests.unit.test_signature import ArrayRunner

from modelshelf import Shelf, UntrustedStoreDataError, load_model, register_model
from modelshelf.cli.main import main
from modelshelf.shelf.source import PushSource

pytestmark = pytest.mark.integration


@pytest.fixture
def s3_env(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    for key, value in s3_bucket.env.items():
        monkeypatch.setenv(key, value)
    return s3_bucket


def test_a_signature_round_trips_through_seaweedfs(
    s3_env: S3Bucket, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    writer = Shelf(s3_env.url, cache_dir=tmp_path / "a")
    register_model(
        "models/arr", ArrayRunner, 3.0, store=writer, input_example=np.ones((2, 4), np.float32)
    )
    loaded = load_model("models/arr", store=Shelf(s3_env.url, cache_dir=tmp_path / "b"))
    assert loaded.signature is not None
    assert [str(t) for t in loaded.signature.inputs] == ["input-0 FP32 [-1, 4]"]
    assert [str(t) for t in loaded.signature.outputs] == ["output-0 FP32 [-1, 4]"]
    assert main(["show", "models/arr", "--store", s3_env.url]) == 0
    assert "input    input-0 FP32 [-1, 4]" in capsys.readouterr().out


def test_a_forged_signature_in_the_bucket_is_refused(s3_env: S3Bucket, tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    section = {
        "format": 1,
        "engine": "array",
        "runner": "tests.unit.test_signature:ArrayRunner",
        "requirements": [],
        "props": None,
        "artifacts": [],
        "signature": {"inputs": [{"name": "x", "datatype": "FP32", "shape": [-7]}]},
    }
    Shelf(s3_env.url, cache_dir=tmp_path / "w").push(
        PushSource.from_files({tmp_path / "f.txt": "f.txt"}),
        "models/forged",
        sections={"model": section},
    )
    with pytest.raises(UntrustedStoreDataError, match=r"its signature is refused"):
        load_model("models/forged", store=Shelf(s3_env.url, cache_dir=tmp_path / "r"))


def test_safetensors_pulled_from_seaweedfs_loads_without_trust(
    s3_env: S3Bucket, tmp_path: Path
) -> None:
    st = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "w.safetensors"
    st.save_file({"w": np.arange(4, dtype=np.float32)}, str(path))
    Shelf(s3_env.url, cache_dir=tmp_path / "w").push(
        PushSource.from_files({path: "model.safetensors"}), "models/weights"
    )
    loaded = load_model("models/weights", store=Shelf(s3_env.url, cache_dir=tmp_path / "r"))
    assert not loaded.trust
    np.testing.assert_array_equal(np.asarray(loaded.model["w"]), np.arange(4, dtype=np.float32))
    assert json.loads(json.dumps(loaded.metadata["engine"])) == "detected:safetensors"
