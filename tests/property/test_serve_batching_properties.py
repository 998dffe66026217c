"""Hypothesis properties of modelshelf.serve._batching: split(merge(parts)) gives the parts back."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from modelshelf.serve._batching import merge, rows_of, split

pytestmark = pytest.mark.property

SETTINGS = settings(max_examples=200, deadline=None)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.binary(max_size=5),
)
row_counts = st.lists(st.integers(0, 5), min_size=1, max_size=6)
dtypes = st.sampled_from([np.dtype("int64"), np.dtype("float32"), np.dtype("bool")])
row_shapes = st.lists(st.integers(0, 3), max_size=2).map(tuple)


def arrays_for(rows: list[int], dtype: np.dtype[Any], row_shape: tuple[int, ...]) -> Any:
    return st.tuples(*[hnp.arrays(dtype, (count, *row_shape)) for count in rows]).map(list)


def assert_same(left: Any, right: Any) -> None:
    assert type(left) is type(right)
    if isinstance(left, np.ndarray):
        assert left.dtype == right.dtype
        assert left.shape == right.shape
        np.testing.assert_array_equal(left, right)
    elif isinstance(left, dict):
        assert list(left) == list(right)
        for key in left:
            assert_same(left[key], right[key])
    else:
        assert left == right


def round_trip(parts: list[Any]) -> None:
    rows = [rows_of(part) for part in parts]
    assert None not in rows
    merged = merge(parts)
    assert merged is not None
    assert rows_of(merged) == sum(rows)  # type: ignore[arg-type]
    back = split(merged, rows)  # type: ignore[arg-type]
    assert back is not None
    assert len(back) == len(parts)
    for got, want in zip(back, parts, strict=True):
        assert_same(got, want)


@SETTINGS
@given(
    row_counts.flatmap(
        lambda rows: st.tuples(*[st.lists(scalars, min_size=n, max_size=n) for n in rows])
    )
)
def test_lists_round_trip(parts: tuple[list[Any], ...]) -> None:
    round_trip(list(parts))


@SETTINGS
@given(st.lists(st.lists(scalars, max_size=4).map(tuple), min_size=1, max_size=5))
def test_tuples_round_trip(parts: list[tuple[Any, ...]]) -> None:
    round_trip(parts)


@SETTINGS
@given(st.tuples(row_counts, dtypes, row_shapes).flatmap(lambda t: arrays_for(*t)))
def test_arrays_round_trip(parts: list[np.ndarray[Any, Any]]) -> None:
    round_trip(parts)


@st.composite
def dicts_of_arrays(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Parts that are dicts with the same keys; each key has its own dtype and row shape."""
    rows = draw(row_counts)
    keys = draw(st.lists(st.text(min_size=1, max_size=3), min_size=1, max_size=3, unique=True))
    parts: list[dict[str, Any]] = [{} for _ in rows]
    for key in keys:
        dtype, row_shape = draw(dtypes), draw(row_shapes)
        for part, count in zip(parts, rows, strict=True):
            part[key] = draw(hnp.arrays(dtype, (count, *row_shape)))
    return parts


@SETTINGS
@given(dicts_of_arrays())
def test_dicts_of_arrays_round_trip(parts: list[dict[str, np.ndarray[Any, Any]]]) -> None:
    round_trip(parts)


values = st.recursive(
    scalars
    | hnp.arrays(dtypes, hnp.array_shapes(min_dims=0, max_dims=3, max_side=3))
    | st.just(np.float64(1.5)),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=3) | st.integers(), inner, max_size=3)
    ),
    max_leaves=12,
)


@SETTINGS
@given(values)
def test_rows_of_never_raises(value: Any) -> None:
    rows = rows_of(value)
    assert rows is None or rows >= 0


@SETTINGS
@given(st.lists(values, max_size=4), st.lists(st.integers(0, 4), min_size=1, max_size=4), values)
def test_merge_and_split_never_raise(parts: list[Any], rows: list[int], output: Any) -> None:
    merged = merge(parts)
    if merged is not None:
        assert rows_of(merged) == sum(rows_of(part) or 0 for part in parts)
    pieces = split(output, rows)
    assert pieces is None or len(pieces) == len(rows)
