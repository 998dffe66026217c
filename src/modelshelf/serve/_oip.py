"""The Open Inference Protocol V2 (REST) infer request and response, as plain data.

Pure codec: numpy, json and the signature's naming rule only, no web framework. The app hands
over the raw body and the ``Inference-Header-Content-Length`` header; this module answers typed
arrays or a clear :class:`InferenceRequestError` (the app's 400), and turns a prediction back
into a response dict. This module owns the request and response around the tensors (the header,
each input's fields, the outputs asked for); each tensor's data is decoded and encoded by
:mod:`modelshelf.serve._tensors`.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy.typing as npt

from modelshelf._bounds import NonFiniteError, loads_json
from modelshelf.models.signature import DEFAULT_OUTPUT, MAX_DIMS, named_parts
from modelshelf.serve._cost import BYTES_ELEMENT, json_cost
from modelshelf.serve._tensors import (
    DATATYPES,
    InferenceRequestError,
    OutputEncodingError,
    binary_tensor,
    brief,
    encode_output,
    json_tensor,
)

__all__ = [
    "InferInput",
    "InferRequest",
    "infer_response",
    "parse_infer_request",
    "runner_input",
]

_SUPPORTED = ", ".join(DATATYPES)


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
        raise InferenceRequestError(f"'id' must be a string, not {brief(request_id)}")
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
            array = json_tensor(where, datatype, shape, data, charge)
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
            array = binary_tensor(where, datatype, shape, binary[offset : offset + size])
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
                f"the prediction is a dict with non-string keys {brief(bad_keys)}; "
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
    response["outputs"] = [encode_output(name, value) for name, value in tensors.items()]
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
        raise InferenceRequestError(f"{what} is not valid UTF-8 JSON: {brief(str(exc))}") from None
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
            f"{where}: datatype {brief(datatype)} is not supported; use one of {_SUPPORTED}"
        )
    shape = raw.get("shape")
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_DIMS
        or any(type(dim) is not int or dim < 0 for dim in shape)
    ):
        raise InferenceRequestError(
            f"{where}: shape {brief(shape)} must be at most {MAX_DIMS} non-negative integers"
        )
    # Zero-sized dims hold no data but still size the array numpy builds: bound the rest too.
    if math.prod(max(dim, 1) for dim in shape) > max_elements:
        raise InferenceRequestError(
            f"{where}: shape {brief(shape)} holds more than the limit of {max_elements} elements"
        )
    params = raw.get("parameters", {})
    if not isinstance(params, dict):
        raise InferenceRequestError(f"{where}: 'parameters' must be a JSON object")
    if any(key.startswith("shared_memory") for key in params):
        raise InferenceRequestError(f"{where}: shared memory is not supported; send the data")
    size = params.get("binary_data_size")
    if size is not None and (type(size) is not int or size < 0):
        raise InferenceRequestError(
            f"{where}: binary_data_size must be a non-negative integer, not {brief(size)}"
        )
    if size is not None and "data" in raw:
        raise InferenceRequestError(f"{where} has both 'data' and binary_data_size; send one")
    if size is None and "data" not in raw:
        raise InferenceRequestError(f"{where} has no 'data' (nor binary_data_size)")
    return name, datatype, tuple(shape), size, raw.get("data")


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
