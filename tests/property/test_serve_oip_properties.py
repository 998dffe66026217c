"""Hypothesis properties of the OIP V2 codec: JSON and binary bodies round trip to the same
arrays, responses parse back, and no body whatever raises anything but InferenceRequestError."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from modelshelf.serve._oip import (
    InferRequest,
    infer_response,
    parse_infer_request,
    runner_input,
)
from modelshelf.serve._tensors import DATATYPES, InferenceRequestError, OutputEncodingError

tc_http = pytest.importorskip("tritonclient.http")
tc_utils = pytest.importorskip("tritonclient.utils")

pytestmark = pytest.mark.property

SETTINGS = settings(max_examples=200, deadline=None)

shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)
NUMERIC = [name for name in DATATYPES if name != "BYTES"]


@st.composite
def tensors(draw: st.DrawFn, *, text: bool) -> tuple[str, np.ndarray]:
    """A datatype and an array of it; BYTES elements are str when ``text`` else bytes."""
    datatype = draw(st.sampled_from(list(DATATYPES)))
    shape = draw(shapes)
    if datatype == "BYTES":
        elements = st.text(max_size=8) if text else st.binary(max_size=8)
        return datatype, draw(hnp.arrays(object, shape, elements=elements))
    return datatype, draw(hnp.arrays(DATATYPES[datatype], shape))


def check(request: InferRequest, expected: list[tuple[str, np.ndarray]]) -> None:
    assert [(i.datatype, i.shape) for i in request.inputs] == [(d, a.shape) for d, a in expected]
    for got, (datatype, array) in zip(request.inputs, expected, strict=True):
        assert got.data.dtype == DATATYPES[datatype]
        assert got.data.shape == array.shape
        np.testing.assert_array_equal(got.data, array)  # NaN equals NaN here
        if datatype == "BYTES":
            assert [type(v) for v in got.data.ravel()] == [type(v) for v in array.ravel()]


def well_formed(request: InferRequest) -> None:
    """What any request the parser accepts must satisfy."""
    assert request.inputs and len({i.name for i in request.inputs}) == len(request.inputs)
    for tensor in request.inputs:
        assert tensor.data.shape == tensor.shape
        assert tensor.data.dtype == DATATYPES[tensor.datatype]


@SETTINGS
@given(st.lists(tensors(text=True), min_size=1, max_size=3), st.booleans())
def test_json_body_round_trips(inputs: list[tuple[str, np.ndarray]], nested: bool) -> None:
    doc = {
        "inputs": [
            {
                "name": f"in{index}",
                "datatype": datatype,
                "shape": list(array.shape),
                "data": array.tolist() if nested and array.ndim else array.ravel().tolist(),
            }
            for index, (datatype, array) in enumerate(inputs)
        ]
    }
    body = json.dumps(doc).encode()
    if any(a.dtype.kind == "f" and not np.isfinite(a).all() for _, a in inputs):
        # NaN and Infinity are no JSON (issue 21, review 2): refused, never read as nan/inf.
        with pytest.raises(InferenceRequestError, match="is not JSON"):
            parse_infer_request(body, None)
        return
    check(parse_infer_request(body, None), inputs)


@SETTINGS
@given(st.lists(st.tuples(tensors(text=False), st.booleans()), min_size=1, max_size=4))
def test_tritonclient_body_round_trips(inputs: list[tuple[tuple[str, np.ndarray], bool]]) -> None:
    """Any mix of binary and JSON inputs, built by tritonclient's own request-body builder."""
    made = []
    for index, ((datatype, array), binary) in enumerate(inputs):
        tensor = tc_http.InferInput(f"in{index}", list(array.shape), datatype)
        # tritonclient writes JSON BYTES as UTF-8 text: JSON-sent bytes must decode.
        sendable = binary or datatype != "BYTES" or all(_utf8(v) for v in array.ravel())
        # NaN and Infinity are no JSON (refused, issue 21 review 2): such data goes binary.
        sendable = sendable and not (array.dtype.kind == "f" and not np.isfinite(array).all())
        tensor.set_data_from_numpy(array, binary_data=binary or not sendable)
        made.append(tensor)
    raw, header_length = tc_http.InferenceServerClient.generate_request_body(made)
    expected = []
    for ((datatype, array), _), tensor in zip(inputs, made, strict=True):
        if datatype == "BYTES" and tensor._get_binary_data() is None:
            array = np.vectorize(bytes.decode, otypes=[object])(array) if array.size else array
        expected.append((datatype, array))
    check(parse_infer_request(raw, header_length), expected)


def _utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@SETTINGS
@given(st.binary(max_size=300), st.none() | st.integers(-3, 310))
def test_random_bytes_raise_only_request_errors(raw: bytes, header_length: int | None) -> None:
    try:
        request = parse_infer_request(raw, header_length)
    except InferenceRequestError:
        return
    well_formed(request)


@SETTINGS
@given(
    st.lists(tensors(text=False), min_size=1, max_size=3),
    st.sampled_from(["truncate", "extend", "flip", "header"]),
    st.data(),
)
def test_damaged_binary_bodies_raise_only_request_errors(
    inputs: list[tuple[str, np.ndarray]], damage: str, data: st.DataObject
) -> None:
    made = []
    for index, (datatype, array) in enumerate(inputs):
        tensor = tc_http.InferInput(f"in{index}", list(array.shape), datatype)
        made.append(tensor.set_data_from_numpy(array, binary_data=True))
    raw, header_length = tc_http.InferenceServerClient.generate_request_body(made)
    assert header_length is not None
    if damage == "truncate":
        raw = raw[: data.draw(st.integers(0, max(len(raw) - 1, 0)))]
    elif damage == "extend":
        raw += data.draw(st.binary(min_size=1, max_size=9))
    elif damage == "flip":
        at = data.draw(st.integers(0, len(raw) - 1))
        raw = raw[:at] + bytes([raw[at] ^ data.draw(st.integers(1, 255))]) + raw[at + 1 :]
    else:
        header_length += data.draw(st.integers(-20, 20).filter(bool))
    try:
        request = parse_infer_request(raw, header_length)
    except InferenceRequestError:
        event(f"{damage}: rejected")
        return
    event(f"{damage}: parsed")
    well_formed(request)
    assert damage == "flip"  # only a flipped data byte can still make a valid body


json_leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
data_like = st.recursive(
    st.booleans() | st.integers(-300, 70_000) | st.floats() | st.text(max_size=3) | st.none(),
    lambda inner: st.lists(inner, max_size=5),
    max_leaves=30,
)
# Replacements for one field of a valid input, to reach every check past the first.
DAMAGE = {
    "name": st.just("") | st.sampled_from(["x", "y"]) | json_values,
    "datatype": st.sampled_from([*DATATYPES, "BF16", "fp32"]) | json_values,
    "shape": st.lists(st.integers(-2, 5), max_size=4) | json_values,
    "data": data_like | json_values,
    "parameters": st.fixed_dictionaries({"binary_data_size": st.integers(-2, 40) | json_values})
    | json_values,
}


@st.composite
def request_like(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly valid requests with a few fields damaged or dropped."""
    inputs: list[Any] = []
    for index in range(draw(st.integers(1, 3))):
        datatype, array = draw(tensors(text=True))
        item: dict[str, Any] = {
            "name": f"in{index}",
            "datatype": datatype,
            "shape": list(array.shape),
            "data": draw(st.sampled_from([array.ravel().tolist(), array.tolist()])),
        }
        for key in draw(st.lists(st.sampled_from([*DAMAGE, "drop"]), max_size=2)):
            if key == "drop":
                item.pop(draw(st.sampled_from(sorted(DAMAGE))), None)
            else:
                item[key] = draw(DAMAGE[key])
        inputs.append(item)
    doc: dict[str, Any] = {"inputs": draw(st.just(inputs) | json_values | st.just([3]))}
    if draw(st.booleans()):
        doc["id"] = draw(st.text(max_size=4) | json_values)
    if draw(st.booleans()):
        doc["parameters"] = draw(st.dictionaries(st.text(max_size=3), json_values) | json_values)
    if draw(st.booleans()):
        names = st.fixed_dictionaries({"name": st.text(max_size=3)})
        doc["outputs"] = draw(st.lists(names | json_values, max_size=3) | json_values)
    return doc


@SETTINGS
@given(request_like(), st.binary(max_size=40), st.booleans())
def test_request_like_json_raises_only_request_errors(
    doc: dict[str, Any], tail: bytes, binary: bool
) -> None:
    header = json.dumps(doc).encode()
    raw, header_length = (header + tail, len(header)) if binary else (header, None)
    try:
        request = parse_infer_request(raw, header_length, max_elements=10_000)
    except InferenceRequestError as exc:
        event(f"rejected: {str(exc)[:30]}")
        return
    event("parsed")
    well_formed(request)
    assert all(i.data.size <= 10_000 for i in request.inputs)


@SETTINGS
@given(st.dictionaries(st.text(min_size=1, max_size=5), tensors(text=True), max_size=3))
def test_response_outputs_parse_back_to_the_same_arrays(
    outputs: dict[str, tuple[str, np.ndarray]],
) -> None:
    arrays = {name: array for name, (_, array) in outputs.items()}
    floats = [a for a in arrays.values() if a.dtype.kind == "f"]
    if any(not np.isfinite(a).all() for a in floats):
        with pytest.raises(OutputEncodingError, match="NaN or infinity"):
            infer_response(arrays, model_name="m", model_version="1", request_id="r")
        return
    response = infer_response(arrays, model_name="m", model_version="1", request_id="r")
    text = json.dumps(response, allow_nan=False)
    assert [o["name"] for o in response["outputs"]] == sorted(arrays)
    if not arrays:
        return
    request = parse_infer_request(json.dumps({"inputs": response["outputs"]}).encode(), None)
    check(request, [outputs[name] for name in sorted(arrays)])
    back = tc_http.InferenceServerClient.parse_response_body(text.encode())
    for name, array in arrays.items():
        got = back.as_numpy(name)
        assert got.shape == array.shape and math.prod(got.shape) == array.size
        if array.dtype != object:
            np.testing.assert_array_equal(got, array)
            assert got.dtype == array.dtype


def test_request_like_strategy_reaches_success() -> None:
    """The fuzz above is not vacuous: a well-formed request from the same building blocks parses."""
    doc = {"inputs": [{"name": "x", "datatype": "INT16", "shape": [2], "data": [[1], 2]}]}
    assert runner_input(parse_infer_request(json.dumps(doc).encode(), None)).tolist() == [1, 2]
