"""One Open Inference Protocol tensor's data, decoded and encoded: the codec's element level.

Decoding takes one input's ``data`` (flat row-major or nested JSON lists) or its slice of the
binary part of the body (fixed-size types little-endian row-major, BOOL one byte 0 or 1, BYTES
each element a 4-byte little-endian length then its bytes) to a numpy array of its declared
shape and :data:`DATATYPES` dtype, checking every element; encoding turns one output value of a
prediction into a JSON output tensor. The request and response around them (the header, the
inputs' fields, the outputs asked for) are :mod:`modelshelf.serve._oip`'s.
"""

from __future__ import annotations

import math
import reprlib
import struct
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "DATATYPES",
    "InferenceRequestError",
    "OutputEncodingError",
    "binary_tensor",
    "brief",
    "encode_output",
    "json_tensor",
]

DATATYPES: Mapping[str, np.dtype[Any]] = MappingProxyType(
    {"BOOL": np.dtype(np.bool_)}
    | {f"UINT{bits}": np.dtype(f"uint{bits}") for bits in (8, 16, 32, 64)}
    | {f"INT{bits}": np.dtype(f"int{bits}") for bits in (8, 16, 32, 64)}
    | {f"FP{bits}": np.dtype(f"float{bits}") for bits in (16, 32, 64)}
    | {"BYTES": np.dtype(object)}
)
"""Each supported OIP datatype and the dtype of the array a runner receives for it."""

_LENGTH = struct.Struct("<I")
# The JSON types an element may have, by datatype or else by numpy kind, and how to say so.
_JSON_ELEMENTS: dict[str, tuple[set[type], str]] = {
    "BOOL": ({bool}, "true or false"),
    "BYTES": ({str}, "a string"),
    "i": ({int}, "an integer"),
    "u": ({int}, "an integer"),
    "f": ({int, float}, "a number"),
}
_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 40
brief = _repr.repr
"""At most 40 characters of an outside value, for a message."""


class InferenceRequestError(ValueError):
    """The infer request body is malformed; the message (for a 400 ``{"error": ...}``) names
    the input and what was wrong."""


class OutputEncodingError(Exception):
    """The model's prediction cannot be written as OIP output tensors (ragged, NaN, an odd
    dtype): a fault on the server's side, answered with a 500."""


def json_tensor(
    where: str,
    datatype: str,
    shape: tuple[int, ...],
    data: Any,
    charge: Callable[[int], None],
) -> npt.NDArray[Any]:
    if not isinstance(data, list):
        raise InferenceRequestError(f"{where}: 'data' must be a JSON list, not {brief(data)}")
    flat = _flatten(data)
    count = math.prod(shape)
    if len(flat) != count:
        raise InferenceRequestError(
            f"{where}: 'data' holds {len(flat)} elements but shape {list(shape)} needs {count}"
        )
    dtype = DATATYPES[datatype]
    charge(count * (dtype.itemsize + 8))  # the flat list (when nested) and the array
    allowed, wanted = _JSON_ELEMENTS.get(datatype) or _JSON_ELEMENTS[dtype.kind]
    if not set(map(type, flat)) <= allowed:
        bad = next(item for item in flat if type(item) not in allowed)
        raise InferenceRequestError(f"{where}: element {brief(bad)} is not {wanted} ({datatype})")
    if datatype == "BYTES":
        array = np.empty(count, dtype=object)
        array[:] = flat
        return array.reshape(shape)
    if dtype.kind in "iu" and flat:
        info = np.iinfo(dtype)
        low, high = min(flat), max(flat)
        if low < info.min or high > info.max:
            raise InferenceRequestError(
                f"{where}: element {low if low < info.min else high} is out of range for "
                f"{datatype} ({info.min} to {info.max})"
            )
    if dtype.kind == "f":
        try:
            with np.errstate(over="ignore"):
                array = np.array(flat, dtype=dtype)
            overflow = not np.isfinite(array).all() and bool(
                (np.isinf(array) & np.isfinite(np.array(flat, dtype=np.float64))).any()
            )
        except OverflowError:  # an integer too large for any float
            overflow = True
        if overflow:
            raise InferenceRequestError(f"{where}: a number is out of range for {datatype}")
        return array.reshape(shape)
    return np.array(flat, dtype=dtype).reshape(shape)


def _flatten(data: list[Any]) -> list[Any]:
    """Row-major elements of nested JSON lists (iterative: nesting depth costs no stack)."""
    if list not in set(map(type, data)):
        return data
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def binary_tensor(
    where: str, datatype: str, shape: tuple[int, ...], chunk: memoryview
) -> npt.NDArray[Any]:
    count = math.prod(shape)
    dtype = DATATYPES[datatype]
    if datatype == "BYTES":
        items = _bytes_elements(where, bytes(chunk), shape)
        array = np.empty(count, dtype=object)
        array[:] = items
        return array.reshape(shape)
    needed = count * dtype.itemsize
    if len(chunk) != needed:
        raise InferenceRequestError(
            f"{where}: binary_data_size is {len(chunk)} bytes but shape {list(shape)} of "
            f"{datatype} needs {needed}"
        )
    if datatype == "BOOL" and count and np.frombuffer(chunk, dtype=np.uint8).max() > 1:
        raise InferenceRequestError(f"{where}: binary BOOL bytes must each be 0 or 1")
    # A copy in native byte order: writable, and independent of the request body.
    little = np.frombuffer(chunk, dtype=dtype.newbyteorder("<"))
    return little.astype(dtype).reshape(shape)


def _bytes_elements(where: str, raw: bytes, shape: tuple[int, ...]) -> list[bytes]:
    """Split BYTES binary data: each element a 4-byte little-endian length, then its bytes."""
    count, items, pos, end, unpack = math.prod(shape), [], 0, len(raw), _LENGTH.unpack_from
    for index in range(count):
        if pos + _LENGTH.size > end:
            raise InferenceRequestError(
                f"{where}: binary BYTES data holds {index} elements but shape {list(shape)} "
                f"needs {count}"
                if pos == end
                else f"{where}: binary BYTES data ends in a 4-byte length"
            )
        (length,) = unpack(raw, pos)
        start, pos = pos + _LENGTH.size, pos + _LENGTH.size + length
        if pos > end:
            raise InferenceRequestError(
                f"{where}: BYTES element {index} says {length} bytes but only "
                f"{end - start} remain in its binary_data_size"
            )
        items.append(raw[start:pos])
    if pos != end:
        raise InferenceRequestError(
            f"{where}: binary BYTES data holds more than the {count} elements of the shape"
        )
    return items


def encode_output(name: str, value: Any) -> dict[str, Any]:
    where = f"output {name!r}"
    try:
        array = np.asarray(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise OutputEncodingError(
            f"{where} is not a rectangular array of one type ({brief(str(exc))}); "
            "the model's postprocess must return equal-length rows"
        ) from None
    kind, bits = array.dtype.kind, array.dtype.itemsize * 8
    if kind in "USO":
        datatype = "BYTES"
    elif kind == "b":
        datatype = "BOOL"
    elif kind in "iu":
        datatype = f"{'U' if kind == 'u' else ''}INT{bits}"
    elif kind == "f" and bits in (16, 32, 64):
        datatype = f"FP{bits}"
        if not np.isfinite(array).all():
            raise OutputEncodingError(f"{where} holds NaN or infinity, which JSON cannot carry")
    else:
        raise OutputEncodingError(
            f"{where} has dtype {array.dtype}; convert it to bool, integers, floats or text"
        )
    items = array.ravel().tolist()
    data = _texts(where, items) if datatype == "BYTES" else items
    return {"name": name, "datatype": datatype, "shape": list(array.shape), "data": data}


def _texts(where: str, items: list[Any]) -> list[str]:
    odd = sorted({type(item).__name__ for item in items if not isinstance(item, str | bytes)})
    if odd:
        raise OutputEncodingError(
            f"{where} is an array of objects holding {', '.join(odd)} values; "
            "only numbers of one dtype or text can be encoded"
        )
    try:
        return [item if isinstance(item, str) else item.decode("utf-8") for item in items]
    except UnicodeDecodeError:
        raise OutputEncodingError(f"{where} holds bytes that are not UTF-8") from None
