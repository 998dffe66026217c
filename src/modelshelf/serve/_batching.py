"""Rows, merge and split of runner data: what lets several requests share one predict call.

Pure functions (numpy only), used by :mod:`modelshelf.serve._batch_run` (and by
:mod:`modelshelf.serve._queue`, to count a request's rows). A request's *prepared* data (what
``preprocess`` returned) is batchable when it has a row count:

    rows_of(data)  ::= len(data)          if data is a list or tuple
                     | data.shape[0]      if data is an ndarray with ndim >= 1
                     | n                  if data is a non-empty dict whose values are all lists,
                                          tuples or ndarrays (ndim >= 1) with n rows each
                     | None               otherwise (scalars, 0-d arrays, str, bytes, unequal dicts)

``merge`` concatenates batchable parts along their rows, and ``split`` cuts the predict output
back into one part per request. ``None`` from either means "cannot": the batcher then runs each
request alone, so batching never changes an answer, it only saves calls.

Example:
    >>> import numpy as np
    >>> merged = merge([np.zeros((2, 3)), np.ones((1, 3))])
    >>> merged.shape
    (3, 3)
    >>> [part.shape for part in split(merged, [2, 1])]
    [(2, 3), (1, 3)]
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["merge", "rows_of", "split"]


def _flat_rows(value: Any) -> int | None:
    """Rows of a list, tuple or ndarray with ndim >= 1; None for anything else."""
    if isinstance(value, list | tuple):
        return len(value)
    if isinstance(value, np.ndarray) and value.ndim >= 1:
        return int(value.shape[0])
    return None


def rows_of(data: Any) -> int | None:
    """Count the rows of prepared runner data, or None when it is not batchable.

    Never raises, whatever the value (a list subclass whose ``len`` fails counts as None).

    Args:
        data: What a runner's ``preprocess`` returned for one request.

    Returns:
        The number of rows (see the module grammar), or None: the request then runs alone.

    Example:
        >>> rows_of([[1, 2], [3, 4]]), rows_of({"a": [1, 2], "b": (3, 4)}), rows_of("text")
        (2, 2, None)
    """
    try:
        if isinstance(data, dict):
            if not data:
                return None
            counts = {_flat_rows(value) for value in data.values()}
            if len(counts) != 1:
                return None
            return counts.pop()
        return _flat_rows(data)
    except Exception:
        return None


def merge(parts: list[Any]) -> Any | None:
    """Concatenate the prepared data of several requests along their rows.

    Args:
        parts: Prepared data, one per request, each with ``rows_of(part) is not None``.

    Returns:
        One list when all parts are lists (one tuple when all are tuples); one array when all are
        ndarrays of the same dtype and the same shape after the first axis; one dict of merged
        values when all are dicts with the same keys; otherwise None (the parts cannot share a
        call, so each runs alone).

    Example:
        >>> merge([[1, 2], [3]]), merge([{"x": [1]}, {"x": [2]}]), merge([[1], (2,)])
        ([1, 2, 3], {'x': [1, 2]}, None)
    """
    if not parts or any(rows_of(part) is None for part in parts):
        return None
    first = parts[0]
    if all(type(part) is list for part in parts):
        return [row for part in parts for row in part]
    if all(type(part) is tuple for part in parts):
        return tuple(row for part in parts for row in part)
    if all(isinstance(part, np.ndarray) for part in parts):
        if any(
            part.dtype != first.dtype or part.shape[1:] != first.shape[1:] for part in parts[1:]
        ):
            return None
        return np.concatenate(parts, axis=0)
    if all(isinstance(part, dict) for part in parts):
        keys = list(first)
        if any(set(part) != set(keys) for part in parts[1:]):
            return None
        merged: dict[Any, Any] = {}
        for key in keys:
            value = merge([part[key] for part in parts])
            if value is None:
                return None
            merged[key] = value
        return merged
    return None


def _cut(value: Any, rows: list[int]) -> list[Any]:
    """Slices of a list, tuple or ndarray of ``sum(rows)`` rows, one per entry of ``rows``."""
    pieces: list[Any] = []
    start = 0
    for count in rows:
        pieces.append(value[start : start + count])
        start += count
    return pieces


def split(output: Any, rows: list[int]) -> list[Any] | None:
    """Cut the output of one merged predict call back into one output per request.

    Args:
        output: What ``predict`` returned for the merged data.
        rows: The rows of each request's prepared data, in merge order.

    Returns:
        One slice per request when the output is a list, tuple or ndarray (ndim >= 1) of
        ``sum(rows)`` rows, or a non-empty dict whose values all are; otherwise None (the model
        did not answer row by row, so the batcher re-runs each request alone).

    Example:
        >>> split([10, 20, 30], [2, 1]), split({"p": [0.1, 0.9]}, [1, 1]), split(0.5, [1, 1])
        ([[10, 20], [30]], [{'p': [0.1]}, {'p': [0.9]}], None)
    """
    total = sum(rows)
    if any(count < 0 for count in rows):
        return None
    if _flat_rows(output) == total:
        return _cut(output, rows)
    if isinstance(output, dict) and output:
        if any(_flat_rows(value) != total for value in output.values()):
            return None
        columns = {key: _cut(value, rows) for key, value in output.items()}
        return [{key: columns[key][index] for key in output} for index in range(len(rows))]
    return None
