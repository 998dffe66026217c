"""Review of issue 21 on a real SeaweedFS S3 server: `modelshelf serve` of a version that can
never load (a pickle without --trust, a plain file that is not a model, pulled for detection)
is one `error:` line before uvicorn starts; an ONNX graph served from S3 answers under the
output name its metadata lists."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.runner_contract_fixtures import PredictOnly, Scaler
from tests.servers.seaweed import S3Bucket
from tests.servers.serve_process import REPO, ServeProcess, free_port, server_env

from modelshelf import Shelf, register_model

pytestmark = pytest.mark.integration
SRC = Path(__import__("modelshelf").__file__).parents[1]


@pytest.fixture
def shelf(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Shelf:
    for name, value in s3_bucket.env.items():
        monkeypatch.setenv(name, value)
    return Shelf(s3_bucket.url, cache_dir=tmp_path / "cache")


def serve(tmp_path: Path, bucket: S3Bucket, spec: str) -> subprocess.CompletedProcess[str]:
    env = server_env(tmp_path / "serve-cache", dict(bucket.env))
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(REPO)])
    port = str(free_port())
    return subprocess.run(
        [sys.executable, "-m", "modelshelf", "--store", bucket.url, "serve", spec, "--port", port],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_versions_that_cannot_load_fail_before_uvicorn(
    shelf: Shelf, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    register_model("demo/plain", PredictOnly, Scaler(2.0), store=shelf, version="1")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a model\n")
    shelf.push(notes, "demo/text")
    for spec, words in (("demo/plain", "--trust"), ("demo/text", "is not a registered model")):
        done = serve(tmp_path, s3_bucket, spec)
        assert done.returncode == 1, done.stderr
        assert done.stderr.startswith("error: ") and words in done.stderr, done.stderr
        assert "uvicorn.error" not in done.stderr and " INFO " not in done.stderr, done.stderr


def test_an_onnx_graph_from_s3_answers_under_its_metadata_name(
    shelf: Shelf, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    httpx = pytest.importorskip("httpx")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.INT32, [None])
    y = helper.make_tensor_value_info("y", TensorProto.INT32, [None])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    proto.ir_version = 8
    import modelshelf

    modelshelf.register_onnx_model("att/i32", proto, version="1", store=shelf, progress=False)
    with ServeProcess(
        "att/i32:1", workdir=tmp_path / "srv", store=s3_bucket.url, env=dict(s3_bucket.env)
    ) as server:
        url = f"{server.url}/v2/models/i32"
        meta = httpx.get(url, trust_env=False, timeout=30.0).json()
        assert [o["name"] for o in meta["outputs"]] == ["y"]
        tensor = {"name": "x", "datatype": "INT64", "shape": [2], "data": [5, 1099511627777]}
        refused = httpx.post(f"{url}/infer", json={"inputs": [tensor]}, trust_env=False)
        assert refused.status_code == 400 and "out of range for the model's INT32" in refused.text
        tensor["data"] = [5, -6]
        answer = httpx.post(f"{url}/infer", json={"inputs": [tensor]}, trust_env=False).json()
        assert answer["outputs"] == [
            {"name": "y", "datatype": "INT32", "shape": [2], "data": [5, -6]}
        ]
