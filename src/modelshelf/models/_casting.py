"""Casting input values to a signature's datatype, once, without changing any value.

A served request (an OIP tensor) or a caller's list reaches a model that takes one datatype
(``INT32``, ``UINT8``, ``BYTES``, ...). :func:`conform` is the one cast: an integer that does
not fit the target's range, a float that would become infinity, a fraction for an integer, a
number for text or text for a number is refused with :class:`InvalidInputError` naming the
input (a 400 when served); everything else is cast exactly as numpy casts in range. Text is
``str``: a ``bytes`` element (OIP BYTES sent as binary) is decoded as UTF-8, so that an input
sent as JSON and the same input sent as binary give the model the same values.
"""

from __future__ import annotations

from typing import Any

from modelshelf import trust
from modelshelf.errors import InvalidInputError

__all__ = ["NUMPY_TYPES", "conform"]

NUMPY_TYPES = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
    "BYTES": "object",
}
"""The numpy dtype a model receives for each OIP datatype (``BYTES``: an array of ``str``)."""


def conform(value: Any, datatype: str, where: str) -> Any:
    """``value`` as a numpy array of ``datatype`` (:data:`NUMPY_TYPES`), every value kept.

    An array that already has the dtype is returned as it is (no copy).

    Raises:
        InvalidInputError: a value does not fit ``datatype``; ``where`` (``"input 'x'"``) and
            the value are named.
    """
    import numpy as np

    target = np.dtype(NUMPY_TYPES[datatype])
    try:
        if not isinstance(value, np.ndarray):
            # Python ints exactly: numpy makes [0, 2**64 - 1] float64, which rounds them
            objects = np.asarray(value, dtype=object)
            leaves = objects.ravel().tolist()
            if datatype != "BYTES" and leaves and all(type(x) is int for x in leaves):
                return _python_ints(leaves, objects.shape, target, datatype, where)
        array = value if isinstance(value, np.ndarray) else np.asarray(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidInputError(
            f"{where} is not a rectangular array of one type ({trust.show(str(exc), 100)})"
        ) from None
    if datatype == "BYTES":
        return _texts(array, where)
    if array.dtype == target:
        return array
    if array.dtype.kind == "O":  # an array of Python objects: numbers only, ints exactly
        leaves = array.ravel().tolist()
        if leaves and all(type(x) is int for x in leaves):
            return _python_ints(leaves, array.shape, target, datatype, where)
        array = _numbers(leaves, array.shape, where)
    if array.dtype.kind not in "biuf":
        raise InvalidInputError(
            f"{where} holds {_kind_name(array)}, but the model takes {datatype}"
        )
    if target.kind == "b":
        return _booleans(array, where)
    if target.kind in "iu":
        return _integers(array, target, datatype, where)
    return _floats(array, target, datatype, where)


def _python_ints(
    leaves: list[int], shape: tuple[int, ...], target: Any, datatype: str, where: str
) -> Any:
    import numpy as np

    if target.kind in "iu":
        info = np.iinfo(target)
        low, high = min(leaves), max(leaves)
        if low < info.min or high > info.max:
            bad = low if low < info.min else high
            raise InvalidInputError(
                f"{where}: element {_number(bad)} is out of range for the model's {datatype}"
                f" ({info.min} to {info.max})"
            )
        return np.array(leaves, dtype=target).reshape(shape)
    if target.kind == "b":
        return _booleans(np.array(leaves, dtype=object).reshape(shape), where)
    try:
        wide = np.array(leaves, dtype=np.float64)
    except OverflowError:
        raise InvalidInputError(
            f"{where}: an element is out of range for the model's {datatype}"
        ) from None
    return _floats(wide.reshape(shape), target, datatype, where)


def _kind_name(array: Any) -> str:
    return "text" if array.dtype.kind in "USO" else f"values of dtype {array.dtype}"


def _numbers(leaves: list[Any], shape: tuple[int, ...], where: str) -> Any:
    import numpy as np

    if not all(isinstance(x, bool | int | float) for x in leaves):
        raise InvalidInputError(f"{where} holds text or objects where numbers are expected")
    try:
        return np.asarray(leaves, dtype=np.float64).reshape(shape)
    except OverflowError:
        raise InvalidInputError(f"{where} holds an integer too large for any datatype") from None


def _booleans(array: Any, where: str) -> Any:
    import numpy as np

    if array.dtype.kind != "b" and array.size and not np.isin(array, (0, 1)).all():
        raise InvalidInputError(f"{where}: booleans must be true/false (or 0/1)")
    return array.astype(np.bool_)


def _integers(array: Any, target: Any, datatype: str, where: str) -> Any:
    import numpy as np

    info = np.iinfo(target)
    if array.dtype.kind == "f":
        if array.size and not np.isfinite(array).all():
            raise InvalidInputError(
                f"{where} holds NaN or infinity, but the model takes {datatype}"
            )
        if array.size and (array != np.trunc(array)).any():
            bad = array[array != np.trunc(array)].ravel()[0]
            raise InvalidInputError(
                f"{where}: element {bad.item()!r} is not a whole number, but the model takes"
                f" {datatype}"
            )
    if array.size:
        low, high = array.min().item(), array.max().item()
        if low < info.min or high > info.max:
            bad = low if low < info.min else high
            raise InvalidInputError(
                f"{where}: element {_number(bad)} is out of range for the model's {datatype}"
                f" ({info.min} to {info.max})"
            )
    return array.astype(target)


def _floats(array: Any, target: Any, datatype: str, where: str) -> Any:
    import numpy as np

    with np.errstate(over="ignore", invalid="ignore"):
        cast = array.astype(target)
    if cast.size and np.isinf(cast).any():
        wide = array.astype(np.float64) if array.dtype.kind != "f" else array
        grew = np.isinf(cast) & np.isfinite(wide)
        if grew.any():
            bad = array[grew].ravel()[0].item()
            raise InvalidInputError(
                f"{where}: element {_number(bad)} is out of range for the model's {datatype}"
            )
    return cast


def _number(value: Any) -> str:
    return trust.show(value, 40)


def _texts(array: Any, where: str) -> Any:
    import numpy as np

    items = array.ravel().tolist()
    texts: list[str] = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, bytes):
            try:
                texts.append(item.decode("utf-8"))
            except UnicodeDecodeError:
                raise InvalidInputError(
                    f"{where}: element {index} ({trust.show(repr(item[:40]), 60)}) is not"
                    " UTF-8 text, but the model takes text"
                ) from None
        else:
            raise InvalidInputError(
                f"{where}: element {index} ({trust.show(item, 40)}) is not text, but the model"
                " takes text"
            )
    out = np.empty(len(items), dtype=object)
    out[:] = texts
    return out.reshape(array.shape)
