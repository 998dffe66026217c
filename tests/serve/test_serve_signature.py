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
        assert client.infer("tiny", [good]).as_numpy("output-0").shape == (2, 2)
    finally:
        client.close()


def test_onnx_metadata_lists_the_graph(store_url: str, start_server: StartServer) -> None:
    host_port = _onnx_server(store_url, start_server)
    meta = httpx.get(f"http://{host_port}/v2/models/tiny", timeout=30.0, trust_env=False).json()
    assert meta["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 3]}]
    assert meta["outputs"] == [{"name": "y", "datatype": "FP32", "shape": [-1, 2]}]
