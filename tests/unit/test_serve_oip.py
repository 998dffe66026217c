"""The OIP V2 infer codec: JSON and binary request bodies as tritonclient sends them, every
malformed body refused with a message naming the input, and responses a client can read."""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import numpy as np
import pytest

from modelshelf.serve._oip import (
    InferRequest,
    infer_response,
    parse_infer_request,
    runner_input,
)
from modelshelf.serve._tensors import DATATYPES, InferenceRequestError, OutputEncodingError

tc_http = pytest.importorskip("tritonclient.http")
tc_utils = pytest.importorskip("tritonclient.utils")

# One sample per datatype: (datatype, flat JSON values, the numpy array they stand for).
SAMPLES: list[tuple[str, list[Any], np.ndarray]] = [
    ("BOOL", [True, False, True, True, False, False], np.array([1, 0, 1, 1, 0, 0], bool)),
    ("UINT8", [0, 1, 2, 3, 254, 255], np.array([0, 1, 2, 3, 254, 255], np.uint8)),
    ("UINT16", [0, 1, 2, 3, 4, 65535], np.array([0, 1, 2, 3, 4, 65535], np.uint16)),
    ("UINT32", [0, 1, 2, 3, 4, 2**32 - 1], np.array([0, 1, 2, 3, 4, 2**32 - 1], np.uint32)),
    ("UINT64", [0, 1, 2, 3, 4, 2**64 - 1], np.array([0, 1, 2, 3, 4, 2**64 - 1], np.uint64)),
    ("INT8", [-128, -1, 0, 1, 2, 127], np.array([-128, -1, 0, 1, 2, 127], np.int8)),
    ("INT16", [-(2**15), -1, 0, 1, 2, 2**15 - 1], np.array([-(2**15), -1, 0, 1, 2, 2**15 - 1])),
    ("INT32", [-(2**31), -1, 0, 1, 2, 2**31 - 1], np.array([-(2**31), -1, 0, 1, 2, 2**31 - 1])),
    ("INT64", [-(2**63), -1, 0, 1, 2, 2**63 - 1], np.array([-(2**63), -1, 0, 1, 2, 2**63 - 1])),
    ("FP16", [0.5, -1, 2.25, 65504.0, 0, 1e-3], np.array([0.5, -1, 2.25, 65504, 0, 1e-3])),
    ("FP32", [0.5, -1, 2.25, 3.0e38, 0, 1e-3], np.array([0.5, -1, 2.25, 3.0e38, 0, 1e-3])),
    ("FP64", [0.5, -1, 2.25, 1e308, 0, 1e-300], np.array([0.5, -1, 2.25, 1e308, 0, 1e-300])),
    ("BYTES", ["a", "", "héllo", "d", "e", "f"], np.array(["a", "", "héllo", "d", "e", "f"])),
]


def body(*inputs: dict[str, Any], **extra: Any) -> bytes:
    return json.dumps({"inputs": list(inputs), **extra}).encode()


def tensor(name: str = "x", datatype: str = "FP32", shape: Any = (2,), **fields: Any) -> dict:
    return {"name": name, "datatype": datatype, "shape": list(shape), **fields}


def triton_body(*inputs: Any, **kwargs: Any) -> tuple[bytes, int | None]:
    """The exact body and Inference-Header-Content-Length tritonclient sends for these inputs."""
    built: tuple[bytes, int | None] = tc_http.InferenceServerClient.generate_request_body(
        list(inputs), **kwargs
    )
    return built


def triton_input(name: str, array: np.ndarray, *, binary: bool = True) -> Any:
    datatype = tc_utils.np_to_triton_dtype(array.dtype)
    made = tc_http.InferInput(name, list(array.shape), datatype)
    made.set_data_from_numpy(array, binary_data=binary)
    return made


def typed(datatype: str, expected: np.ndarray) -> np.ndarray:
    if datatype == "BYTES":
        return expected.astype(object)
    with np.errstate(over="raise"):
        return expected.astype(DATATYPES[datatype])


# --- JSON inputs -------------------------------------------------------------------------------


@pytest.mark.parametrize(("datatype", "values", "expected"), SAMPLES, ids=[s[0] for s in SAMPLES])
@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested"])
def test_json_input_of_every_datatype(
    datatype: str, values: list[Any], expected: np.ndarray, nested: bool
) -> None:
    data = [values[:3], values[3:]] if nested else values
    request = parse_infer_request(body(tensor("x", datatype, (2, 3), data=data)), None)
    array = runner_input(request)
    assert array.dtype == DATATYPES[datatype]
    assert array.shape == (2, 3)
    np.testing.assert_array_equal(array, typed(datatype, expected).reshape(2, 3))
    assert request.inputs[0].datatype == datatype and request.inputs[0].shape == (2, 3)
    if datatype == "BYTES":
        assert all(type(item) is str for item in array.ravel())


@pytest.mark.parametrize(
    ("shape", "data", "expected"),
    [
        ((), [7.5], np.array(7.5, np.float32)),
        ((0,), [], np.zeros(0, np.float32)),
        ((3, 0, 2), [], np.zeros((3, 0, 2), np.float32)),
        ((1, 2, 2), [[[1, 2], [3, 4]]], np.array([[[1, 2], [3, 4]]], np.float32)),
        ((2, 2), [[1, 2], 3, [[4]]], np.array([[1, 2], [3, 4]], np.float32)),  # any nesting
    ],
)
def test_json_shapes_and_nesting(shape: tuple[int, ...], data: Any, expected: np.ndarray) -> None:
    array = runner_input(parse_infer_request(body(tensor(shape=shape, data=data)), None))
    assert array.shape == expected.shape and array.dtype == np.float32
    np.testing.assert_array_equal(array, expected)


def test_json_float_inputs_refuse_nan_and_infinity_binary_data_carries_them() -> None:
    # NaN and Infinity are no JSON (RFC 8259): once read as nan/inf, they came back as a 500
    # ("output holds NaN or infinity"); now a 400 (issue 21, review 2, finding 5: this test
    # pinned the acceptance). A client with missing values sends them as binary tensor data.
    raw = (
        b'{"inputs": [{"name": "x", "datatype": "FP64", "shape": [3], "data": [NaN, Infinity, 1]}]}'
    )
    with pytest.raises(InferenceRequestError, match="is not JSON: NaN is not a finite number"):
        parse_infer_request(raw, None)
    raw, header_length = triton_body(
        triton_input("x", np.array([math.nan, math.inf, 1.0]), binary=True)
    )
    array = runner_input(parse_infer_request(raw, header_length))
    assert np.isnan(array[0]) and np.isinf(array[1]) and array[2] == 1


def test_request_fields_are_kept() -> None:
    request = parse_infer_request(
        body(
            tensor(data=[1, 2]),
            id="req-7",
            parameters={"binary_data_output": True, "custom": 3},
            outputs=[{"name": "b", "parameters": {"binary_data": True}}, {"name": "a"}],
        ),
        None,
    )
    assert request.id == "req-7"
    assert request.outputs == ("b", "a")
    assert request.parameters == {"binary_data_output": True, "custom": 3}


def test_runner_input_several_inputs_is_a_dict_in_order() -> None:
    request = parse_infer_request(
        body(tensor("b", "INT32", (1,), data=[1]), tensor("a", "BYTES", (1,), data=["z"])), None
    )
    data = runner_input(request)
    assert list(data) == ["b", "a"]
    assert data["b"].tolist() == [1] and data["a"].tolist() == ["z"]


# --- binary inputs, built by tritonclient itself -----------------------------------------------


@pytest.mark.parametrize(("datatype", "values", "expected"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_binary_input_of_every_datatype_as_tritonclient_sends_it(
    datatype: str, values: list[Any], expected: np.ndarray
) -> None:
    array = typed(datatype, expected).reshape(3, 2)
    if datatype == "BYTES":
        array = np.array([v.encode() for v in values], dtype=object).reshape(3, 2)
    raw, header_length = triton_body(triton_input("in", array))
    assert header_length is not None and header_length < len(raw)
    request = parse_infer_request(raw, header_length)
    got = runner_input(request)
    assert got.dtype == DATATYPES[datatype] and got.shape == (3, 2)
    np.testing.assert_array_equal(got, array)
    if datatype == "BYTES":
        assert all(type(item) is bytes for item in got.ravel())
    assert request.parameters == {"binary_data_output": True}


def test_binary_bytes_keep_arbitrary_bytes_and_empty_elements() -> None:
    array = np.array([b"", b"\x00\xff\x00", b"x" * 1000, "é".encode()], dtype=object)
    raw, header_length = triton_body(triton_input("in", array))
    np.testing.assert_array_equal(runner_input(parse_infer_request(raw, header_length)), array)


def test_binary_empty_bytes_tensor() -> None:
    raw, header_length = triton_body(
        triton_input("in", np.zeros((0, 3), object)), triton_input("n", np.ones(2, np.int8))
    )
    data = runner_input(parse_infer_request(raw, header_length))
    assert data["in"].shape == (0, 3) and data["in"].dtype == object
    assert data["n"].tolist() == [1, 1]


def test_several_inputs_mixing_binary_and_json() -> None:
    arrays = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b": np.array([[b"x", b"yz"]], dtype=object),
        "c": np.array([True, False]),
        "d": np.arange(4, dtype=np.int64).reshape(2, 2),
        "e": np.array([["p", "q"]], dtype=object),
    }
    inputs = [
        triton_input("a", arrays["a"]),
        triton_input("b", arrays["b"]),
        triton_input("c", arrays["c"], binary=False),
        triton_input("d", arrays["d"]),
        triton_input("e", arrays["e"], binary=False),
    ]
    outputs = [tc_http.InferRequestedOutput("out")]
    raw, header_length = triton_body(*inputs, outputs=outputs, request_id="r1")
    request = parse_infer_request(raw, header_length)
    assert (request.id, request.outputs) == ("r1", ("out",))
    data = runner_input(request)
    assert list(data) == list(arrays)
    for name, array in arrays.items():
        np.testing.assert_array_equal(data[name], array)
        assert data[name].dtype == array.dtype


def test_tritonclient_json_body_without_binary() -> None:
    array = np.array([[1.5, 2.5]], dtype=np.float32)
    raw, header_length = triton_body(triton_input("x", array, binary=False))
    assert header_length is None
    np.testing.assert_array_equal(runner_input(parse_infer_request(raw, None)), array)


def test_binary_arrays_are_writable_native_copies_of_the_body() -> None:
    raw, header_length = triton_body(triton_input("x", np.arange(3, dtype=np.float64)))
    array = runner_input(parse_infer_request(raw, header_length))
    assert array.flags.writeable and array.dtype.isnative
    array[0] = 42.0  # a runner may write in place; the body stays untouched
    assert runner_input(parse_infer_request(raw, header_length))[0] == 0.0


def test_binary_is_little_endian_whatever_the_host() -> None:
    header = json.dumps(
        {"inputs": [tensor("x", "UINT16", (2,), parameters={"binary_data_size": 4})]}
    ).encode()
    array = runner_input(parse_infer_request(header + b"\x01\x00\x00\x01", len(header)))
    assert array.tolist() == [1, 256]


# --- malformed requests ------------------------------------------------------------------------


def with_binary(inputs: list[dict[str, Any]], tail: bytes) -> tuple[bytes, int]:
    header = json.dumps({"inputs": inputs}).encode()
    return header + tail, len(header)


def bytes_elements(*items: bytes) -> bytes:
    return b"".join(struct.pack("<I", len(item)) + item for item in items)


BINARY = {"binary_data_size": 8}
MALFORMED: list[tuple[str, bytes, int | None, str]] = [
    ("not json", b"{nope", None, "not valid UTF-8 JSON"),
    ("not utf-8", b'{"inputs": "\xff"}', None, "not valid UTF-8 JSON"),
    ("empty body", b"", None, "not valid UTF-8 JSON"),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, None, "not valid UTF-8 JSON"),
    ("a list", b"[1, 2]", None, "must be a JSON object"),
    ("a string", b'"inputs"', None, "must be a JSON object"),
    ("no inputs", b"{}", None, "'inputs' must be a non-empty list"),
    ("empty inputs", body(), None, "'inputs' must be a non-empty list"),
    ("inputs object", b'{"inputs": {"x": 1}}', None, "'inputs' must be a non-empty list"),
    ("input not object", b'{"inputs": [3]}', None, "inputs[0] must be an object"),
    ("no name", body({"datatype": "FP32", "shape": [1], "data": [1]}), None, "inputs[0] needs"),
    ("empty name", body(tensor(name="", data=[1, 2])), None, "inputs[0] needs a 'name'"),
    ("id not str", body(tensor(data=[1, 2]), id=5), None, "'id' must be a string"),
    ("params list", body(tensor(data=[1, 2]), parameters=[]), None, "'parameters' must be"),
    ("no datatype", body({"name": "x", "shape": [1], "data": [1]}), None, "input 'x': datatype"),
    ("unknown dt", body(tensor(datatype="FLOAT", data=[1, 2])), None, "'FLOAT' is not supported"),
    ("bf16", body(tensor(datatype="BF16", data=[1, 2])), None, "input 'x': datatype 'BF16'"),
    ("no shape", body({"name": "x", "datatype": "FP32", "data": [1]}), None, "input 'x': shape"),
    ("shape str", body(tensor(shape="2", data=[1, 2])), None, "non-negative integers"),
    ("negative dim", body(tensor(shape=[-1], data=[])), None, "input 'x': shape [-1] must be"),
    ("float dim", body(tensor(shape=[2.0], data=[1, 2])), None, "non-negative integers"),
    ("bool dim", body(tensor(shape=[True], data=[1])), None, "non-negative integers"),
    ("33 dims", body(tensor(shape=[1] * 33, data=[1])), None, "at most 32"),
    ("too many", body(tensor(shape=[10**9], data=[])), None, "more than the limit"),
    ("huge dim", body(tensor(shape=[0, 10**30], data=[])), None, "more than the limit"),
    ("no data", body(tensor()), None, "input 'x' has no 'data'"),
    ("data dict", body(tensor(data={"a": 1})), None, "input 'x': 'data' must be a JSON list"),
    ("data scalar", body(tensor(shape=(), data=1.0)), None, "'data' must be a JSON list"),
    ("few", body(tensor(shape=(2, 3), data=[1] * 5)), None, "holds 5 elements but shape [2, 3]"),
    ("many", body(tensor(shape=(2,), data=[[1, 2], [3]])), None, "holds 3 elements but shape"),
    ("str in fp", body(tensor(data=[1, "2"])), None, "input 'x': element '2' is not a number"),
    ("bool in fp", body(tensor(data=[1, True])), None, "element True is not a number"),
    ("null in fp", body(tensor(data=[1, None])), None, "element None is not a number"),
    ("float in int", body(tensor(datatype="INT32", data=[1, 2.5])), None, "not an integer"),
    ("int in bool", body(tensor(datatype="BOOL", data=[1, 0])), None, "not true or false"),
    ("int in bytes", body(tensor(datatype="BYTES", data=["a", 1])), None, "1 is not a string"),
    ("dict element", body(tensor(data=[1, {}])), None, "element {} is not a number"),
    ("int8 high", body(tensor(datatype="INT8", data=[1, 128])), None, "128 is out of range for"),
    ("int8 low", body(tensor(datatype="INT8", data=[-129, 1])), None, "-129 is out of range"),
    ("uint neg", body(tensor(datatype="UINT64", data=[0, -1])), None, "-1 is out of range"),
    ("uint64 hi", body(tensor(datatype="UINT64", data=[2**64, 1])), None, "out of range"),
    ("int64 hi", body(tensor(datatype="INT64", data=[2**63, 1])), None, "out of range"),
    ("fp16 big", body(tensor(datatype="FP16", data=[1, 70000])), None, "out of range for FP16"),
    ("fp32 big", body(tensor(datatype="FP32", data=[1, 1e39])), None, "out of range for FP32"),
    ("fp64 int", body(tensor(datatype="FP64", data=[1, 10**400])), None, "out of range for"),
    ("dup input", body(tensor(data=[1, 2]), tensor(data=[3, 4])), None, "'x' is given twice"),
    ("outputs obj", body(tensor(data=[1, 2]), outputs={}), None, "'outputs' must be a list"),
    ("output noname", body(tensor(data=[1, 2]), outputs=[{}]), None, "outputs[0] needs"),
    ("output dup", body(tensor(data=[1, 2]), outputs=[{"name": "o"}] * 2), None, "twice"),
    ("shm", body(tensor(parameters={"shared_memory_region": "r"})), None, "shared memory"),
    ("params not obj", body(tensor(data=[1, 2], parameters=[1])), None, "'x': 'parameters'"),
    (
        "binary without header",
        body(tensor(parameters=BINARY)),
        None,
        "input 'x' has binary_data_size but no Inference-Header-Content-Length was sent",
    ),
    ("size negative", *with_binary([tensor(parameters={"binary_data_size": -8})], b""), "non-neg"),
    ("size float", *with_binary([tensor(parameters={"binary_data_size": 8.0})], b"1" * 8), "8.0"),
    ("data and size", *with_binary([tensor(data=[1, 2], parameters=BINARY)], b"1" * 8), "both"),
    ("missing bytes", *with_binary([tensor(parameters=BINARY)], b"1" * 7), "only 7 bytes"),
    ("extra bytes", *with_binary([tensor(parameters=BINARY)], b"1" * 9), "1 bytes follow"),
    (
        "size for shape",
        *with_binary([tensor(shape=(3,), parameters=BINARY)], b"1" * 8),
        "input 'x': binary_data_size is 8 bytes but shape [3] of FP32 needs 12",
    ),
    (
        "binary bool 2",
        *with_binary(
            [tensor(datatype="BOOL", parameters=BINARY, shape=(8,))], b"\x00" * 7 + b"\x02"
        ),
        "input 'x': binary BOOL bytes must each be 0 or 1",
    ),
    (
        "bytes cut length",
        *with_binary(
            [tensor(datatype="BYTES", parameters={"binary_data_size": 7})], b"\x01\0\0\0a\0\0"
        ),
        "input 'x': binary BYTES data ends in a 4-byte length",
    ),
    (
        "bytes element past size",
        *with_binary(
            [tensor(datatype="BYTES", parameters={"binary_data_size": 6})], b"\x05\0\0\0ab"
        ),
        "BYTES element 0 says 5 bytes but only 2 remain",
    ),
    (
        "bytes too few",
        *with_binary(
            [tensor(datatype="BYTES", parameters={"binary_data_size": 5})], bytes_elements(b"a")
        ),
        "holds 1 elements but shape [2] needs 2",
    ),
    (
        "bytes too many",
        *with_binary(
            [tensor(datatype="BYTES", shape=(1,), parameters={"binary_data_size": 10})],
            bytes_elements(b"a", b"b"),
        ),
        "more than the 1 elements of the shape",
    ),
    ("header beyond body", body(tensor(data=[1, 2])), 10_000, "Inference-Header-Content-Length is"),
    ("header negative", body(tensor(data=[1, 2])), -1, "Inference-Header-Content-Length is -1"),
    ("header cuts json", body(tensor(data=[1, 2])), 10, "the first 10 bytes is not valid"),
    ("header zero", body(tensor(data=[1, 2])), 0, "the first 0 bytes is not valid"),
]


@pytest.mark.parametrize(
    ("raw", "header_length", "message"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_requests_name_what_is_wrong(
    raw: bytes, header_length: int | None, message: str
) -> None:
    with pytest.raises(InferenceRequestError) as caught:
        parse_infer_request(raw, header_length)
    assert message in str(caught.value)
    assert len(str(caught.value)) < 400  # never echoes a large body back


def test_unknown_datatype_lists_the_supported_ones() -> None:
    with pytest.raises(InferenceRequestError, match=r"use one of BOOL, UINT8, .* FP64, BYTES"):
        parse_infer_request(body(tensor(datatype="BF16", data=[1.0, 2.0])), None)


def test_max_elements_bounds_each_input() -> None:
    raw = body(tensor(shape=(10,), data=[0] * 10))
    assert runner_input(parse_infer_request(raw, None, max_elements=10)).size == 10
    with pytest.raises(InferenceRequestError, match="more than the limit of 9 elements"):
        parse_infer_request(raw, None, max_elements=9)


def test_errors_name_the_failing_input_among_several() -> None:
    raw = body(tensor("good", data=[1, 2]), tensor("bad", "INT8", data=[1, 999]))
    with pytest.raises(InferenceRequestError, match="input 'bad': element 999 is out of range"):
        parse_infer_request(raw, None)


def test_binary_size_mismatch_in_the_second_of_two_binary_inputs() -> None:
    first = np.arange(2, dtype=np.int32)
    raw, header_length = triton_body(triton_input("a", first), triton_input("b", first))
    assert header_length is not None
    with pytest.raises(InferenceRequestError, match="input 'b': binary_data_size is 8 bytes but"):
        parse_infer_request(raw[:-1], header_length)


def test_inference_request_error_is_a_value_error() -> None:
    assert issubclass(InferenceRequestError, ValueError)
    assert not issubclass(OutputEncodingError, ValueError)


# --- responses ---------------------------------------------------------------------------------


def respond(output: Any, **kwargs: Any) -> dict[str, Any]:
    return infer_response(output, model_name="m", model_version="1.2", request_id=None, **kwargs)


@pytest.mark.parametrize(
    ("array", "datatype"),
    [
        (np.array([True, False]), "BOOL"),
        (np.array([1, 2], np.uint8), "UINT8"),
        (np.array([1, 2], np.uint16), "UINT16"),
        (np.array([1, 2], np.uint32), "UINT32"),
        (np.array([1, 2**64 - 1], np.uint64), "UINT64"),
        (np.array([-1, 2], np.int8), "INT8"),
        (np.array([-1, 2], np.int16), "INT16"),
        (np.array([-1, 2], np.int32), "INT32"),
        (np.array([-(2**63), 2], np.int64), "INT64"),
        (np.array([0.5, 2], np.float16), "FP16"),
        (np.array([0.1, 2], np.float32), "FP32"),
        (np.array([0.1, 2], np.float64), "FP64"),
        (np.array(["a", "bé"]), "BYTES"),
        (np.array([b"a", b"b\xc3\xa9"]), "BYTES"),
        (np.array(["a", b"b"], dtype=object), "BYTES"),
    ],
)
def test_response_datatype_of_each_numpy_dtype(array: np.ndarray, datatype: str) -> None:
    (out,) = respond(array.reshape(2, 1))["outputs"]
    assert out["name"] == "output-0"
    assert (out["datatype"], out["shape"]) == (datatype, [2, 1])
    assert all(type(v) in (bool, int, float, str) for v in out["data"])
    json.dumps(out, allow_nan=False)
    # Read back by tritonclient: the same values in the same shape.
    raw = json.dumps({"model_name": "m", "outputs": [out]}).encode()
    back = tc_http.InferenceServerClient.parse_response_body(raw).as_numpy("output-0")
    expected = array.reshape(2, 1)
    if datatype == "BYTES":
        expected = np.array([v.decode() if isinstance(v, bytes) else v for v in array.ravel()])
        expected = expected.reshape(2, 1).astype(object)
    np.testing.assert_array_equal(back, expected)
    if datatype == "FP32":
        assert back.dtype == np.float32 and back[0, 0] == np.float32(0.1)


@pytest.mark.parametrize(
    ("output", "datatype", "shape", "data"),
    [
        ([1, 2, 3], "INT64", [3], [1, 2, 3]),
        ([[1.5, 2], [3, 4]], "FP64", [2, 2], [1.5, 2.0, 3.0, 4.0]),
        ([True, False], "BOOL", [2], [True, False]),
        (["a", "b"], "BYTES", [2], ["a", "b"]),
        ([], "FP64", [0], []),
        (7, "INT64", [], [7]),
        (2.5, "FP64", [], [2.5]),
        (True, "BOOL", [], [True]),
        ("label", "BYTES", [], ["label"]),
        (b"raw", "BYTES", [], ["raw"]),
        (np.float32(1.5), "FP32", [], [1.5]),
        (np.int16(-3), "INT16", [], [-3]),
        (np.bool_(True), "BOOL", [], [True]),
        (np.array(4, np.uint32), "UINT32", [], [4]),
        ([np.array([1, 2]), np.array([3, 4])], "INT64", [2, 2], [1, 2, 3, 4]),
    ],
)
def test_response_of_lists_and_scalars(output: Any, datatype: str, shape: list, data: list) -> None:
    (out,) = respond(output)["outputs"]
    assert out == {"name": "output-0", "datatype": datatype, "shape": shape, "data": data}


def test_response_of_a_dict_is_one_tensor_per_key_sorted() -> None:
    response = respond({"proba": np.array([[0.25, 0.75]]), "label": ["cat"], "n": 3})
    assert [o["name"] for o in response["outputs"]] == ["label", "n", "proba"]
    assert response["outputs"][2] == {
        "name": "proba",
        "datatype": "FP64",
        "shape": [1, 2],
        "data": [0.25, 0.75],
    }


def test_response_envelope_and_id() -> None:
    without = infer_response([1], model_name="svc", model_version="3", request_id=None)
    assert list(without) == ["model_name", "model_version", "outputs"]
    assert (without["model_name"], without["model_version"]) == ("svc", "3")
    with_id = infer_response([1], model_name="svc", model_version="3", request_id="abc")
    assert with_id["id"] == "abc"


def test_requested_outputs_filter_in_the_requested_order() -> None:
    output = {"a": [1], "b": [2.0], "c": ["x"]}
    assert [o["name"] for o in respond(output, requested=("c", "a"))["outputs"]] == ["c", "a"]
    assert [o["name"] for o in respond([1], requested=("output-0",))["outputs"]] == ["output-0"]


def test_requested_names_not_produced_are_a_request_error() -> None:
    with pytest.raises(InferenceRequestError, match=r"'nope' not produced.*answers 'a', 'b'"):
        respond({"a": [1], "b": [2]}, requested=("a", "nope"))
    with pytest.raises(InferenceRequestError, match="'predict' not produced"):
        respond([1], requested=("predict",))


def test_unrequested_outputs_are_not_encoded() -> None:
    response = respond({"ok": [1], "bad": [math.nan]}, requested=("ok",))
    assert [o["name"] for o in response["outputs"]] == ["ok"]


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (np.array([1.0, np.nan]), "output 'output-0' holds NaN or infinity"),
        (np.array([np.inf], np.float32), "NaN or infinity"),
        ([1.0, -math.inf], "NaN or infinity"),
        (float("nan"), "NaN or infinity"),
        ({"p": np.array([np.nan], np.float16)}, "output 'p' holds NaN"),
        ([[1, 2], [3]], "output 'output-0' is not a rectangular array"),
        ({"r": [[1], [2, 3]]}, "output 'r' is not a rectangular array"),
        (None, "array of objects holding NoneType values"),
        ([{"a": 1}], "holding dict values"),
        ([1, None, "a"], "holding NoneType, int values"),
        (2**70, "holding int values"),
        (np.array([1 + 2j]), "dtype complex128"),
        (np.array(["2020-01-01"], dtype="datetime64[D]"), "dtype datetime64[D]"),
        (np.array([b"\xff"]), "not UTF-8"),
        ({1: [1]}, "non-string keys [1]"),
    ],
)
def test_outputs_that_cannot_be_encoded(output: Any, message: str) -> None:
    with pytest.raises(OutputEncodingError) as caught:
        respond(output)
    assert message in str(caught.value)


def test_response_outputs_parse_back_as_inputs() -> None:
    output = {"f": np.arange(6, dtype=np.float32).reshape(3, 2), "s": np.array(["a", "b"])}
    response = respond(output)
    request = parse_infer_request(json.dumps({"inputs": response["outputs"]}).encode(), None)
    assert isinstance(request, InferRequest)
    data = runner_input(request)
    np.testing.assert_array_equal(data["f"], output["f"])
    assert data["f"].dtype == np.float32
    assert data["s"].tolist() == ["a", "b"]


def test_header_length_covering_the_whole_body_is_a_json_request() -> None:
    raw = body(tensor(data=[1, 2]))
    assert runner_input(parse_infer_request(raw, len(raw))).tolist() == [1.0, 2.0]


def test_binary_bytes_split_ignores_what_the_length_prefixes_look_like() -> None:
    """A length prefix of zero, and element bytes that look like a length prefix, stay data."""
    items = [b"", struct.pack("<I", 9), b"\x00" * 4]
    raw, header_length = with_binary(
        [tensor(datatype="BYTES", shape=(3,), parameters={"binary_data_size": 20})],
        bytes_elements(*items),
    )
    assert runner_input(parse_infer_request(raw, header_length)).tolist() == items


def test_module_docstring_example_runs() -> None:
    import doctest

    from modelshelf.serve import _oip

    assert doctest.testmod(_oip, raise_on_error=True).attempted >= 3
