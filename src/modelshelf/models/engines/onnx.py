"""ONNX: the serialized graph, run with onnxruntime on the CPU, and the signature it declares.

The graph's element types map to the Open Inference Protocol's datatypes (:data:`ONNX_TYPES`):
the runner casts each input to its type, and :func:`onnx_signature` describes a session with
them. No engine library is imported at module level.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from modelshelf import trust
from modelshelf.errors import InvalidInputError
from modelshelf.models._casting import conform
from modelshelf.models.engines._common import model_file
from modelshelf.models.engines._reading import reading
from modelshelf.models.runner import Runner, overrides
from modelshelf.models.signature import Signature, TensorSpec

__all__ = [
    "ONNX_TYPES",
    "OnnxRunner",
    "load_file",
    "load_proto",
    "new_session",
    "onnx_signature",
    "takes_graph_signature",
]

ONNX_TYPES = {
    "tensor(bool)": "BOOL",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(float16)": "FP16",
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(string)": "BYTES",
}
"""A graph's element type (as onnxruntime names it) -> its Open Inference Protocol datatype."""

LOG_SEVERITY = 3
"""onnxruntime logs errors only (3: ERROR) for modelshelf: its warnings quote the graph's names
(store text) raw on fd 2, beyond any escaping (``Removing initializer '<name>'``)."""


def _graph_names(inputs: Mapping[str, Any]) -> str:
    """The graph's input names for a message: they come from the file (outside input), so each
    is escaped and cut, and at most ten are listed."""
    return ", ".join(trust.show(name, 100) for name in list(inputs)[:10])


class OnnxRunner(Runner):
    """An ONNX graph run by ``onnxruntime.InferenceSession`` (CPUExecutionProvider).

    ``predict`` takes a mapping ``{input name: array}``, or one array when the graph has one
    input. Each input is cast once to its element type by :func:`~modelshelf.models._casting.
    conform`: a value that does not fit (an integer out of range, a fraction for an integer,
    bytes that are not UTF-8 for a string input) is an :class:`InvalidInputError` naming the
    input, never a silent wrap. It returns the output array when the graph has one output, else
    ``{output name: array}``.
    """

    engine: ClassVar[str] = "onnx"
    extension: ClassVar[str] = ".onnx"

    @staticmethod
    def save_model(model: Any, folder: Path) -> dict[str, str]:
        """Write ``model.onnx`` from bytes or an ``onnx.ModelProto``."""
        if isinstance(model, bytes | bytearray | memoryview):
            data = bytes(model)
        elif callable(getattr(model, "SerializeToString", None)):
            data = model.SerializeToString()
        else:
            raise InvalidInputError(
                f"an ONNX model must be an onnx.ModelProto or bytes, not {type(model).__name__}"
            )
        name = "model" + OnnxRunner.extension
        (folder / name).write_bytes(data)
        return {"file": name, "format": "onnx"}

    @staticmethod
    def load_model(props: dict[str, str] | None, artifacts: dict[str, Path]) -> Any:
        """An ``onnxruntime.InferenceSession`` on the CPU."""
        path, _ = model_file(props, artifacts)
        with reading(path.name, "onnx"):
            return load_file(path)

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        """Feed ``data`` by input name, each cast to the graph's type, and run the session."""
        inputs = {i.name: i for i in model.get_inputs()}
        if isinstance(data, Mapping):
            unknown = [k for k in data if k not in inputs]
            missing = [k for k in inputs if k not in data]
            if unknown or missing:
                names = _graph_names(inputs)
                what = (
                    f"{trust.show(unknown[0])} is not an input"
                    if unknown
                    else f"input {missing[0]!r} is missing"
                )
                raise InvalidInputError(f"{what}; this graph takes {names}")
            feeds = dict(data)
        elif len(inputs) == 1:
            feeds = {next(iter(inputs)): data}
        else:
            names = _graph_names(inputs)
            raise InvalidInputError(f"this graph has inputs {names}: pass {{name: array}}")
        feeds = {k: _fed(v, inputs[k]) for k, v in feeds.items()}
        try:
            outputs = model.run(None, feeds)
        except Exception as exc:
            # onnxruntime's INVALID_ARGUMENT is about the feeds (a rank, a size): the caller's
            if type(exc).__name__ != "InvalidArgument":
                raise
            raise InvalidInputError(
                f"the graph refused the input: {trust.show(str(exc), 300)}"
            ) from None
        if len(outputs) == 1:
            return outputs[0]
        return {o.name: value for o, value in zip(model.get_outputs(), outputs, strict=True)}


def _fed(value: Any, arg: Any) -> Any:
    """``value`` cast once to the element type of the graph input ``arg``, every value kept
    (a type a signature cannot name is left to onnxruntime)."""
    datatype = ONNX_TYPES.get(str(arg.type))
    if datatype is None:
        return value
    return conform(value, datatype, f"input {trust.show(arg.name)}")


def load_file(path: Path) -> Any:
    """An ``onnxruntime.InferenceSession`` on the CPU for the ONNX file at ``path``."""
    return new_session(str(path))


def new_session(source: str | bytes) -> Any:
    """The one way modelshelf makes an ``onnxruntime.InferenceSession`` (CPU), from a file
    name or a serialized graph: with :data:`LOG_SEVERITY`, on the session and on onnxruntime's
    default logger (which logs before a session has options)."""
    import onnxruntime

    onnxruntime.set_default_logger_severity(LOG_SEVERITY)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = LOG_SEVERITY
    return onnxruntime.InferenceSession(
        source, sess_options=options, providers=["CPUExecutionProvider"]
    )


def load_proto(path: Path) -> Any:
    """The ``onnx.ModelProto`` in the file at ``path``, as it was saved.

    External data is not followed: a graph saved by modelshelf holds its weights, and a path
    inside a stored graph (outside input) must not make us read another file.
    """
    import onnx

    return onnx.load(str(path), load_external_data=False)


# ---- the signature a graph declares -----------------------------------------------------------


def onnx_signature(session: Any) -> Signature | None:
    """The signature an ``onnxruntime.InferenceSession`` declares (its graph's inputs, without
    initializers, and outputs; symbolic dimensions are ``-1``), or ``None`` when the graph uses
    a type or name a signature cannot hold (sequences, maps, bfloat16, ...)."""
    try:
        inputs = _graph_specs(session.get_inputs())
        outputs = _graph_specs(session.get_outputs())
        return Signature.from_dict(
            {"inputs": [t.to_dict() for t in inputs], "outputs": [t.to_dict() for t in outputs]}
        )
    except ValueError:
        return None


def _graph_specs(args: Iterable[Any]) -> list[TensorSpec]:
    specs = []
    for arg in args:
        datatype = ONNX_TYPES.get(str(arg.type))
        if datatype is None:
            raise ValueError(f"ONNX type {arg.type} has no OIP datatype")
        shape = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in (arg.shape or []))
        specs.append(TensorSpec(str(arg.name), datatype, shape))
    return specs


def takes_graph_signature(runner: type[Runner], hooks: Mapping[str, str] | None) -> bool:
    """Whether the ONNX graph describes what a caller sends and gets: the built-in ONNX
    runner's ``predict``, with no preprocess or postprocess in between."""
    return (
        runner.predict is OnnxRunner.predict
        and not overrides(runner, "preprocess_data")
        and not overrides(runner, "postprocess_data")
        and not any((hooks or {}).get(role) for role in ("preprocess", "postprocess"))
    )
