"""Signatures on the served Open Inference Protocol face, against the real ``modelshelf serve``.

``GET /v2/models/{name}`` lists the model's inputs and outputs (from the recorded signature, or
from an ONNX graph), and an infer request whose datatype or rank contradicts them is a 400
naming the input, before the model is called; errors the model raises stay what they were.
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest
import tritonclient.http as httpclient
from tests import engines_fixtures as fx
from tests.serve.helpers import StartServer
from tritonclient.utils import InferenceServerException

import modelshelf

pytestmark = pytest.mark.integration


def _onnx_server(store_url: str, start_server: StartServer) -> str:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("torch")
    graph = fx.onnx_of(fx.tiny_module())
    modelshelf.register_onnx_model("team/tiny", graph, version="1", store=store_url, progress=False)
    server = start_server("team/tiny:1")
    return server.host_port


def test_onnx_input_of_the_wrong_rank_is_a_400_naming_it(
    store_url: str, start_server: StartServer
) -> None:
    host_port = _onnx_server(store_url, start_server)
    client = httpclient.InferenceServerClient(host_port, network_timeout=60.0)
    try:
        flat = np.ones(3, dtype=np.float32)  # rank 1; the graph takes [N, 3]
        tensor = httpclient.InferInput("x", [3], "FP32")
        tensor.set_data_from_numpy(flat)
        with pytest.raises(InferenceServerException) as caught:
            client.infer("tiny", [tensor])
        assert caught.value.status() == "400", caught.value
        assert "'x'" in str(caught.value.message()) and "rank" in str(caught.value.message())
        good = httpclient.InferInput("x", [2, 3], "FP32")
        good.set_data_from_numpy(np.ones((2, 3), dtype=np.float32))
        assert client.infer("tiny", [good]).as_numpy("y").shape == (2, 2)  # as metadata names it
    finally:
        client.close()


def test_onnx_metadata_lists_the_graph(store_url: str, start_server: StartServer) -> None:
    host_port = _onnx_server(store_url, start_server)
    meta = httpx.get(f"http://{host_port}/v2/models/tiny", timeout=30.0, trust_env=False).json()
    assert meta["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 3]}]
    assert meta["outputs"] == [{"name": "y", "datatype": "FP32", "shape": [-1, 2]}]


def test_onnx_datatypes_text_is_refused_and_wider_floats_are_cast(
    store_url: str, start_server: StartServer
) -> None:
    host_port = _onnx_server(store_url, start_server)
    url = f"http://{host_port}/v2/models/tiny/infer"
    words = {"name": "x", "datatype": "BYTES", "shape": [1, 3], "data": ["a", "b", "c"]}
    refused = httpx.post(url, json={"inputs": [words]}, timeout=30.0, trust_env=False)
    assert refused.status_code == 400
    assert refused.json()["error"].startswith(
        "input 'x': datatype BYTES contradicts the model's FP32"
    )
    wide = {"name": "x", "datatype": "FP64", "shape": [1, 3], "data": [1.0, 2.0, 3.0]}
    answered = httpx.post(url, json={"inputs": [wide]}, timeout=30.0, trust_env=False)
    assert answered.status_code == 200, answered.text
    assert answered.json()["outputs"][0]["shape"] == [1, 2]


def test_a_registered_example_is_the_served_signature(
    store_url: str, start_server: StartServer
) -> None:
    pytest.importorskip("skops")
    estimator = fx.tiny_pipeline()
    rows, _ = fx.tiny_data()
    modelshelf.register_sklearn_model(
        "team/clf", estimator, version="1", store=store_url, progress=False, input_example=rows[:2]
    )
    server = start_server("team/clf:1")
    client = httpclient.InferenceServerClient(server.host_port, network_timeout=60.0)
    try:
        meta = client.get_model_metadata("clf")
        assert meta["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 3]}]
        assert meta["outputs"] == [{"name": "output-0", "datatype": "INT64", "shape": [-1]}]
        wide = httpclient.InferInput("input-0", [2, 4], "FP64")
        wide.set_data_from_numpy(np.zeros((2, 4)))
        with pytest.raises(InferenceServerException) as caught:
            client.infer("clf", [wide])
        assert caught.value.status() == "400"
        assert "dimension 1 is 4, but the model takes [-1, 3]" in str(caught.value.message())
        good = httpclient.InferInput("input-0", [5, 3], "FP64")
        good.set_data_from_numpy(rows[:5])
        got = client.infer("clf", [good]).as_numpy("output-0")
        np.testing.assert_array_equal(got, estimator.predict(rows[:5]))
    finally:
        client.close()
    # The JSON face takes what the runner takes, as before: no OIP datatypes to check there.
    answer = httpx.post(
        f"{server.url}/predict", json=rows[:2].tolist(), timeout=30.0, trust_env=False
    )
    assert answer.status_code == 200 and answer.json() == estimator.predict(rows[:2]).tolist()
    described = httpx.get(f"{server.url}/metadata", timeout=30.0, trust_env=False).json()
    assert described["model"]["signature"]["inputs"][0]["shape"] == [-1, 3]
