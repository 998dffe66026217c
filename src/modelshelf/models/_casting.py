"""Casting input values to a signature's datatype, once, without changing any value.

A served request (an OIP tensor) or a caller's list reaches a model that takes one datatype
(``INT32``, ``UINT8``, ``BYTES``, ...). :func:`conform` is the one cast: an integer that does
not fit the target's range, an integer a float type cannot hold exactly (``2**24 + 1`` for
FP32), a float that would become infinity, a fraction for an integer, a number for text or
text for a number is refused with :class:`InvalidInputError` naming the input and the first
such value (a 400 when served); everything else is cast as numpy casts in range. The one
rounding kept is a float's to a narrower float (FP64 ``0.1`` to FP32): floats are approximate
by nature, and a caller who wants an integer rounded sends it as a float. Text is
``str``: a ``bytes`` element (OIP BYTES sent as binary) is decoded as UTF-8, so that an input
sent as JSON and the same input sent as binary give the model the same values.
"""

from __future__ import annotations

from collections.abc import Callable
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
    array = value if isinstance(value, np.ndarray) else None
    if array is None:
        objects = _rectangular(lambda: np.asarray(value, dtype=object), where)
        leaves = objects.ravel().tolist()
        if datatype != "BYTES" and leaves and all(type(x) is int for x in leaves):
            # Python ints exactly: numpy makes [0, 2**64 - 1] float64, which rounds them.
            return _python_ints(leaves, objects.shape, target, datatype, where)
        array = _rectangular(lambda: np.asarray(value), where)
        if target.kind == "f" and array.dtype.kind == "f":
            # A list mixing ints and floats: numpy made the ints floats, the ints are still ints.
            _exact_ints([x for x in leaves if type(x) is int], target, datatype, where)
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


def _rectangular(build: Callable[[], Any], where: str) -> Any:
    """``build()``, an array of the caller's nested lists; its failure is the input's shape
    (only numpy's own errors are caught here: ours name their reason themselves)."""
    try:
        return build()
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidInputError(
            f"{where} is not a rectangular array of one type ({trust.show(str(exc), 100)})"
        ) from None


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
    _exact_ints(leaves, target, datatype, where)
    return np.array(leaves, dtype=np.float64).astype(target).reshape(shape)


def _exact_ints(ints: list[int], target: Any, datatype: str, where: str) -> None:
    """Refuse the first of ``ints`` that the float ``target`` does not hold exactly.

    Every integer up to 2**(mantissa bits + 1) is held (FP16: 2048, FP32: 2**24, FP64: 2**53);
    only those beyond are cast and compared, each as Python values (no rounding in the check).
    """
    import numpy as np

    limit = 2 ** (np.finfo(target).nmant + 1)
    for value in ints:
        if -limit <= value <= limit:
            continue
        try:
            with np.errstate(over="ignore"):
                cast = target.type(float(value))
        except OverflowError:  # beyond any float
            cast = None
        if cast is None or not np.isfinite(cast):
            raise InvalidInputError(
                f"{where}: element {_number(value)} is out of range for the model's {datatype}"
            )
        if int(cast) != value:
            raise InvalidInputError(
                f"{where}: element {_number(value)} is an integer the model's {datatype} cannot"
                f" hold exactly (it would be {_number(int(cast))}); send it as a float to accept"
                " the rounding"
            )


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

    if array.dtype.kind in "iu" and array.size:
        info, limit = np.iinfo(array.dtype), 2 ** (np.finfo(target).nmant + 1)
        if info.max > limit or info.min < -limit:  # else every value is held: no scan
            beyond = array > limit
            if info.min < -limit:
                beyond |= array < -limit
            _exact_ints(array[beyond].tolist(), target, datatype, where)
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
    if type(value) is int and abs(value) >= 10**40:  # digits past the interpreter's str limit
        return f"<an integer of {value.bit_length()} bits>"
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
