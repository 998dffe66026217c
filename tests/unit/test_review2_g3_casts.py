"""Casts to a model's datatype: the real reason for an out-of-range integer, and no integer
rounded on its way to a float (issue 21, second review, findings 3 and 4).

Finding 3: a Python int out of range was reported as ``not a rectangular array of one type``,
with the real reason cut inside the quote. Finding 4: an integer cast to FP16/FP32/FP64 was
rounded silently (``2**24 + 1`` became ``16777216``), though :func:`conform` promises to keep
every value; now such a cast is refused, naming the input and the first value.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelshelf.cli.main import main
from modelshelf.errors import InvalidInputError
from modelshelf.models._casting import NUMPY_TYPES, conform

WHERE = "input 'x'"


@pytest.mark.parametrize(
    ("value", "datatype", "bad"),
    [
        ([3000000000], "INT32", "3000000000"),
        ([2**64], "UINT64", str(2**64)),
        ([2**63], "INT64", str(2**63)),
        ([-1], "UINT8", "-1"),
        ([[1, 2], [3, 300]], "UINT8", "300"),
    ],
)
def test_an_out_of_range_int_says_so(value: object, datatype: str, bad: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        conform(value, datatype, WHERE)
    message = str(info.value)
    assert "rectangular" not in message, message
    assert message.startswith(f"{WHERE}: element {bad} is out of range for the model's {datatype}")


@pytest.mark.parametrize("datatype", ["FP64", "FP32", "FP16", "BOOL"])
def test_a_huge_int_says_it_is_out_of_range(datatype: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        conform([2**2000], datatype, WHERE)
    message = str(info.value)
    assert "rectangular" not in message, message
    assert (message.startswith(WHERE) and "out of range" in message) or "true/false" in message


def test_a_ragged_list_is_still_not_rectangular() -> None:
    with pytest.raises(InvalidInputError, match="not a rectangular array"):
        conform([[1], [2, 3]], "INT32", WHERE)


# -- finding 4: no integer rounded ----------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "datatype", "bad"),
    [
        (np.array([2**24 + 1]), "FP32", 2**24 + 1),
        (np.array([1, 123456789012345678], dtype=np.int64), "FP32", 123456789012345678),
        ([2**53 + 1], "FP64", 2**53 + 1),
        ([5, 2**24 + 1], "FP32", 2**24 + 1),
        (np.array([2049], dtype=np.int32), "FP16", 2049),
        (np.array([2**64 - 1], dtype=np.uint64), "FP64", 2**64 - 1),
        (np.array([-(2**63) + 1], dtype=np.int64), "FP64", -(2**63) + 1),
        ([2049, 0.5], "FP16", 2049),  # a list mixing ints and floats: the ints are still ints
    ],
)
def test_an_integer_a_float_cannot_hold_is_refused(value: object, datatype: str, bad: int) -> None:
    with pytest.raises(InvalidInputError) as info:
        conform(value, datatype, WHERE)
    message = str(info.value)
    assert message.startswith(f"{WHERE}: element {bad} ") and datatype in message, message
    assert "exactly" in message, message


@pytest.mark.parametrize(
    ("value", "datatype"),
    [
        (np.array([2**24, -(2**24), 0, 7]), "FP32"),
        ([2**53, 2**70], "FP64"),  # powers of two are exact
        (np.array([2048, -2048], dtype=np.int16), "FP16"),
        (np.array([True, False]), "FP16"),
        (np.array([-(2**63)], dtype=np.int64), "FP64"),
        (np.array([0.1, 1 / 3]), "FP32"),  # a float rounded to a narrower float is a float
        ([1, 2.5], "FP32"),
    ],
)
def test_an_integer_a_float_holds_is_cast(value: object, datatype: str) -> None:
    out = conform(value, datatype, WHERE)
    assert out.dtype == np.dtype(NUMPY_TYPES[datatype])
    if not (isinstance(value, np.ndarray) and value.dtype.kind == "f"):
        assert [int(x) if float(x).is_integer() else x for x in np.ravel(out).tolist()] == [
            int(x) if float(x).is_integer() else x for x in np.ravel(value).tolist()
        ]


_FLOATS = st.sampled_from(["FP16", "FP32", "FP64"])
_INT_TYPES = st.sampled_from(["int8", "int16", "int32", "int64", "uint8", "uint32", "uint64"])


@settings(max_examples=400, deadline=None)
@given(_INT_TYPES.flatmap(lambda t: st.tuples(st.just(t), _ints_of(t))), _FLOATS, st.booleans())
def test_an_int_to_float_cast_keeps_every_value_or_refuses(
    typed: tuple[str, list[int]], datatype: str, as_list: bool
) -> None:
    dtype, values = typed
    given_value: object = values if as_list else np.array(values, dtype=dtype)
    try:
        out = conform(given_value, datatype, WHERE)
    except InvalidInputError as exc:
        # Refused: for a value the float does not hold, named.
        assert any(not _held(v, datatype) for v in values), (values, exc)
        assert str(exc).startswith(f"{WHERE}: element "), exc
        return
    assert all(_held(v, datatype) for v in values)
    assert [int(x) for x in out.tolist()] == values


def _ints_of(dtype: str) -> st.SearchStrategy[list[int]]:
    info = np.iinfo(dtype)
    return st.lists(st.integers(int(info.min), int(info.max)), min_size=1, max_size=6)


def _held(value: int, datatype: str) -> bool:
    with np.errstate(over="ignore"):
        cast = np.array([value], dtype=object).astype(NUMPY_TYPES[datatype])
    return bool(np.isfinite(cast).all()) and int(cast[0]) == value


# -- the CLI: predict on an ONNX graph ------------------------------------------------------
def _identity_onnx(path: Path, elem: int) -> Path:
    onnx = pytest.importorskip("onnx")
    from onnx import helper

    x = helper.make_tensor_value_info("x", elem, [None])
    y = helper.make_tensor_value_info("y", elem, [None])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize(
    ("elem", "data", "reason"),
    [
        ("INT32", "[3000000000]", "element 3000000000 is out of range for the model's INT32"),
        ("UINT8", "[-1]", "element -1 is out of range for the model's UINT8"),
        ("FLOAT", "[16777217]", "element 16777217 "),
    ],
)
def test_predict_names_the_real_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], elem: str, data: str, reason: str
) -> None:
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto

    model = _identity_onnx(tmp_path / "m.onnx", getattr(TensorProto, elem))
    source = tmp_path / "x.json"
    source.write_text(data)
    code = main(["predict", str(model), "--input", str(source)])
    out, err = capsys.readouterr()
    assert code == 1 and out == "", (out, err)
    assert reason in err and "rectangular" not in err, err
    assert err.count("\n") <= 2, err
    # In range and exact: answered.
    source.write_text("[7]")
    assert main(["predict", str(model), "--input", str(source)]) == 0
    assert json.loads(capsys.readouterr().out) == [7]
