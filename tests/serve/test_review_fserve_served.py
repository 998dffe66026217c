"""Review of issue 21 against the real ``modelshelf serve`` and tritonclient: an ONNX graph's
outputs answer under the names its OIP metadata lists (registered or a plain ``.onnx`` file),
integers that do not fit the graph's type are a 400 (not a wrap, not a 500), and text sent as
tritonclient's binary BYTES reaches a string graph as text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.serve.helpers import StartServer

import modelshelf

pytestmark = pytest.mark.integration

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
httpclient = pytest.importorskip("tritonclient.http")

from onnx import TensorProto, helper  # noqa: E402 (after the skips)
from tritonclient.utils import InferenceServerException  # noqa: E402


def identity(kind: int, out: str = "y") -> Any:
    x = helper.make_tensor_value_info("x", kind, [None])
    y = helper.make_tensor_value_info(out, kind, [None])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], [out])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def test_a_registered_graph_answers_under_its_metadata_names(
    store_url: str, start_server: StartServer
) -> None:
    modelshelf.register_onnx_model(
        "demo/onnx2", identity(TensorProto.FLOAT), version="1", store=store_url, progress=False
    )
    server = start_server("demo/onnx2:1")
    client = httpclient.InferenceServerClient(server.host_port, network_timeout=60.0)
    try:
        meta = client.get_model_metadata("onnx2")
        assert [o["name"] for o in meta["outputs"]] == ["y"]
        tensor = httpclient.InferInput("x", [3], "FP32")
        tensor.set_data_from_numpy(np.array([1.0, 2.0, 3.0], dtype=np.float32))
        answer = client.infer("onnx2", [tensor])
        assert answer.as_numpy("y") is not None
        np.testing.assert_array_equal(answer.as_numpy("y"), [1.0, 2.0, 3.0])
        asked = client.infer("onnx2", [tensor], outputs=[httpclient.InferRequestedOutput("y")])
        np.testing.assert_array_equal(asked.as_numpy("y"), [1.0, 2.0, 3.0])
    finally:
        client.close()


def test_a_plain_onnx_file_answers_under_its_metadata_names(
    tmp_path: Path, start_server: StartServer
) -> None:
    path = tmp_path / "scorer.onnx"
    path.write_bytes(identity(TensorProto.INT64, out="scores").SerializeToString())
    server = start_server(str(path))
    client = httpclient.InferenceServerClient(server.host_port, network_timeout=60.0)
    try:
        meta = client.get_model_metadata("scorer")
        assert [o["name"] for o in meta["outputs"]] == ["scores"]
        tensor = httpclient.InferInput("x", [2], "INT64")
        tensor.set_data_from_numpy(np.array([4, 5], dtype=np.int64))
        np.testing.assert_array_equal(client.infer("scorer", [tensor]).as_numpy("scores"), [4, 5])
    finally:
        client.close()


def test_integers_that_do_not_fit_and_binary_text(
    store_url: str, start_server: StartServer
) -> None:
    modelshelf.register_onnx_model(
        "att/i32", identity(TensorProto.INT32), version="1", store=store_url, progress=False
    )
    modelshelf.register_onnx_model(
        "att/str", identity(TensorProto.STRING, "o"), version="1", store=store_url, progress=False
    )
    ints = start_server("att/i32:1")
    texts = start_server("att/str:1")
    client = httpclient.InferenceServerClient(ints.host_port, network_timeout=60.0)
    try:
        wide = httpclient.InferInput("x", [2], "INT64")  # binary, tritonclient's default
        wide.set_data_from_numpy(np.array([1099511627777, -4294967295], dtype=np.int64))
        with pytest.raises(InferenceServerException) as caught:
            client.infer("i32", [wide])
        assert caught.value.status() == "400", caught.value
        assert "input 'x'" in str(caught.value.message())
        assert "out of range for the model's INT32" in str(caught.value.message())
        wide.set_data_from_numpy(np.array([7, -7], dtype=np.int64))
        np.testing.assert_array_equal(client.infer("i32", [wide]).as_numpy("y"), [7, -7])
    finally:
        client.close()
    client = httpclient.InferenceServerClient(texts.host_port, network_timeout=60.0)
    try:
        words = np.array(["a", "é"], dtype=np.object_)
        for binary in (True, False):
            tensor = httpclient.InferInput("x", [2], "BYTES")
            tensor.set_data_from_numpy(words, binary_data=binary)
            got = client.infer("str", [tensor]).as_numpy("o")
            assert [w.decode() if isinstance(w, bytes) else w for w in got] == ["a", "é"]
    finally:
        client.close()
