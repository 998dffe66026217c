"""The signature ``register_model`` records: from the input example and one prediction on it,
or from an ONNX graph.

The prediction runs as ``LoadedModel.predict`` would run it: the recorded preprocess hook (or
the runner's ``preprocess_data``), the runner's ``predict``, the postprocess hook (or
``postprocess_data``). Its model is the instance itself when the runner leaves ``load_model``
to modelshelf (what is saved is what loads), else what the runner's ``load_model`` makes of the
files just saved and the artifacts given (our own files: loaded with trust). Nothing is pushed
when the prediction fails: the example or the runner is wrong, and the caller is told which.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

from modelshelf import _imports, trust
from modelshelf.errors import InvalidInputError
from modelshelf.models.engines.onnx import new_session, onnx_signature, takes_graph_signature
from modelshelf.models.runner import Runner, load_with, overrides
from modelshelf.models.signature import DEFAULT_INPUT, DEFAULT_OUTPUT, Signature, describe

__all__ = ["signature_section"]

_ROLES = ("preprocess", "postprocess")


def signature_section(
    runner: type[Runner],
    model_instance: Any,
    example: Any,
    *,
    props: dict[str, str] | None,
    artifacts: Mapping[str | os.PathLike[str], str],
    model_folder: Path,
    hooks: Mapping[str, str],
) -> dict[str, Any]:
    """``{"signature": {...}}`` for the model section, or ``{}`` when there is nothing to
    describe (no example, and no ONNX graph that speaks for the runner).

    Raises:
        InvalidInputError: the example cannot be described, or the prediction on it failed.
    """
    if takes_graph_signature(runner, hooks) and model_instance is not None:
        graph = _graph_of(model_instance)
        if graph is not None:
            return {"signature": graph.to_dict()}
    if example is None:
        return {}
    inputs = describe(example, DEFAULT_INPUT, what="input_example")
    pre, post = (_hook(hooks.get(role), role) for role in _ROLES)
    if model_instance is not None and not overrides(runner, "load_model"):
        model = model_instance
    else:
        model = load_with(runner, props, _local_artifacts(artifacts, model_folder), trust=True)
    stage = "preprocess"
    try:
        prepared = (pre or runner.preprocess_data)(example)
        stage = "predict"
        output = runner.predict(model, prepared)
        stage = "postprocess"
        output = (post or runner.postprocess_data)(output)
    except Exception as exc:
        raise InvalidInputError(
            f"input_example: one prediction on it failed in {stage} ({type(exc).__name__}:"
            f" {trust.show(str(exc), 200)}); give an example the model takes, as"
            " LoadedModel.predict would get it. Nothing was pushed"
        ) from exc
    try:
        outputs = describe(output, DEFAULT_OUTPUT, what="the prediction")
    except InvalidInputError as exc:
        warnings.warn(
            f"the outputs are left out of the signature: {exc}", UserWarning, stacklevel=4
        )
        outputs = ()
    return {"signature": Signature(inputs, outputs).to_dict()}


def _graph_of(model: Any) -> Signature | None:
    """The signature of an ONNX model given as a session, a ``ModelProto`` or its bytes."""
    if callable(getattr(model, "get_inputs", None)):
        return onnx_signature(model)
    if isinstance(model, bytes | bytearray | memoryview):
        data = bytes(model)
    elif callable(getattr(model, "SerializeToString", None)):
        data = model.SerializeToString()
    else:
        return None
    try:
        import onnxruntime  # noqa: F401 - only whether it is installed
    except ModuleNotFoundError:
        return None  # loading needs it anyway (a requirement); described when an example is
    return onnx_signature(new_session(data))


def _hook(path: str | None, role: str) -> Callable[[Any], Any] | None:
    if path is None:
        return None
    try:
        function = _imports.import_object(path, role, expect="a function", from_store=False)
    except _imports.ImportRefusedError as exc:
        raise InvalidInputError(f"the {role} function cannot run the example: {exc}") from None
    if not callable(function):
        raise InvalidInputError(f"the {role} {trust.show(path)} is not a function")
    return cast("Callable[[Any], Any]", function)


def _local_artifacts(
    artifacts: Mapping[str | os.PathLike[str], str], model_folder: Path
) -> dict[str, Path]:
    """``{name in the asset: local path}``, as ``load_model`` gives them from a snapshot."""
    found: dict[str, Path] = {}
    for local, target in artifacts.items():
        text = os.fspath(local)
        found[str(target).rstrip("/")] = Path(text[:-2] if text.endswith("/*") else text)
    found.setdefault("model", model_folder)
    return found
