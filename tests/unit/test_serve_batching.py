"""modelshelf.serve._batching: rows of prepared data, merge along rows, split back."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from modelshelf.serve._batching import merge, rows_of, split


class BadLen(list[int]):
    def __len__(self) -> int:
        raise RuntimeError("no length")


@pytest.mark.parametrize(
    ("data", "rows"),
    [
        ([1, 2, 3], 3),
        ([], 0),
        ((1, 2), 2),
        (np.zeros((4, 2)), 4),
        (np.zeros(3), 3),
        ({"a": [1, 2], "b": np.zeros((2, 5))}, 2),
        ({"a": (1,)}, 1),
        # not batchable: run alone
        (np.float64(1.0), None),
        (np.array(5), None),
        (7, None),
        (None, None),
        ("abc", None),
        (b"abc", None),
        ({}, None),
        ({"a": [1, 2], "b": [1]}, None),
        ({"a": [1], "b": 3}, None),
        ({"a": {"b": [1]}}, None),
        ({"a": "xy"}, None),
        (BadLen([1]), None),
    ],
)
def test_rows_of(data: Any, rows: int | None) -> None:
    assert rows_of(data) == rows


def test_merge_lists_and_tuples() -> None:
    assert merge([[1], [2, 3], []]) == [1, 2, 3]
    assert merge([(1,), (2, 3)]) == (1, 2, 3)


def test_merge_arrays_concatenates_rows() -> None:
    merged = merge([np.zeros((2, 3)), np.ones((1, 3))])
    assert isinstance(merged, np.ndarray)
    assert merged.shape == (3, 3)
    assert merged[2].tolist() == [1.0, 1.0, 1.0]


def test_merge_dicts_merges_each_key() -> None:
    merged = merge([{"x": [1], "y": np.zeros(1)}, {"y": np.ones(2), "x": [2, 3]}])
    assert merged is not None
    assert merged["x"] == [1, 2, 3]
    assert merged["y"].tolist() == [0.0, 1.0, 1.0]


@pytest.mark.parametrize(
    "parts",
    [
        [],
        [[1], (2,)],  # a list and a tuple
        [[1], np.zeros(1)],
        [np.zeros((1, 2)), np.zeros((1, 3))],  # other row shape
        [np.zeros(1, dtype=np.float32), np.zeros(1, dtype=np.float64)],  # other dtype
        [np.zeros(1), np.array(1.0)],  # a 0-d array has no rows
        [{"x": [1]}, {"y": [1]}],  # other keys
        [{"x": [1]}, {"x": [1], "y": [1]}],
        [{"x": [1]}, {"x": np.zeros(1)}],  # values that cannot merge
        [{"x": [1], "y": [1, 2]}, {"x": [1], "y": [1]}],  # unequal rows inside a part
        [1, 2],
        ["ab", "cd"],
    ],
)
def test_merge_refuses_what_cannot_share_a_call(parts: list[Any]) -> None:
    assert merge(parts) is None


def test_split_lists_tuples_arrays() -> None:
    assert split([1, 2, 3], [2, 1]) == [[1, 2], [3]]
    assert split((1, 2, 3), [1, 0, 2]) == [(1,), (), (2, 3)]
    parts = split(np.arange(6).reshape(3, 2), [1, 2])
    assert parts is not None
    assert [part.tolist() for part in parts] == [[[0, 1]], [[2, 3], [4, 5]]]


def test_split_dict_gives_one_dict_per_request() -> None:
    parts = split({"label": ["a", "b", "c"], "p": np.array([0.1, 0.2, 0.3])}, [1, 2])
    assert parts is not None
    assert parts[0]["label"] == ["a"]
    assert parts[1]["label"] == ["b", "c"]
    assert parts[1]["p"].tolist() == [0.2, 0.3]


@pytest.mark.parametrize(
    "output",
    [
        0.5,  # one number for the whole batch
        [1, 2],  # too few rows
        [1, 2, 3, 4],  # too many
        np.array(3.0),
        "abc",
        {"p": [1, 2, 3], "q": [1]},
        {"p": [1, 2, 3], "q": 0.5},
        {},
        None,
    ],
)
def test_split_refuses_output_that_is_not_row_by_row(output: Any) -> None:
    assert split(output, [1, 2]) is None
