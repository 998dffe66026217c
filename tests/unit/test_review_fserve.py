"""Review of issue 21, serving and the ONNX runner: what OIP metadata lists is what ``infer``
answers; a value that does not fit the model's datatype is a 400 naming the input (never a
silent wrap, never a 500); every OIP integer type reaches an ONNX graph; BYTES sent as JSON or
as binary give a string graph the same text. In process (Starlette's TestClient)."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelshelf.errors import InvalidInputError
from modelshelf.models import OnnxRunner

pytest.importorskip("fastapi")
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from onnx import TensorProto, helper  # noqa: E402 (after the skips)
from starlette.testclient import TestClient  # noqa: E402

from modelshelf.serve import create_app  # noqa: E402

NUMPY_TYPES = {d: d.lower().replace("fp", "float") for d in ["FP16", "FP32", "FP64"]} | {
    d: d.lower() for d in ["UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64"]
}
INTEGERS = ["UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64"]
ONNX_ELEMENT = {
    "UINT8": TensorProto.UINT8,
    "UINT16": TensorProto.UINT16,
    "UINT32": TensorProto.UINT32,
    "UINT64": TensorProto.UINT64,
    "INT8": TensorProto.INT8,
    "INT16": TensorProto.INT16,
    "INT32": TensorProto.INT32,
    "INT64": TensorProto.INT64,
    "FP16": TensorProto.FLOAT16,
    "FP32": TensorProto.FLOAT,
    "BYTES": TensorProto.STRING,
}


def identity(datatype: str, out: str = "y") -> Any:
    """A graph ``y = x`` of one element type, shape ``[N]``."""
    kind = ONNX_ELEMENT[datatype]
    x = helper.make_tensor_value_info("x", kind, [None])
    y = helper.make_tensor_value_info(out, kind, [None])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], [out])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def two_inputs() -> Any:
    """``o = float(a) + b`` with ``a`` INT8 [N, 2] and ``b`` FP32 [N, 2] (the reviewer's graph)."""
    a = helper.make_tensor_value_info("a", TensorProto.INT8, [None, 2])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [None, 2])
    o = helper.make_tensor_value_info("o", TensorProto.FLOAT, [None, 2])
    nodes = [
        helper.make_node("Cast", ["a"], ["ac"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["ac", "b"], ["o"]),
    ]
    graph = helper.make_graph(nodes, "g2", [a, b], [o])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def session(model: Any) -> Any:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def client_of(model: Any) -> TestClient:
    return TestClient(create_app(model=session(model), runner_cls=OnnxRunner, name="m"))


def infer(client: TestClient, *inputs: dict[str, Any], **extra: Any) -> Any:
    return client.post("/v2/models/m/infer", json={"inputs": list(inputs), **extra})


def binary_body(tensors: list[tuple[str, str, list[int], bytes]]) -> tuple[bytes, int]:
    header = {
        "inputs": [
            {"name": n, "datatype": d, "shape": s, "parameters": {"binary_data_size": len(b)}}
            for n, d, s, b in tensors
        ]
    }
    head = json.dumps(header).encode()
    return head + b"".join(b for *_, b in tensors), len(head)


# ---- 1. metadata names what infer answers ------------------------------------------------------


def test_a_one_output_graph_answers_under_its_metadata_name() -> None:
    with client_of(identity("FP32")) as client:
        meta = client.get("/v2/models/m").json()
        assert [o["name"] for o in meta["outputs"]] == ["y"]
        x = {"name": "x", "datatype": "FP32", "shape": [2], "data": [1.5, 2.5]}
        answer = infer(client, x)
        assert answer.status_code == 200, answer.text
        assert [o["name"] for o in answer.json()["outputs"]] == ["y"]
        asked = infer(client, x, outputs=[{"name": "y"}])
        assert asked.status_code == 200, asked.text
        assert asked.json()["outputs"][0]["data"] == [1.5, 2.5]


def test_a_local_onnx_file_answers_under_its_metadata_name(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(identity("INT64", out="scores").SerializeToString())
    with TestClient(create_app(str(path), name="m")) as client:
        meta = client.get("/v2/models/m").json()
        answer = infer(client, {"name": "x", "datatype": "INT64", "shape": [1], "data": [7]})
        assert [o["name"] for o in meta["outputs"]] == ["scores"]
        assert [o["name"] for o in answer.json()["outputs"]] == ["scores"]


class Frame:
    """Stands in for a pandas DataFrame (told by its type's module): columns of arrays."""

    def __init__(self, columns: dict[str, Any]) -> None:
        self._columns = columns
        self.columns = list(columns)

    def __getitem__(self, key: str) -> Any:
        return _Column(self._columns[key])

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        return np.stack(list(self._columns.values()), axis=1)


class _Column:
    def __init__(self, values: Any) -> None:
        self.values = values

    def to_numpy(self) -> Any:
        return np.asarray(self.values)


Frame.__module__ = "pandas.core.frame"
Frame.__name__ = Frame.__qualname__ = "DataFrame"


@pytest.mark.parametrize(
    "prediction",
    [
        np.array([1.0, 2.0]),
        {"label": np.array([1, 2]), "score": np.array([0.5, 0.25])},
        Frame({"p": np.array([0.1, 0.9]), "q": np.array([3, 4])}),
    ],
    ids=["bare", "dict", "dataframe"],
)
def test_a_signature_from_an_example_names_what_infer_answers(prediction: Any) -> None:
    from modelshelf.models.signature import DEFAULT_INPUT, DEFAULT_OUTPUT, Signature, describe

    class Fixed:
        signature = Signature(
            describe(np.zeros((1, 2)), DEFAULT_INPUT, what="x"),
            describe(prediction, DEFAULT_OUTPUT, what="y"),
        )

        def predict(self, data: Any) -> Any:
            return prediction

    app = create_app(model=Fixed(), name="m")
    app.state.serve.slot.active.signature = Fixed.signature  # as load_model gives it
    with TestClient(app) as client:
        meta = client.get("/v2/models/m").json()
        x = {"name": "input-0", "datatype": "FP64", "shape": [1, 2], "data": [0.0, 0.0]}
        answer = infer(client, x)
        assert answer.status_code == 200, answer.text
        assert [o["name"] for o in answer.json()["outputs"]] == [o["name"] for o in meta["outputs"]]
        for name in (o["name"] for o in meta["outputs"]):
            asked = infer(client, x, outputs=[{"name": name}])
            assert asked.status_code == 200, asked.text


# ---- 2. values that do not fit the signature's datatype ---------------------------------------


def test_a_narrowing_that_would_wrap_is_a_400_naming_the_input() -> None:
    with client_of(identity("INT32")) as client:
        big = {"name": "x", "datatype": "INT64", "shape": [2], "data": [1099511627777, -4294967295]}
        refused = infer(client, big)
        assert refused.status_code == 400, refused.text
        error = refused.json()["error"]
        assert "input 'x'" in error and "out of range for the model's INT32" in error, error
        fits = {"name": "x", "datatype": "INT64", "shape": [2], "data": [2147483647, -5]}
        answer = infer(client, fits)
        assert answer.status_code == 200, answer.text
        assert answer.json()["outputs"][0]["data"] == [2147483647, -5]


@pytest.mark.parametrize("sent", ["INT64", "INT32", "UINT16"])
def test_a_uint8_input_sent_wider_is_cast_or_refused_never_a_500(sent: str) -> None:
    with client_of(identity("UINT8")) as client:
        ok = infer(client, {"name": "x", "datatype": sent, "shape": [3], "data": [0, 7, 255]})
        assert ok.status_code == 200, ok.text
        assert ok.json()["outputs"][0] == {
            "name": "y",
            "datatype": "UINT8",
            "shape": [3],
            "data": [0, 7, 255],
        }
        over = infer(client, {"name": "x", "datatype": sent, "shape": [1], "data": [256]})
        assert over.status_code == 400, over.text
        assert "input 'x': element 256 is out of range for the model's UINT8" in over.text


def test_a_negative_value_for_an_unsigned_input_is_a_400() -> None:
    with client_of(identity("UINT32")) as client:
        refused = infer(client, {"name": "x", "datatype": "INT8", "shape": [1], "data": [-1]})
        assert refused.status_code == 400 and "element -1 is out of range" in refused.text


def test_an_int8_input_beside_a_float_one() -> None:
    with client_of(two_inputs()) as client:
        b = {"name": "b", "datatype": "FP32", "shape": [1, 2], "data": [0.5, 0.5]}
        for sent in ("INT32", "INT64", "UINT16"):
            a = {"name": "a", "datatype": sent, "shape": [1, 2], "data": [3, 100]}
            answer = infer(client, a, b)
            assert answer.status_code == 200, answer.text
            assert answer.json()["outputs"][0]["data"] == [3.5, 100.5]
        a = {"name": "a", "datatype": "INT32", "shape": [1, 2], "data": [1, 128]}
        refused = infer(client, a, b)
        assert refused.status_code == 400 and "input 'a'" in refused.text, refused.text


def test_binary_integers_that_do_not_fit_are_a_400() -> None:
    with client_of(identity("INT16")) as client:
        body, length = binary_body([("x", "INT64", [2], struct.pack("<2q", 1, 40000))])
        refused = client.post(
            "/v2/models/m/infer",
            content=body,
            headers={"Inference-Header-Content-Length": str(length)},
        )
        assert refused.status_code == 400 and "element 40000 is out of range" in refused.text


def test_floats_that_overflow_a_narrower_float_are_a_400() -> None:
    with client_of(identity("FP16")) as client:
        refused = infer(client, {"name": "x", "datatype": "FP64", "shape": [1], "data": [1e6]})
        assert refused.status_code == 400 and "out of range for the model's FP16" in refused.text
        ok = infer(client, {"name": "x", "datatype": "INT64", "shape": [1], "data": [3]})
        assert ok.status_code == 200 and ok.json()["outputs"][0]["data"] == [3.0]


@pytest.mark.parametrize("datatype", INTEGERS)
def test_every_integer_type_reaches_a_graph_in_process(datatype: str) -> None:
    dtype = np.dtype(NUMPY_TYPES[datatype])
    high = int(np.iinfo(dtype).max)
    got = OnnxRunner.predict(session(identity(datatype)), [0, 1, high])
    assert got.dtype == dtype and got.tolist() == [0, 1, high]
    with pytest.raises(InvalidInputError, match=f"out of range for the model's {datatype}"):
        OnnxRunner.predict(session(identity(datatype)), np.array([high + 1], dtype=np.float64))
    with pytest.raises(InvalidInputError, match="is not a whole number"):
        OnnxRunner.predict(session(identity(datatype)), [1.5])


def test_the_runner_names_unknown_and_missing_inputs() -> None:
    graph = session(two_inputs())
    with pytest.raises(InvalidInputError, match="'c' is not an input; this graph takes 'a', 'b'"):
        OnnxRunner.predict(graph, {"a": [[1, 2]], "c": [[1.0, 2.0]]})
    with pytest.raises(InvalidInputError, match="input 'b' is missing"):
        OnnxRunner.predict(graph, {"a": [[1, 2]]})


def test_a_wrong_rank_in_process_is_invalid_input_not_a_runtime_error() -> None:
    with pytest.raises(InvalidInputError, match="the graph refused the input"):
        OnnxRunner.predict(session(two_inputs()), {"a": [1, 2], "b": [1.0, 2.0]})


INT_TYPES = st.sampled_from(INTEGERS)


@settings(max_examples=300, deadline=None)
@given(datatype=INT_TYPES, values=st.lists(st.integers(-(2**65), 2**65), min_size=1, max_size=8))
def test_an_integer_cast_keeps_every_value_or_refuses(datatype: str, values: list[int]) -> None:
    from modelshelf.models._casting import conform

    info = np.iinfo(np.dtype(NUMPY_TYPES[datatype]))
    fits = all(info.min <= v <= info.max for v in values)
    try:
        sent = np.asarray(values, dtype=np.int64)
    except OverflowError:
        sent = np.asarray(values, dtype=object)
    try:
        got = conform(sent, datatype, "input 'x'")
    except InvalidInputError as exc:
        assert not fits, exc
        assert str(exc).startswith("input 'x'")
    else:
        assert fits and got.tolist() == values and got.dtype == info.dtype


@settings(max_examples=200, deadline=None)
@given(
    datatype=st.sampled_from(["FP16", "FP32", "FP64"]),
    values=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=8),
)
def test_a_float_cast_never_makes_an_infinity(datatype: str, values: list[float]) -> None:
    from modelshelf.models._casting import conform

    try:
        got = conform(np.asarray(values), datatype, "input 'x'")
    except InvalidInputError as exc:
        assert "out of range" in str(exc)
    else:
        assert np.isfinite(got).all() and got.dtype == np.dtype(NUMPY_TYPES[datatype])


# ---- 3. BYTES to a string graph -----------------------------------------------------------------


def bytes_payload(items: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(i)) + i for i in items)


def test_bytes_sent_as_binary_or_json_give_a_string_graph_the_same_text() -> None:
    with client_of(identity("BYTES", out="o")) as client:
        as_json = infer(
            client, {"name": "x", "datatype": "BYTES", "shape": [2], "data": ["a", "é"]}
        )
        body, length = binary_body([("x", "BYTES", [2], bytes_payload([b"a", "é".encode()]))])
        as_binary = client.post(
            "/v2/models/m/infer",
            content=body,
            headers={"Inference-Header-Content-Length": str(length)},
        )
        assert as_json.status_code == as_binary.status_code == 200, as_binary.text
        assert as_json.json()["outputs"] == as_binary.json()["outputs"]
        assert as_binary.json()["outputs"][0]["data"] == ["a", "é"]


def test_bytes_that_are_not_utf8_are_a_400_for_a_string_graph() -> None:
    with client_of(identity("BYTES", out="o")) as client:
        body, length = binary_body([("x", "BYTES", [1], bytes_payload([b"\xff\xfe"]))])
        refused = client.post(
            "/v2/models/m/infer",
            content=body,
            headers={"Inference-Header-Content-Length": str(length)},
        )
        assert refused.status_code == 400, refused.text
        assert "input 'x'" in refused.text and "not UTF-8" in refused.text


def test_the_runner_decodes_bytes_for_a_string_graph() -> None:
    got = OnnxRunner.predict(session(identity("BYTES", out="o")), np.array([b"a", b"b"]))
    assert got.tolist() == ["a", "b"]
    with pytest.raises(InvalidInputError, match="is not text"):
        OnnxRunner.predict(session(identity("BYTES", out="o")), [1, 2])


@settings(max_examples=300, deadline=None)
@given(items=st.lists(st.one_of(st.binary(max_size=12), st.text(max_size=6)), max_size=6))
def test_text_elements_are_decoded_alike_or_refused(items: list[bytes | str]) -> None:
    from modelshelf.models._casting import conform

    array = np.empty(len(items), dtype=object)
    array[:] = items
    try:
        got = conform(array, "BYTES", "input 'x'")
    except InvalidInputError as exc:
        assert "not UTF-8 text" in str(exc)
        assert any(isinstance(i, bytes) and not _utf8(i) for i in items)
    else:
        expected = [i.decode() if isinstance(i, bytes) else i for i in items]
        assert got.tolist() == expected and all(type(x) is str for x in got.tolist())


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
