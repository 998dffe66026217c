"""tritonclient[http] (NVIDIA's client, not ours) against the real `modelshelf serve` process.

The server serves ``team/oip:1.0`` (OipRunner, factor 3) as the OIP model ``oip``.
tritonclient sends binary tensors by default, never a Content-Type, and reads errors only from
an ``{"error": ...}`` body (anything else becomes a client-side decoding message).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import tritonclient.http as httpclient
from tests.serve.helpers import OIP_FACTOR, OIP_MODEL, OIP_VERSION, Register, StartServer
from tests.serve.runners import OipRunner
from tests.servers.serve_process import ServeProcess
from tritonclient.utils import InferenceServerException

pytestmark = pytest.mark.integration

MODEL = OIP_MODEL
VERSION = OIP_VERSION


@pytest.fixture
def client(oip_server: ServeProcess) -> Iterator[httpclient.InferenceServerClient]:
    triton = httpclient.InferenceServerClient(oip_server.host_port, network_timeout=60.0)
    try:
        yield triton
    finally:
        triton.close()


def _input(name: str, array: np.ndarray, *, binary: bool) -> httpclient.InferInput:
    tensor = httpclient.InferInput(name, list(array.shape), _datatype(array))
    tensor.set_data_from_numpy(array, binary_data=binary)
    return tensor


def _datatype(array: np.ndarray) -> str:
    from tritonclient.utils import np_to_triton_dtype

    datatype: str = np_to_triton_dtype(array.dtype)
    return datatype


def test_health_and_model_readiness(client: httpclient.InferenceServerClient) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready(MODEL)
    assert client.is_model_ready(MODEL, VERSION)
    assert not client.is_model_ready("no-such-model")
    assert not client.is_model_ready(MODEL, "9.9")


def test_model_metadata_names_the_model_and_its_version(
    client: httpclient.InferenceServerClient,
) -> None:
    meta = client.get_model_metadata(MODEL)
    assert meta["name"] == MODEL
    assert VERSION in meta.get("versions", [VERSION])
    assert client.get_model_metadata(MODEL, VERSION)["name"] == MODEL


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.float64])
def test_infer_one_input(
    client: httpclient.InferenceServerClient, binary: bool, dtype: type[np.generic]
) -> None:
    x = np.arange(6, dtype=dtype).reshape(2, 3) - 2
    result = client.infer(MODEL, [_input("x", x, binary=binary)], request_id="req-7")
    response = result.get_response()
    assert response["model_name"] == MODEL
    assert response["model_version"] == VERSION
    assert response["id"] == "req-7"
    [output] = response["outputs"]
    got = result.as_numpy(output["name"])
    assert got.dtype == x.dtype  # datatype inferred from the runner's array
    assert got.shape == x.shape
    np.testing.assert_array_equal(got, x * OIP_FACTOR)


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_infer_on_the_versioned_endpoint(
    client: httpclient.InferenceServerClient, binary: bool
) -> None:
    x = np.array([[0.5, 1.5]], dtype=np.float32)
    result = client.infer(MODEL, [_input("x", x, binary=binary)], model_version=VERSION)
    assert result.get_response()["model_version"] == VERSION
    np.testing.assert_array_equal(result.as_numpy("output-0"), x * OIP_FACTOR)


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_several_inputs_reach_the_runner_as_a_dict(
    client: httpclient.InferenceServerClient, binary: bool
) -> None:
    a = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    b = np.array([[10.0, 20.0, 30.0]], dtype=np.float32)
    # Mixed on purpose: one input binary, one per `binary`.
    inputs = [_input("a", a, binary=True), _input("b", b, binary=binary)]
    result = client.infer(MODEL, inputs)
    names = [o["name"] for o in result.get_response()["outputs"]]
    assert sorted(names) == ["product", "sum"]
    np.testing.assert_array_equal(result.as_numpy("sum"), a + b)
    np.testing.assert_array_equal(result.as_numpy("product"), a * b)
    assert result.as_numpy("sum").dtype == np.float32


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_bytes_input(client: httpclient.InferenceServerClient, binary: bool) -> None:
    words = np.array([["héllo", "a"], ["", "Zürich"]], dtype=object)
    tensor = httpclient.InferInput("text", list(words.shape), "BYTES")
    tensor.set_data_from_numpy(np.vectorize(lambda s: s.encode())(words), binary_data=binary)
    result = client.infer(MODEL, [tensor])
    outputs = {o["name"]: o for o in result.get_response()["outputs"]}
    assert outputs["upper"]["datatype"] == "BYTES"
    assert outputs["length"]["datatype"] == "INT64"
    np.testing.assert_array_equal(result.as_numpy("length"), [[5, 1], [0, 6]])
    upper = [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("upper").ravel()]
    assert upper == ["HÉLLO", "A", "", "ZÜRICH"]


def test_requested_output_only(client: httpclient.InferenceServerClient) -> None:
    a = np.ones((1, 2), dtype=np.float64)
    inputs = [_input("a", a, binary=True), _input("b", a * 4, binary=True)]
    result = client.infer(MODEL, inputs, outputs=[httpclient.InferRequestedOutput("sum")])
    assert [o["name"] for o in result.get_response()["outputs"]] == ["sum"]
    np.testing.assert_array_equal(result.as_numpy("sum"), a * 5)


def test_unknown_model_is_404_with_our_message(client: httpclient.InferenceServerClient) -> None:
    x = np.zeros((1, 2), dtype=np.float32)
    with pytest.raises(InferenceServerException) as caught:
        client.infer("no-such-model", [_input("x", x, binary=True)])
    assert caught.value.status() == "404"
    message = caught.value.message()
    assert "no-such-model" in message
    assert "decoding the response" not in message  # our {"error"} body, read by the client
    with pytest.raises(InferenceServerException) as meta:
        client.get_model_metadata("no-such-model")
    assert meta.value.status() == "404"


def test_unknown_version_is_404(client: httpclient.InferenceServerClient) -> None:
    x = np.zeros((1, 2), dtype=np.float32)
    with pytest.raises(InferenceServerException) as caught:
        client.infer(MODEL, [_input("x", x, binary=True)], model_version="9.9")
    assert caught.value.status() == "404"
    assert "9.9" in caught.value.message()


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_data_that_does_not_fit_the_shape_is_400(
    client: httpclient.InferenceServerClient, binary: bool
) -> None:
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    tensor = _input("pixels", x, binary=binary)
    tensor.set_shape([2, 2])  # declares 4 elements, carries 6
    with pytest.raises(InferenceServerException) as caught:
        client.infer(MODEL, [tensor])
    assert caught.value.status() == "400"
    message = caught.value.message()
    assert "pixels" in message  # the error names the input
    assert "decoding the response" not in message
    assert "Traceback" not in message
    # The server keeps serving.
    ok = client.infer(MODEL, [_input("x", x, binary=binary)])
    np.testing.assert_array_equal(ok.as_numpy("output-0"), x * OIP_FACTOR)


def test_name_flag_renames_the_protocol_model(
    register: Register, start_server: StartServer
) -> None:
    register("team/oip", OipRunner, {"factor": 5})
    server = start_server("team/oip:1", "--name", "pricing")
    triton = httpclient.InferenceServerClient(server.host_port, network_timeout=60.0)
    try:
        assert triton.is_model_ready("pricing")
        assert not triton.is_model_ready("oip")
        x = np.array([[2.0]], dtype=np.float64)
        result = triton.infer("pricing", [_input("x", x, binary=True)])
        assert result.get_response()["model_name"] == "pricing"
        np.testing.assert_array_equal(result.as_numpy("output-0"), x * 5)
    finally:
        triton.close()
