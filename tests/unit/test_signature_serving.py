"""The served signature in process (Starlette's TestClient): an ONNX session in memory lists
its graph, a local .onnx file too, and a contradicting input is a 400 before the model runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from tests import engines_fixtures as fx

from modelshelf.models import OnnxRunner

pytest.importorskip("fastapi")
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
pytest.importorskip("torch")

from starlette.testclient import TestClient  # noqa: E402 (after the skips)

from modelshelf.serve import create_app  # noqa: E402

X = {"name": "x", "datatype": "FP32", "shape": [2, 3], "data": [1.0] * 6}


def _session() -> Any:
    data = fx.onnx_of(fx.tiny_module()).SerializeToString()
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


class CountingOnnx(OnnxRunner):
    """The built-in ONNX runner, counting its calls (its predict is the same function)."""

    calls: ClassVar[list[int]] = []

    @staticmethod
    def preprocess_data(data: Any) -> Any:
        CountingOnnx.calls.append(1)
        return data


def _check(client: TestClient, name: str) -> None:
    meta = client.get(f"/v2/models/{name}").json()
    assert meta["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 3]}]
    assert meta["outputs"] == [{"name": "y", "datatype": "FP32", "shape": [-1, 2]}]
    ok = client.post(f"/v2/models/{name}/infer", json={"inputs": [X]})
    assert ok.status_code == 200 and ok.json()["outputs"][0]["shape"] == [2, 2]
    flat = {**X, "shape": [6]}
    refused = client.post(f"/v2/models/{name}/infer", json={"inputs": [flat]})
    assert refused.status_code == 400
    assert "rank 1, but the model takes rank 2 ([-1, 3]" in refused.json()["error"]


def test_an_onnx_session_in_memory(tmp_path: Path) -> None:
    with TestClient(create_app(model=_session(), runner_cls=OnnxRunner, name="tiny")) as client:
        _check(client, "tiny")


def test_a_local_onnx_file(tmp_path: Path) -> None:
    path = tmp_path / "tiny.onnx"
    onnx.save(fx.onnx_of(fx.tiny_module()), str(path))
    with TestClient(create_app(path)) as client:
        _check(client, "tiny")


def test_a_runner_with_its_own_preprocess_lists_nothing_and_checks_nothing() -> None:
    """A preprocess between the request and the graph: the graph says nothing of the request."""
    CountingOnnx.calls.clear()
    app = create_app(model=_session(), runner_cls=CountingOnnx, name="tiny")
    with TestClient(app) as client:
        meta = client.get("/v2/models/tiny").json()
        assert meta["inputs"] == [] and meta["outputs"] == []
        flat = {**X, "shape": [6]}
        answer = client.post("/v2/models/tiny/infer", json={"inputs": [flat]})
        assert answer.status_code != 200 and CountingOnnx.calls == [1]  # the model's own error
