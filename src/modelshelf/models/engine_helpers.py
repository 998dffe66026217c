"""The engine helpers: ``register_torch_model``, ``register_sklearn_model``,
``register_onnx_model`` and ``register_pickle_model``.

Each is :func:`~modelshelf.models.register.register_model` with a built-in runner of
:mod:`modelshelf.models.engines`, that engine's requirements pinned to the installed versions,
and the preprocess and postprocess functions recorded by import path. The engines hold the file
formats and runners; this module sits above both them and ``register``. No engine library is
imported here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from modelshelf import _imports
from modelshelf.errors import InvalidInputError
from modelshelf.manifest import Manifest
from modelshelf.models.engines._common import engine_requirement, identity
from modelshelf.models.engines.onnx import OnnxRunner
from modelshelf.models.engines.pickle import PickleRunner
from modelshelf.models.engines.sklearn import FORMATS, SklearnJoblibRunner, SklearnRunner
from modelshelf.models.engines.torch import TorchPickleRunner, TorchRunner
from modelshelf.models.register import register_model
from modelshelf.models.runner import Runner

__all__ = [
    "function_path",
    "register_engine_model",
    "register_onnx_model",
    "register_pickle_model",
    "register_sklearn_model",
    "register_torch_model",
]


def function_path(function: Callable[[Any], Any], role: str) -> str:
    """``module:qualname`` of a module-level function that imports back to itself.

    Raises:
        InvalidInputError: ``function`` is a lambda, a local function, lives in ``__main__``, or
            its path does not import back to the same object.
    """
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", None)
    if not callable(function) or not isinstance(module, str) or not isinstance(qualname, str):
        raise InvalidInputError(f"{role} must be a module-level function, not {function!r}")
    if module == "__main__" or "<" in qualname:
        kind = "a lambda" if "<lambda>" in qualname else "defined inside a function"
        if module == "__main__":
            kind = "defined in __main__"
        raise InvalidInputError(
            f"{role} {qualname.replace('<locals>.', '')} is {kind}, so load_model could not"
            " import it again; define it at the top level of an importable module (e.g."
            " my_project/processing.py) and pass it from there"
        )
    path = f"{module}:{qualname}"
    if any(part.startswith("_") for part in qualname.split(".")):
        raise InvalidInputError(
            f"{role} {path} has a private name, which load_model refuses from a store; give"
            " the function a public name"
        )
    try:
        # The rule load_model applies, so that nothing is recorded that loading would refuse.
        return _imports.recordable_path(function, role, "a function")
    except _imports.ImportRefusedError as exc:
        raise InvalidInputError(f"{exc.args[0]}; so it cannot be recorded").fix_from(exc) from None


def register_engine_model(
    name: str,
    runner: type[Runner],
    model_instance: Any,
    distributions: Iterable[str],
    preprocess_data: Callable[[Any], Any],
    postprocess_data: Callable[[Any], Any],
    requirements: Iterable[str],
    register_kwargs: Mapping[str, Any],
) -> Manifest:
    """``register_model`` with the engine's requirements and the hooks recorded by path."""
    if isinstance(requirements, str):
        raise InvalidInputError(
            f"requirements must be a list of requirement strings, not the string {requirements!r}"
        )
    for reserved in ("runner_cls", "model_instance", "hooks"):
        if reserved in register_kwargs:
            raise InvalidInputError(f"{reserved} is set by the engine helper; do not pass it")
    hooks: dict[str, str] = {}
    for role, function in (("preprocess", preprocess_data), ("postprocess", postprocess_data)):
        if function is not identity:
            hooks[role] = function_path(function, f"{role}_data")
    reqs = [engine_requirement(d) for d in distributions]
    reqs += [r for r in requirements if r not in reqs]
    return register_model(
        name,
        runner,
        model_instance,
        requirements=reqs,
        hooks=hooks,
        **register_kwargs,
    )


def register_torch_model(
    name: str,
    model_instance: Any,
    preprocess_data: Callable[[Any], Any] = identity,
    postprocess_data: Callable[[Any], Any] = identity,
    requirements: Iterable[str] = (),
    *,
    fmt: str = "torchscript",
    **register_kwargs: Any,
) -> Manifest:
    """Register a torch module as TorchScript (default), so loading it runs no pickle.

    Args:
        name: the asset name.
        model_instance: an ``nn.Module`` (scripted with ``torch.jit.script``), a TorchScript
            module (e.g. from ``torch.jit.trace``), or a state_dict.
        preprocess_data: a module-level function applied to the input (recorded by path).
        postprocess_data: a module-level function applied to the output (recorded by path).
        requirements: PEP 508 requirements besides ``torch==<installed>``.
        fmt: ``"torchscript"`` (default; a state_dict is stored as such) or ``"pickle"``
            (``torch.save`` of the whole module; loading needs ``trust=True``).
        **register_kwargs: ``version``, ``artifacts``, ``metadata``, ``store``, ``progress``,
            ``message``, ``aliases`` of :func:`~modelshelf.register_model` (keywords).
    """
    if fmt not in ("torchscript", "pickle"):
        raise InvalidInputError(f"fmt={fmt!r}: use 'torchscript' (default) or 'pickle'")
    return register_engine_model(
        name,
        TorchRunner if fmt == "torchscript" else TorchPickleRunner,
        model_instance,
        ("torch",),
        preprocess_data,
        postprocess_data,
        requirements,
        register_kwargs,
    )


def register_sklearn_model(
    name: str,
    model_instance: Any,
    preprocess_data: Callable[[Any], Any] = identity,
    postprocess_data: Callable[[Any], Any] = identity,
    requirements: Iterable[str] = (),
    *,
    fmt: str = "skops",
    **register_kwargs: Any,
) -> Manifest:
    """Register a scikit-learn estimator (skops by default; ``fmt="joblib"`` needs trust to load).

    Args:
        name: the asset name.
        model_instance: a fitted estimator or pipeline.
        preprocess_data: a module-level function applied to the input (recorded by path).
        postprocess_data: a module-level function applied to the output (recorded by path).
        requirements: PEP 508 requirements besides ``scikit-learn`` (and ``skops``).
        fmt: ``"skops"`` (default) or ``"joblib"``.
        **register_kwargs: ``version``, ``artifacts``, ``metadata``, ``store``, ``progress``,
            ``message``, ``aliases`` of :func:`~modelshelf.register_model` (keywords).
    """
    if fmt not in FORMATS:
        raise InvalidInputError(f"fmt={fmt!r}: use 'skops' (default) or 'joblib'")
    runner = SklearnRunner if fmt == "skops" else SklearnJoblibRunner
    dists = ("scikit-learn", "skops") if fmt == "skops" else ("scikit-learn", "joblib")
    return register_engine_model(
        name,
        runner,
        model_instance,
        dists,
        preprocess_data,
        postprocess_data,
        requirements,
        register_kwargs,
    )


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


def register_pickle_model(
    name: str,
    model_instance: Any,
    preprocess_data: Callable[[Any], Any] = identity,
    postprocess_data: Callable[[Any], Any] = identity,
    requirements: Iterable[str] = (),
    **register_kwargs: Any,
) -> Manifest:
    """Register ``model_instance`` pickled, with :class:`PickleRunner`.

    Args:
        name: the asset name.
        model_instance: any picklable object with ``predict(data)`` or ``__call__(data)``.
        preprocess_data: a module-level function applied to the input (recorded by path).
        postprocess_data: a module-level function applied to the output (recorded by path).
        requirements: PEP 508 requirements besides the engine's.
        **register_kwargs: ``version``, ``artifacts``, ``metadata``, ``store``, ``progress``,
            ``message``, ``aliases`` of :func:`~modelshelf.register_model` (keywords).
    """
    return register_engine_model(
        name,
        PickleRunner,
        model_instance,
        (),
        preprocess_data,
        postprocess_data,
        requirements,
        register_kwargs,
    )
