"""ONNX: the serialized graph, run with onnxruntime on the CPU."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from modelshelf import trust
from modelshelf.errors import InvalidInputError
from modelshelf.manifest import Manifest
from modelshelf.models.engines._common import identity, model_file, register_engine_model
from modelshelf.models.engines._reading import reading
from modelshelf.models.runner import Runner

__all__ = ["OnnxRunner", "load_file", "load_proto", "register_onnx_model"]

_DTYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(bool)": "bool",
}


class OnnxRunner(Runner):
    """An ONNX graph run by ``onnxruntime.InferenceSession`` (CPUExecutionProvider).

    ``predict`` takes a mapping ``{input name: array}``, or one array when the graph has one
    input (cast to the input's element type). It returns the output array when the graph has one
    output, else ``{output name: array}``.
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
        """Feed ``data`` by input name and run the session."""
        import numpy as np

        inputs = model.get_inputs()
        if isinstance(data, dict):
            feeds = dict(data)
        elif len(inputs) == 1:
            feeds = {inputs[0].name: data}
        else:
            # the names are the graph's (outside input): escaped and cut
            names = ", ".join(trust.escape_controls(i.name)[:100] for i in inputs[:10])
            raise InvalidInputError(f"this graph has inputs {names}: pass {{name: array}}")
        types = {i.name: _DTYPES.get(i.type) for i in inputs}
        feeds = {k: np.asarray(v, dtype=types.get(k)) for k, v in feeds.items()}
        outputs = model.run(None, feeds)
        if len(outputs) == 1:
            return outputs[0]
        return {o.name: value for o, value in zip(model.get_outputs(), outputs, strict=True)}


def register_onnx_model(
    name: str,
    model_instance: Any,
    preprocess_data: Callable[[Any], Any] = identity,
    postprocess_data: Callable[[Any], Any] = identity,
    requirements: Iterable[str] = (),
    **register_kwargs: Any,
) -> Manifest:
    """Register an ONNX graph (``onnx.ModelProto`` or its bytes), run with onnxruntime.

    Args:
        name: the asset name.
        model_instance: an ``onnx.ModelProto`` or the serialized bytes.
        preprocess_data: a module-level function applied to the input (recorded by path).
        postprocess_data: a module-level function applied to the output (recorded by path).
        requirements: PEP 508 requirements besides ``onnxruntime``.
        **register_kwargs: ``version``, ``artifacts``, ``metadata``, ``store``, ``progress``,
            ``message``, ``aliases`` of :func:`~modelshelf.register_model` (keywords).
    """
    return register_engine_model(
        name,
        OnnxRunner,
        model_instance,
        ("onnxruntime",),
        preprocess_data,
        postprocess_data,
        requirements,
        register_kwargs,
    )


def load_file(path: Path) -> Any:
    """An ``onnxruntime.InferenceSession`` on the CPU for the ONNX file at ``path``."""
    import onnxruntime

    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def load_proto(path: Path) -> Any:
    """The ``onnx.ModelProto`` in the file at ``path``, as it was saved.

    External data is not followed: a graph saved by modelshelf holds its weights, and a path
    inside a stored graph (outside input) must not make us read another file.
    """
    import onnx

    return onnx.load(str(path), load_external_data=False)
