"""Plain model files: load a file or folder no runner was registered for.

``load_model`` comes here for a local path, and for a pulled asset whose manifest has no
``model`` section. :func:`modelshelf.models.detect.detect_format` says which engine the file
holds (reading bytes, never unpickling); the engine module's own ``load_file`` loads it, so there
is one loader per engine. Pickle-based formats (pickle, joblib, a pickled torch module) need
``trust``; the engine loader refuses before it reads the file.

A local path and a spec are told apart by :func:`is_local_path`: an ``os.PathLike``, text that
starts with ``/``, ``./``, ``../``, ``~`` or ``file:``, or text naming something that exists on
disk is a path; anything else is a ``NAME[:VERSION|@ALIAS]`` spec.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlparse

from modelshelf import trust as trust_text
from modelshelf._paths import user_path
from modelshelf.errors import (
    InvalidInputError,
    ModelshelfError,
    RequirementsError,
    UnknownModelFormatError,
)
from modelshelf.models.detect import DetectedFormat
from modelshelf.models.engines.onnx import OnnxRunner
from modelshelf.models.engines.pickle import PickleRunner
from modelshelf.models.engines.sklearn import SklearnJoblibRunner, SklearnRunner
from modelshelf.models.engines.torch import TorchPickleRunner, TorchRunner
from modelshelf.models.runner import Runner

__all__ = [
    "CustomLoaderRunner",
    "SafetensorsRunner",
    "is_local_path",
    "load_detected",
    "local_path",
]

PATH_PREFIXES = ("/", "./", "../", "~", "file:")


class SafetensorsRunner(Runner):
    """Weights alone (a safetensors file, or a torch state_dict): a mapping of tensor name to
    tensor, which cannot predict.

    ``LoadedModel.model`` gives the tensors; ``predict`` raises :class:`InvalidInputError`.
    """

    engine: ClassVar[str] = "safetensors"
    extension: ClassVar[str] = ".safetensors"

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        """Refuse: tensors alone are weights, not a model."""
        raise InvalidInputError(
            "this file holds only tensors (LoadedModel.model is the mapping), not a model to"
            " predict with; build your module, load_state_dict(loaded.model), and call it"
        )


class CustomLoaderRunner(Runner):
    """A model returned by a custom loader: ``predict`` calls ``model.predict(data)``."""

    engine: ClassVar[str] = "custom"

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        """``model.predict(data)``; a model without ``predict`` is refused."""
        method = getattr(model, "predict", None)
        if not callable(method):
            raise InvalidInputError(
                f"the custom loader returned a {type(model).__name__} without a predict method;"
                " call LoadedModel.model yourself"
            )
        return method(data)


RUNNERS: dict[str, type[Runner]] = {
    "pickle": PickleRunner,
    "joblib": SklearnJoblibRunner,
    "skops": SklearnRunner,
    "torch": TorchPickleRunner,
    "torchscript": TorchRunner,
    "safetensors": SafetensorsRunner,
    "onnx": OnnxRunner,
}


def is_local_path(target: object) -> bool:
    """Whether ``load_model``'s first argument names a local file or folder, not a spec."""
    if isinstance(target, os.PathLike):
        return True
    if not isinstance(target, str):
        return False
    if target.startswith(PATH_PREFIXES):
        return True
    try:
        return Path(target).exists()
    except (OSError, ValueError):
        return False


def local_path(target: str | os.PathLike[str]) -> Path:
    """The path ``target`` names: ``file:`` URLs decoded, ``~`` expanded."""
    text = os.fspath(target)
    if text.startswith("file:"):
        parsed = urlparse(text)
        text = unquote(parsed.path)
    return user_path(text, "path")


def load_detected(found: DetectedFormat, *, trust: bool) -> tuple[type[Runner], Any]:
    """The engine runner for ``found`` and the model its engine module's loader returns.

    Raises:
        TrustRequiredError: a pickle-based format without ``trust`` (nothing is read).
        RequirementsError: the engine library is not installed.
    """
    engine, path = found.engine, found.path
    try:
        model = _load(engine, path, trust)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        own = _PACKAGES.get(engine, "")
        package = (
            own if not missing or missing in own.replace("scikit-learn", "sklearn") else missing
        )
        hint = (
            f"pip install {package}"
            if package == own
            else "install the package that provides it (the file refers to its classes)"
        )
        raise RequirementsError(
            f"{path.name} is {engine} ({found.evidence}); loading it needs the module"
            f" {missing or package}: {hint}"
        ) from None
    except ModelshelfError:
        raise
    except Exception as exc:  # the engine's own refusal of a damaged or foreign file
        # the engine's text may quote the file (outside input): one line, escaped and cut
        first = trust_text.show(" ".join(str(exc).split()) or type(exc).__name__, 200)
        raise UnknownModelFormatError(
            str(path),
            f"it looks like {engine} ({found.evidence}), but {engine} could not load it: {first}",
            hint="Check the file",
        ).with_fix(", or load it with {loader}.") from exc
    if engine == "torch" and isinstance(model, Mapping):
        return SafetensorsRunner, model  # a state_dict: weights, loaded without any trust
    return RUNNERS[engine], model


_PACKAGES = {
    "torch": "torch",
    "torchscript": "torch",
    "skops": "skops scikit-learn",
    "joblib": "joblib",
    "onnx": "onnxruntime",
    "safetensors": "safetensors",
}


def _load(engine: str, path: Path, trust: bool) -> Any:
    from modelshelf.models.engines import onnx, pickle, sklearn, torch

    if engine == "pickle":
        return pickle.load_file(path, trust=trust)
    if engine in ("joblib", "skops"):
        return sklearn.load_file(path, engine, trust=trust)
    if engine in ("torch", "torchscript"):
        return torch.load_file(path, "auto" if engine == "torch" else "torchscript", trust=trust)
    if engine == "onnx":
        return onnx.load_file(path)
    if engine == "safetensors":
        return _load_safetensors(path)
    raise InvalidInputError(f"no loader for the detected engine {engine!r}")


def _load_safetensors(path: Path) -> Any:
    """Tensors by name (torch tensors when torch is installed, else numpy arrays), the header
    checked first; needs the ``safetensors`` package (the ``safetensors`` extra)."""
    from modelshelf.models.engines.safetensors import load_file

    return load_file(path)
