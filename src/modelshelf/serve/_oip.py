"""The Open Inference Protocol V2 (REST) infer request and response, as plain data.

Pure codec: numpy, json and the signature's naming rule only, no web framework. The app hands
over the raw body and the ``Inference-Header-Content-Length`` header; this module answers typed
arrays or a clear :class:`InferenceRequestError` (the app's 400), and turns a prediction back
into a response dict.

Request body (``POST /v2/models/{name}/infer``)::

    body    = header [tensors]        header: UTF-8 JSON object, the whole body unless the
                                      Inference-Header-Content-Length header gives its length
    header  = {"id"?: str, "parameters"?: {...},
               "inputs": [input, ...],                    # at least one, unique names
               "outputs"?: [{"name": str, "parameters"?: {...}}, ...]}
    input   = {"name": str, "datatype": DT, "shape": [int >= 0, ...],
               "data": [...]                              # flat row-major or nested JSON, or
               | "parameters": {"binary_data_size": int}} # that many bytes of `tensors`
    DT      = BOOL | UINT8 | UINT16 | UINT32 | UINT64 | INT8 | INT16 | INT32 | INT64
              | FP16 | FP32 | FP64 | BYTES                # BF16 is not supported
    tensors = the binary inputs' bytes back to back, in input order, nothing left over:
              fixed-size types little-endian row-major (BOOL one byte, 0 or 1);
              BYTES each element as a 4-byte little-endian length then its bytes

Response: ``{"model_name", "model_version", "id"?, "outputs": [{"name", "datatype", "shape",
"data"}]}`` in JSON (``binary_data_output`` in a request is ignored, which the protocol allows).
A prediction that is not a dict is one tensor, named as the model's signature names its one
output (else ``output-0``); a dict (or a DataFrame) is one per key (column).

Example:
    >>> req = parse_infer_request(
    ...     b'{"inputs": [{"name": "x", "datatype": "INT32", "shape": [2], "data": [1, 2]}]}', None
    ... )
    >>> runner_input(req).tolist()
    [1, 2]
    >>> infer_response([1, 2], model_name="m", model_version="1", request_id=None)["outputs"]
    [{'name': 'output-0', 'datatype': 'INT64', 'shape': [2], 'data': [1, 2]}]
"""

from __future__ import annotations

import math
import reprlib
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from modelshelf._bounds import NonFiniteError, loads_json
from modelshelf.models.signature import DEFAULT_OUTPUT, named_parts
from modelshelf.serve._cost import BYTES_ELEMENT, json_cost

__all__ = [
    "DATATYPES",
    "InferInput",
    "InferRequest",
    "InferenceRequestError",
    "OutputEncodingError",
    "infer_response",
    "parse_infer_request",
    "runner_input",
]

DATATYPES: Mapping[str, np.dtype[Any]] = MappingProxyType(
    {"BOOL": np.dtype(np.bool_)}
    | {f"UINT{bits}": np.dtype(f"uint{bits}") for bits in (8, 16, 32, 64)}
    | {f"INT{bits}": np.dtype(f"int{bits}") for bits in (8, 16, 32, 64)}
    | {f"FP{bits}": np.dtype(f"float{bits}") for bits in (16, 32, 64)}
    | {"BYTES": np.dtype(object)}
)
"""Each supported OIP datatype and the dtype of the array a runner receives for it."""

MAX_DIMS = 32
"""The most dimensions a shape may have (numpy's own floor)."""

_LENGTH = struct.Struct("<I")
# The JSON types an element may have, by datatype or else by numpy kind, and how to say so.
_JSON_ELEMENTS: dict[str, tuple[set[type], str]] = {
    "BOOL": ({bool}, "true or false"),
    "BYTES": ({str}, "a string"),
    "i": ({int}, "an integer"),
    "u": ({int}, "an integer"),
    "f": ({int, float}, "a number"),
}
_SUPPORTED = ", ".join(DATATYPES)
_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 40
_show = _repr.repr


class InferenceRequestError(ValueError):
    """The infer request body is malformed; the message (for a 400 ``{"error": ...}``) names
    the input and what was wrong."""


class OutputEncodingError(Exception):
    """The model's prediction cannot be written as OIP output tensors (ragged, NaN, an odd
    dtype): a fault on the server's side, answered with a 500."""


@dataclass(frozen=True)
class InferInput:
    """One decoded input tensor: ``data`` has ``shape`` and the dtype ``DATATYPES[datatype]``."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    data: npt.NDArray[Any]


@dataclass(frozen=True)
class InferRequest:
    """A decoded infer request.

    Attributes:
        id: the request's ``id``, echoed in the response; ``None`` if not sent.
        inputs: the input tensors in the order sent.
        outputs: the output names asked for; ``()`` means all of them.
        parameters: the request's ``parameters`` object, as sent.
    """

    id: str | None
    inputs: tuple[InferInput, ...]
    outputs: tuple[str, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)


def parse_infer_request(
    body: bytes,
    header_length: int | None,
    *,
    max_elements: int = 50_000_000,
    charge: Callable[[int], None] | None = None,
) -> InferRequest:
    """Decode an OIP V2 infer request body (JSON, or JSON plus binary tensors).

    Args:
        body: the raw HTTP request body.
        header_length: the ``Inference-Header-Content-Length`` header as an int, or ``None``
            when the whole body is JSON.
        max_elements: the most elements one input may declare in its shape.
        charge: told the bytes each step will build before it builds them (the JSON header,
            then each tensor); it may refuse by raising.

    Returns:
        The request with every input decoded to a numpy array of its declared shape.

    Raises:
        InferenceRequestError: anything malformed; the message names the input and the fault.
    """
    charge = charge or _free
    doc, binary = _header(body, header_length, charge)
    request_id = doc.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InferenceRequestError(f"'id' must be a string, not {_show(request_id)}")
    parameters = doc.get("parameters", {})
    if not isinstance(parameters, dict):
        raise InferenceRequestError("'parameters' must be a JSON object")
    raw_inputs = doc.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise InferenceRequestError("'inputs' must be a non-empty list of input tensors")
    inputs: dict[str, InferInput] = {}
    offset = 0
    for index, raw in enumerate(raw_inputs):
        name, datatype, shape, size, data = _input_fields(raw, index, max_elements)
        where = f"input {name!r}"
        if name in inputs:
            raise InferenceRequestError(f"{where} is given twice; input names must be unique")
        if size is None:
            array = _json_tensor(where, datatype, shape, data, charge)
        else:
            if binary is None:
                raise InferenceRequestError(
                    f"{where} has binary_data_size but no Inference-Header-Content-Length was sent"
                )
            if offset + size > len(binary):
                raise InferenceRequestError(
                    f"{where}: binary_data_size is {size} bytes but only {len(binary) - offset} "
                    "bytes of binary data remain after the JSON header"
                )
            # At most what the data can hold, so a shape that lies is a 400, not a 413.
            if datatype == "BYTES":
                charge(min(math.prod(shape), size // 4) * BYTES_ELEMENT + 2 * size)
            else:
                charge(size)  # the array's copy
            array = _binary_tensor(where, datatype, shape, binary[offset : offset + size])
            offset += size
        inputs[name] = InferInput(name, datatype, shape, array)
    if binary is not None and offset != len(binary):
        raise InferenceRequestError(
            f"{len(binary) - offset} bytes follow the last binary input's binary_data_size"
        )
    outputs = _requested_outputs(doc.get("outputs"))
    return InferRequest(request_id, tuple(inputs.values()), outputs, parameters)


def runner_input(request: InferRequest) -> Any:
    """What a runner receives: one input's ndarray, or ``{name: ndarray}`` for several."""
    if len(request.inputs) == 1:
        return request.inputs[0].data
    return {tensor.name: tensor.data for tensor in request.inputs}


def infer_response(
    output: Any,
    *,
    model_name: str,
    model_version: str,
    request_id: str | None,
    requested: tuple[str, ...] = (),
    names: Sequence[str] = (),
) -> dict[str, Any]:
    """Encode a (postprocessed) prediction as an OIP V2 infer response.

    Args:
        output: an ndarray, list, scalar or numpy scalar (one tensor: the model's one output
            name in ``names``, else ``output-0``), or a dict with string keys or a DataFrame
            (one tensor per key or column, in the order of ``names``, the rest sorted).
        model_name: the model name to report.
        model_version: the version that answered.
        request_id: the request's ``id``, echoed when not ``None``.
        requested: the output names the request asked for, in the order to answer them;
            ``()`` answers every output.
        names: the output names the model's signature lists (what OIP model metadata shows),
            so that the answer uses the same names; ``()`` when it has none.

    Returns:
        The response as a JSON-ready dict (no NaN or infinity anywhere).

    Raises:
        InferenceRequestError: a requested name the prediction does not hold.
        OutputEncodingError: the prediction cannot be encoded (ragged, NaN/inf, odd dtype).
    """
    parts = named_parts(output)
    if parts is not None:
        bad_keys = [key for key, _ in parts if not isinstance(key, str)]
        if bad_keys:
            raise OutputEncodingError(
                f"the prediction is a dict with non-string keys {_show(bad_keys)}; "
                "output tensors need string names"
            )
        found = {str(key): value for key, value in parts}
        order = [n for n in names if n in found] + sorted(set(found) - set(names))
        tensors = {key: found[key] for key in order}
    else:
        # One unnamed tensor answers under the model's one output name, as metadata lists it.
        tensors = {names[0] if len(names) == 1 else DEFAULT_OUTPUT: output}
    if requested:
        missing = [name for name in requested if name not in tensors]
        if missing:
            raise InferenceRequestError(
                f"requested output(s) {', '.join(map(repr, missing))} not produced; this model "
                f"answers {', '.join(map(repr, tensors))}: ask for those or omit 'outputs'"
            )
        tensors = {name: tensors[name] for name in requested}
    response: dict[str, Any] = {"model_name": model_name, "model_version": model_version}
    if request_id is not None:
        response["id"] = request_id
    response["outputs"] = [_encode_output(name, value) for name, value in tensors.items()]
    return response


def _free(size: int) -> None:
    """The charge of a caller that keeps no budget."""


def _header(
    body: bytes, header_length: int | None, charge: Callable[[int], None]
) -> tuple[dict[str, Any], memoryview | None]:
    """The JSON header as a dict, and the binary part of the body (None: the body is JSON)."""
    what, header, binary = "the request body", body, None
    if header_length is not None:
        if header_length < 0 or header_length > len(body):
            raise InferenceRequestError(
                f"Inference-Header-Content-Length is {header_length} but the body holds "
                f"{len(body)} bytes; it must be the length of the JSON header at the body's start"
            )
        what, header = f"the first {header_length} bytes", body[:header_length]
        binary = memoryview(body)[header_length:]
    charge(json_cost(body, len(header)))
    try:
        doc = loads_json(header.decode("utf-8"))
    except NonFiniteError as exc:  # NaN, Infinity, 1e999: read as nan/inf, a 500 later
        raise InferenceRequestError(f"{what} is not JSON: {exc}") from None
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError too
        raise InferenceRequestError(f"{what} is not valid UTF-8 JSON: {_show(str(exc))}") from None
    if not isinstance(doc, dict):
        raise InferenceRequestError(f"{what} must be a JSON object with 'inputs'")
    return doc, binary


def _input_fields(
    raw: Any, index: int, max_elements: int
) -> tuple[str, str, tuple[int, ...], int | None, Any]:
    """Check one input's name, datatype, shape and parameters; return them and its data."""
    if not isinstance(raw, dict):
        raise InferenceRequestError(f"inputs[{index}] must be an object with name, shape, ...")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise InferenceRequestError(f"inputs[{index}] needs a 'name' (a non-empty string)")
    where = f"input {name!r}"
    datatype = raw.get("datatype")
    if not isinstance(datatype, str) or datatype not in DATATYPES:
        raise InferenceRequestError(
            f"{where}: datatype {_show(datatype)} is not supported; use one of {_SUPPORTED}"
        )
    shape = raw.get("shape")
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_DIMS
        or any(type(dim) is not int or dim < 0 for dim in shape)
    ):
        raise InferenceRequestError(
            f"{where}: shape {_show(shape)} must be at most {MAX_DIMS} non-negative integers"
        )
    # Zero-sized dims hold no data but still size the array numpy builds: bound the rest too.
    if math.prod(max(dim, 1) for dim in shape) > max_elements:
        raise InferenceRequestError(
            f"{where}: shape {_show(shape)} holds more than the limit of {max_elements} elements"
        )
    params = raw.get("parameters", {})
    if not isinstance(params, dict):
        raise InferenceRequestError(f"{where}: 'parameters' must be a JSON object")
    if any(key.startswith("shared_memory") for key in params):
        raise InferenceRequestError(f"{where}: shared memory is not supported; send the data")
    size = params.get("binary_data_size")
    if size is not None and (type(size) is not int or size < 0):
        raise InferenceRequestError(
            f"{where}: binary_data_size must be a non-negative integer, not {_show(size)}"
        )
    if size is not None and "data" in raw:
        raise InferenceRequestError(f"{where} has both 'data' and binary_data_size; send one")
    if size is None and "data" not in raw:
        raise InferenceRequestError(f"{where} has no 'data' (nor binary_data_size)")
    return name, datatype, tuple(shape), size, raw.get("data")


def _json_tensor(
    where: str,
    datatype: str,
    shape: tuple[int, ...],
    data: Any,
    charge: Callable[[int], None],
) -> npt.NDArray[Any]:
    if not isinstance(data, list):
        raise InferenceRequestError(f"{where}: 'data' must be a JSON list, not {_show(data)}")
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
        raise InferenceRequestError(f"{where}: element {_show(bad)} is not {wanted} ({datatype})")
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


def _binary_tensor(
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


def _requested_outputs(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InferenceRequestError("'outputs' must be a list of {\"name\": ...} objects")
    names: dict[str, None] = {}
    for index, item in enumerate(raw):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name:
            raise InferenceRequestError(f"outputs[{index}] needs a 'name' (a non-empty string)")
        if name in names:
            raise InferenceRequestError(f"output {name!r} is requested twice")
        names[name] = None
    return tuple(names)


def _encode_output(name: str, value: Any) -> dict[str, Any]:
    where = f"output {name!r}"
    try:
        array = np.asarray(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise OutputEncodingError(
            f"{where} is not a rectangular array of one type ({_show(str(exc))}); "
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
