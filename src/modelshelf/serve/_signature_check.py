"""An OIP infer request against the served version's signature: refused or cast, before queueing.

A request whose inputs contradict the signature (names, a change of kind, the rank, a fixed
size: :meth:`Signature.contradiction`) is refused. What passes is cast once, here, to the
signature's datatypes by :func:`modelshelf.models._casting.conform`, which refuses a value that
does not fit (an INT64 beyond INT32's range, a negative for UINT8, a float that would overflow
FP16) instead of wrapping it. The runner then receives exactly the datatypes the model's
metadata lists. Both refusals are :class:`InferenceRequestError` (the app's 400) naming the
input. BYTES stay as sent (``str`` from JSON, ``bytes`` from binary): a runner that takes text
decodes them (the ONNX runner does, for string inputs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from modelshelf import trust
from modelshelf.errors import InvalidInputError
from modelshelf.models._casting import NUMPY_TYPES, conform
from modelshelf.models.signature import Signature
from modelshelf.serve._oip import InferInput, InferRequest
from modelshelf.serve._tensors import InferenceRequestError

__all__ = ["checked"]


def checked(
    request: InferRequest,
    signature: Signature | None,
    charge: Callable[[int], None],
    model_name: str,
) -> InferRequest:
    """``request`` with each input cast to the signature's datatype (as it is without one).

    Args:
        request: the decoded request.
        signature: the active version's signature, or ``None``.
        charge: told the bytes of each copy a cast makes, before it makes it.
        model_name: named in the refusal (``see GET /v2/models/NAME``).

    Raises:
        InferenceRequestError: an input contradicts the signature, or a value does not fit
            its datatype; the message names the input.
    """
    if signature is None:
        return request
    given = [(t.name, t.datatype, t.shape) for t in request.inputs]
    why = signature.contradiction(given)
    if why is not None:
        raise InferenceRequestError(f"{why}; see GET /v2/models/{model_name} for its inputs")
    if len(signature.inputs) == 1 and len(request.inputs) == 1:
        specs = [signature.inputs[0]]
    else:
        by_name = {spec.name: spec for spec in signature.inputs}
        specs = [by_name[t.name] for t in request.inputs]
    inputs: list[InferInput] = []
    for tensor, spec in zip(request.inputs, specs, strict=True):
        if spec.datatype == tensor.datatype or spec.datatype == "BYTES":
            inputs.append(tensor)
            continue
        charge(tensor.data.size * _itemsize(spec.datatype))
        try:
            data = conform(tensor.data, spec.datatype, f"input {trust.show(tensor.name)}")
        except InvalidInputError as exc:
            raise InferenceRequestError(str(exc)) from None
        inputs.append(dataclasses.replace(tensor, datatype=spec.datatype, data=data))
    return dataclasses.replace(request, inputs=tuple(inputs))


def _itemsize(datatype: str) -> int:
    return int(np.dtype(NUMPY_TYPES[datatype]).itemsize)
