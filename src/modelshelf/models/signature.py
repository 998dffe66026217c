"""Model signatures: the names, datatypes and shapes of what a model takes and gives.

A :class:`Signature` is recorded in a version's ``model`` section (key ``signature``) by
``register_model(..., input_example=x)`` and the engine helpers: the inputs are described from
the example (what a caller passes to ``LoadedModel.predict``, before preprocess), the outputs
from one prediction on it (after postprocess); an ONNX graph describes itself
(:func:`modelshelf.models.engines.onnx.onnx_signature`). Datatypes are the Open Inference
Protocol's names (``FP32``, ``INT64``, ``BYTES``, ...); a ``-1`` in a shape is a dimension of any
size (the batch, or a graph's symbolic dimension). This module imports no other of modelshelf's
models modules: the engines and the registration build on it.

A signature read from a manifest is store input: :meth:`Signature.from_dict` parses it strictly
and boundedly (names one line of at most :data:`MAX_NAME` characters, at most
:data:`MAX_TENSORS` per side, datatypes from :data:`DATATYPES`, at most :data:`MAX_DIMS` ints
``>= -1`` per shape, no other keys). Describing values needs numpy; nothing else is imported
at module level, and torch or pandas values are recognised by their type's module, never by
importing those libraries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from modelshelf import trust
from modelshelf.errors import InvalidInputError

__all__ = [
    "DATATYPES",
    "DEFAULT_INPUT",
    "DEFAULT_OUTPUT",
    "MAX_DIMS",
    "MAX_NAME",
    "MAX_TENSORS",
    "Signature",
    "TensorSpec",
    "describe",
    "from_section",
    "named_parts",
]

DATATYPES = (
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
    "BYTES",
)
"""The Open Inference Protocol datatypes a signature may name (those ``serve`` decodes)."""
MAX_TENSORS = 256
"""The most inputs, and the most outputs, one signature may list."""
MAX_NAME = 256
"""The longest tensor name (one line of text)."""
MAX_DIMS = 32
"""The most dimensions of a shape (numpy's own limit; the OIP codec's too)."""
MAX_DIM = 2**53
"""The largest fixed dimension (any real tensor is far smaller; JSON keeps it exact)."""
DEFAULT_INPUT = "input-0"
"""The name of an input described from one unnamed value (an array, a list, text)."""
DEFAULT_OUTPUT = "output-0"
"""The name of an output that is one unnamed value; the OIP face answers it under this name."""

_INTEGERS = frozenset(d for d in DATATYPES if "INT" in d)
_FLOATS = frozenset({"FP16", "FP32", "FP64"})


@dataclass(frozen=True)
class TensorSpec:
    """One named tensor: its OIP datatype and its shape (``-1``: any size)."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """``{"name", "datatype", "shape"}``: the OIP model metadata form."""
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}

    def __str__(self) -> str:
        return f"{self.name} {self.datatype} {list(self.shape)}"


@dataclass(frozen=True)
class Signature:
    """What a model takes (``inputs``) and gives (``outputs``); ``outputs`` may be empty when
    the prediction could not be described as tensors."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form recorded in the manifest's model section."""
        return {
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
        }

    @classmethod
    def from_dict(cls, data: object) -> Signature:
        """Parse a signature from outside (a manifest), strictly and boundedly.

        Raises:
            ValueError: one line saying what is wrong, the value quoted with ``trust.show``.
        """
        if not isinstance(data, dict):
            raise ValueError(f"a signature must be an object, not {trust.show(data)}")
        extra = sorted(set(data) - {"inputs", "outputs"})
        if extra:
            raise ValueError(f"a signature holds the unknown key {trust.show(extra[0])}")
        inputs = _specs(data.get("inputs"), "inputs", least=1)
        outputs = _specs(data.get("outputs", []), "outputs", least=0)
        return cls(inputs, outputs)

    def contradiction(self, given: Sequence[tuple[str, str, tuple[int, ...]]]) -> str | None:
        """Why inputs ``(name, datatype, shape)`` contradict this signature, or ``None``.

        One input against a one-input signature matches whatever its name (the runner gets the
        bare array); otherwise the names must be the signature's, all of them. A datatype
        contradicts when its values would lose their meaning: text for numbers, numbers for
        text, floats for integers, anything else for booleans. Integers for floats, and other
        widths of a kind, pass here; their values are checked when they are cast
        (:func:`modelshelf.models._casting.conform`: a value that does not fit is refused
        there, never wrapped). The rank must be the signature's, and each
        fixed dimension (not ``-1``) its size.
        """
        specs = {t.name: t for t in self.inputs}
        if len(self.inputs) == 1 and len(given) == 1:
            pairs = [(given[0], self.inputs[0])]
        else:
            names = ", ".join(repr(n) for n in specs)
            unknown = [g[0] for g in given if g[0] not in specs]
            if unknown:
                return f"input {trust.show(unknown[0])} is not an input of this model ({names})"
            missing = [n for n in specs if n not in {g[0] for g in given}]
            if missing:
                return f"input {missing[0]!r} is missing; this model takes {names}"
            pairs = [(g, specs[g[0]]) for g in given]
        for (name, datatype, shape), spec in pairs:
            where = f"input {trust.show(name)}"
            if not _casts(datatype, spec.datatype):
                return f"{where}: datatype {datatype} contradicts the model's {spec.datatype}"
            if len(shape) != len(spec.shape):
                return (
                    f"{where}: shape {list(shape)} has rank {len(shape)}, but the model takes"
                    f" rank {len(spec.shape)} ({list(spec.shape)}, -1 is any size)"
                )
            for axis, (size, fixed) in enumerate(zip(shape, spec.shape, strict=True)):
                if fixed != -1 and size != fixed:
                    return (
                        f"{where}: dimension {axis} is {size}, but the model takes"
                        f" {list(spec.shape)} (-1 is any size)"
                    )
        return None


def _shown(value: object) -> str:
    """A JSON value from a manifest, quoted as JSON text (bounded, one line)."""
    try:
        return trust.show(json.dumps(value))
    except (TypeError, ValueError):
        return trust.show(value)


def _casts(given: str, wanted: str) -> bool:
    if given == wanted:
        return True
    if wanted in _FLOATS:
        return given in _FLOATS or given in _INTEGERS
    if wanted in _INTEGERS:
        return given in _INTEGERS
    return False


def _specs(raw: object, what: str, *, least: int) -> tuple[TensorSpec, ...]:
    if not isinstance(raw, list):
        raise ValueError(f"the signature's {what} must be a list, not {trust.show(raw)}")
    if not least <= len(raw) <= MAX_TENSORS:
        raise ValueError(
            f"the signature lists {len(raw)} {what}; {least} to {MAX_TENSORS} are allowed"
        )
    specs: list[TensorSpec] = []
    for index, item in enumerate(raw):
        specs.append(_spec(item, f"{what}[{index}]"))
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"the signature names {what[:-1]} {trust.show(twice)} twice")
    return tuple(specs)


def _spec(item: object, where: str) -> TensorSpec:
    if not isinstance(item, dict):
        raise ValueError(f"signature {where} must be an object, not {trust.show(item)}")
    extra = sorted(set(item) - {"name", "datatype", "shape"})
    if extra:
        raise ValueError(f"signature {where} holds the unknown key {trust.show(extra[0])}")
    name = trust.check_text(item.get("name"), f"signature {where} name", limit=MAX_NAME)
    if not name:
        raise ValueError(f"signature {where} has an empty name")
    datatype = item.get("datatype")
    if not isinstance(datatype, str) or datatype not in DATATYPES:
        raise ValueError(
            f"signature {where} datatype {trust.show(datatype)} is not one of"
            f" {', '.join(DATATYPES)}"
        )
    shape = item.get("shape")
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_DIMS
        or any(type(d) is not int or not -1 <= d <= MAX_DIM for d in shape)
    ):
        raise ValueError(
            f"signature {where} shape {_shown(shape)} must be at most {MAX_DIMS} integers >= -1"
        )
    return TensorSpec(name, datatype, tuple(shape))


# ---- describing values -----------------------------------------------------------------------


def describe(value: Any, default_name: str, *, what: str) -> tuple[TensorSpec, ...]:
    """The tensors of ``value``: a numpy array, a list of numbers, booleans or text, a scalar,
    text or bytes (one tensor ``default_name``), a dict of those (one per key), a pandas
    DataFrame (one per column) or a torch tensor. The first dimension of each is ``-1``.

    Raises:
        InvalidInputError: ``value`` is none of these (``what`` names it in the message).
    """
    parts = named_parts(value)
    if parts is None:
        return (_one(default_name, value, what),)
    if not parts:
        raise InvalidInputError(f"{what} is an empty dict or DataFrame; give at least one tensor")
    if len(parts) > MAX_TENSORS:
        raise InvalidInputError(f"{what} has {len(parts)} tensors, over {MAX_TENSORS}")
    return tuple(_one(_key(k, what), v, what) for k, v in parts)


def named_parts(value: Any) -> list[tuple[object, Any]] | None:
    """The named tensors ``value`` is made of: a mapping's items, a DataFrame's columns (as
    arrays); ``None`` for one unnamed value. The one rule by which a signature describes a
    prediction and the OIP face answers it, so that the names agree."""
    if isinstance(value, Mapping):
        return list(value.items())
    if _is_dataframe(value):
        return [(c, value[c].to_numpy()) for c in list(value.columns)]
    return None


def _key(key: object, what: str) -> str:
    try:
        name = trust.check_text(key, f"{what}: the name {trust.show(key)}", limit=MAX_NAME)
    except ValueError as exc:
        raise InvalidInputError(f"{exc}; names are one line of text") from None
    if not name:
        raise InvalidInputError(f"{what}: a tensor name is empty")
    return name


def _one(name: str, value: Any, what: str) -> TensorSpec:
    np = _numpy(what)
    where = f"{what} {name!r}"
    if _is_torch_tensor(value):
        try:
            value = value.detach().cpu().numpy()
        except (TypeError, RuntimeError) as exc:  # bfloat16 and other dtypes numpy lacks
            raise InvalidInputError(f"{where}: a torch tensor numpy cannot hold ({exc})") from None
    if isinstance(value, str | bytes):
        return TensorSpec(name, "BYTES", ())
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(
            f"{where} is not a rectangular array of one type ({trust.show(str(exc))})"
        ) from None
    if array.ndim > MAX_DIMS:
        raise InvalidInputError(f"{where} has {array.ndim} dimensions, over {MAX_DIMS}")
    if array.size == 0:
        raise InvalidInputError(f"{where} is empty, so its datatype cannot be told; give one row")
    datatype = _datatype(array)
    if datatype == "BYTES" and isinstance(value, list | tuple):
        # numpy turns [1, "a"] into text ('1', 'a'): only a list of text is BYTES
        leaves = np.asarray(value, dtype=object).ravel().tolist()
        if not all(isinstance(x, str | bytes) for x in leaves):
            datatype = None
    if datatype is None:
        raise InvalidInputError(
            f"{where} has dtype {array.dtype} ({type(value).__name__}); give numbers, booleans"
            " or text (a numpy array, a list, a dict of arrays, a DataFrame or a torch tensor)"
        )
    shape = tuple(-1 if axis == 0 else int(size) for axis, size in enumerate(array.shape))
    return TensorSpec(name, datatype, shape)


def _datatype(array: Any) -> str | None:
    kind, bits = array.dtype.kind, array.dtype.itemsize * 8
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return f"{'U' if kind == 'u' else ''}INT{bits}"
    if kind == "f" and bits in (16, 32, 64):
        return f"FP{bits}"
    if kind in "US":
        return "BYTES"
    if kind == "O" and all(isinstance(x, str | bytes) for x in array.ravel().tolist()):
        return "BYTES"
    return None


def _numpy(what: str) -> Any:
    try:
        import numpy
    except ModuleNotFoundError:
        raise InvalidInputError(f"describing {what} needs numpy: pip install numpy") from None
    return numpy


def _is_torch_tensor(value: object) -> bool:
    kind = type(value)
    return kind.__module__.split(".")[0] == "torch" and callable(getattr(value, "detach", None))


def _is_dataframe(value: object) -> bool:
    kind = type(value)
    return (
        kind.__module__.split(".")[0] == "pandas"
        and kind.__name__ == "DataFrame"
        and hasattr(value, "columns")
    )


# ---- a recorded signature --------------------------------------------------------------------


def from_section(recorded: object) -> Signature | None:
    """The signature a model section records (store input: parsed strictly), ``None`` if none.

    Raises:
        ValueError: the recorded signature is malformed; one line saying why.
    """
    return None if recorded is None else Signature.from_dict(recorded)
