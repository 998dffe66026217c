"""The default save and load of a model instance, for a runner that does not save it itself.

``register_model`` with a ``model_instance`` and a runner that does not override
``save_model`` saves the instance here, by the engine it belongs to, safest format first:

- a scikit-learn estimator or pipeline with skops (``model.skops``);
- a torch ``nn.Module`` as TorchScript (``model.pt``); when ``torch.jit.script`` cannot compile
  it, its ``state_dict`` (``model.pt``, loaded with ``weights_only=True``) and its class path,
  which loading imports by the one rule of :mod:`modelshelf._imports` and builds without
  arguments; a mapping of tensors as a state_dict;
- an ``onnx.ModelProto`` as ``model.onnx``;
- anything else with pickle (``model.pkl``; loading it needs trust).

The engine is told from ``sys.modules``: an instance of a torch, scikit-learn or ONNX class
exists only once that library is imported, so a plain object never imports any of them.
The choice is recorded in the model section (``saved_as``, and ``saved_class`` for a state
dict with its class); loading reads it back (:meth:`SavedInstance.from_section`), refusing any
other value: the section is store input. The files are written and read by the engine modules
(:mod:`modelshelf.models.engines`), one implementation per format.
"""

from __future__ import annotations

import inspect
import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from modelshelf import _imports, trust
from modelshelf.errors import InvalidInputError, RequirementsError, UntrustedStoreDataError

__all__ = ["FILES", "SavedInstance", "engine_distributions", "save_instance"]

logger = logging.getLogger("modelshelf")

FILES = {
    "skops": "model.skops",
    "torchscript": "model.pt",
    "torch-state-dict": "model.pt",
    "onnx": "model.onnx",
    "pickle": "model.pkl",
}
"""Each format a saved instance may be recorded as, and the one file it is saved in."""
MODEL_PATH = "model"
"""The version's folder of the saved files (``register.MODEL_FOLDER``, which imports this)."""

_DISTRIBUTIONS = {
    "skops": ("scikit-learn", "skops"),
    "torchscript": ("torch",),
    "torch-state-dict": ("torch",),
    "onnx": ("onnx",),
    "pickle": (),
}


@dataclass(frozen=True)
class SavedInstance:
    """How a model instance was saved: the format and, for a module's state_dict, its class.

    Attributes:
        saved_as: a key of :data:`FILES`.
        saved_class: ``module:QualName`` of the ``nn.Module`` a ``torch-state-dict`` is loaded
            into; ``None`` for a bare mapping of tensors and every other format.
        model_class: the class ``saved_class`` names, once imported (by ``load_model``).
    """

    saved_as: str
    saved_class: str | None = None
    model_class: type | None = None

    def fields(self) -> dict[str, str]:
        """What the model section records."""
        recorded = {"saved_as": self.saved_as}
        if self.saved_class is not None:
            recorded["saved_class"] = self.saved_class
        return recorded

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> SavedInstance | None:
        """The saved instance a (store-sourced) model section names; ``None`` when none.

        Raises:
            ValueError: an unknown format, or a class path that is malformed or given with a
                format that has none; one line, the values quoted.
        """
        saved_as, saved_class = section.get("saved_as"), section.get("saved_class")
        if saved_as is None and saved_class is None:
            return None
        if saved_as is None:
            raise ValueError("saved_class is given without saved_as")
        if not isinstance(saved_as, str) or saved_as not in FILES:
            raise ValueError(
                f"unknown saved format {trust.show(saved_as)} (this modelshelf knows"
                f" {', '.join(FILES)}); upgrade modelshelf if the version was registered by a"
                " newer one"
            )
        if saved_class is not None:
            if saved_as != "torch-state-dict":
                raise ValueError(f"saved_class is given for the format {saved_as}, which has none")
            try:
                trust.check_import_path(saved_class)
            except ValueError as exc:
                raise ValueError(f"saved_class is refused: {exc}") from None
        return cls(saved_as, saved_class)

    def with_class(
        self, runner_module: str, allowed: frozenset[str], cache_root: Path | None
    ) -> SavedInstance:
        """This, with ``saved_class`` imported by the one rule of :mod:`modelshelf._imports`
        for a store-named path, as a hook of the runner in ``runner_module`` is: from the
        runner's distribution or an ``allowed`` package, never modelshelf nor the standard
        library; and it must be a torch ``nn.Module``.

        Raises:
            ValueError: (an ``ImportRefusedError`` or not) the class is refused; one line.
        """
        if self.saved_class is None:
            return self
        target = _imports.import_object(
            self.saved_class,
            "its saved_class",
            expect="a class",
            from_store=True,
            allowed=allowed,
            runner_module=runner_module,
            cache_root=cache_root,
        )
        torch = sys.modules.get("torch")  # a torch module's class has imported torch
        shown = trust.show(self.saved_class)
        if not (isinstance(target, type) and torch and issubclass(target, torch.nn.Module)):
            raise ValueError(f"its saved_class {shown} is not a torch nn.Module")
        required = _required_arguments(target)
        if required is None or required:
            needs = "arguments it cannot be given" if required is None else ", ".join(required)
            raise ValueError(
                f"its saved_class {shown} needs the constructor arguments {needs}, so the"
                " saved weights cannot be loaded into it; load the version with a runner that"
                " overrides load_model"
            )
        return replace(self, model_class=target)

    def load(self, folder: Path, *, trust: bool = False) -> Any:
        """The instance saved in ``folder`` (the version's ``model/``), loaded as it was saved.

        Raises:
            TrustRequiredError: a pickle without ``trust`` (nothing was unpickled), untrusted
                skops types, or TorchScript beyond plain tensor math.
            UntrustedStoreDataError: the file is missing, cannot be read as its format (one line
                naming it and the cause), or the state_dict does not fit the class.
        """
        label = f"{MODEL_PATH}/{FILES[self.saved_as]}"
        path = folder / FILES[self.saved_as]
        if not path.is_file():
            raise UntrustedStoreDataError(f"the saved model file {label} is not in the version")
        from modelshelf.models.engines._reading import reading

        with reading(label, self.saved_as):  # a file that fails to parse: one refusal
            loaded = self._read(path, trust)
        if self.saved_as != "torch-state-dict" or self.saved_class is None:
            return loaded
        if self.model_class is None:
            raise InvalidInputError(f"the class {self.saved_class} was not imported before loading")
        return _module_with(self.model_class, self.saved_class, loaded)

    def _read(self, path: Path, trust: bool) -> Any:
        """The file as its engine loads it (a state_dict: the mapping, not yet a module)."""
        if self.saved_as == "skops":
            from modelshelf.models.engines import sklearn

            return sklearn.load_file(path, "skops", trust=trust)
        if self.saved_as == "onnx":
            from modelshelf.models.engines import onnx

            return onnx.load_proto(path)
        if self.saved_as == "pickle":
            from modelshelf.models.engines import pickle

            return pickle.load_file(path, trust=trust)
        from modelshelf.models.engines import torch

        if self.saved_as == "torchscript":
            return torch.load_file(path, "torchscript", trust=trust)
        # weights_only: tensors, no code; trust only lifts the archive bounds
        return torch.load_file(path, "state_dict", trust=trust)


def _module_with(cls: type, path: str, state: Any) -> Any:
    """``cls()`` with ``state`` loaded into it, in eval mode."""
    if not isinstance(state, Mapping):
        raise UntrustedStoreDataError(
            f"the saved state_dict for {trust.show(path)} is a {type(state).__name__}, not a"
            " mapping of tensors; the version was tampered with"
        )
    try:
        module = cls()  # an nn.Module whose constructor takes no arguments (with_class)
    except Exception as exc:  # the class's own code failed: name it, in one line
        raise UntrustedStoreDataError(
            f"its saved_class {trust.show(path)} could not be built without arguments"
            f" ({trust.show(f'{type(exc).__name__}: {exc}', 200)}); fix the class, or load"
            " the version with a runner that overrides load_model"
        ) from None
    try:
        module.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, ValueError, AttributeError, KeyError) as exc:
        # torch quotes the file's tensor names: escaped and cut
        reason = trust.show(" ".join(str(exc).split()), 200)
        raise UntrustedStoreDataError(
            f"the saved state_dict does not fit {trust.show(path)} ({reason}); the class changed"
            " since registration, or the version was tampered with"
        ) from None
    module.eval()
    return module


def engine_of(model: Any) -> str:
    """The format :func:`save_instance` chooses for ``model`` (``torchscript`` standing for
    any torch module), importing no library: only the ones already in ``sys.modules`` are
    asked, since an instance of their classes exists only once they are imported."""
    torch = sys.modules.get("torch")
    if torch is not None:
        if isinstance(model, torch.nn.Module):
            return "torchscript"
        if (
            isinstance(model, Mapping)
            and model
            and all(isinstance(v, torch.Tensor) for v in model.values())
        ):
            return "torch-state-dict"
    base = sys.modules.get("sklearn.base")
    if base is not None and isinstance(model, base.BaseEstimator):
        return "skops"
    onnx = sys.modules.get("onnx")
    if onnx is not None and isinstance(model, onnx.ModelProto):
        return "onnx"
    return "pickle"


def engine_distributions(saved: SavedInstance) -> tuple[str, ...]:
    """The distributions loading ``saved`` needs (recorded as requirements)."""
    return _DISTRIBUTIONS[saved.saved_as]


def save_instance(model: Any, folder: Path) -> SavedInstance:
    """Write ``model`` into ``folder`` (empty) by its engine; see the module docstring.

    Raises:
        InvalidInputError: a torch module that neither scripts nor can be rebuilt from its
            state_dict (its class takes arguments, or is not importable by its path).
        RequirementsError: skops is not installed for a scikit-learn model.
    """
    fmt = engine_of(model)
    if fmt == "skops":
        from modelshelf.models.engines import sklearn

        try:
            sklearn.SklearnRunner.save_model(model, folder)
        except ImportError as exc:
            raise RequirementsError(
                f"a scikit-learn model is saved with skops, which is not installed ({exc.name});"
                " pip install skops (or modelshelf[sklearn]), or override save_model"
            ) from None
        return SavedInstance("skops")
    if fmt == "onnx":
        from modelshelf.models.engines import onnx

        onnx.OnnxRunner.save_model(model, folder)
        return SavedInstance("onnx")
    if fmt == "pickle":
        from modelshelf.models.engines import pickle

        pickle.PickleRunner.save_model(model, folder)
        return SavedInstance("pickle")
    from modelshelf.models.engines import torch

    if fmt == "torch-state-dict":
        torch.save_file(dict(model), folder, "state_dict")
        return SavedInstance("torch-state-dict")
    scripted, reason = torch.script(model)
    if scripted is not None:
        torch.save_file(scripted, folder, "torchscript")
        return SavedInstance("torchscript")
    path = _rebuildable(type(model), reason)
    torch.save_file(model.state_dict(), folder, "state_dict")
    logger.warning(
        "torch.jit.script could not compile %s (%s); saved its state_dict, loaded into %s()",
        type(model).__qualname__,
        reason,
        path,
    )
    return SavedInstance("torch-state-dict", path)


def _rebuildable(cls: type, reason: str) -> str:
    """The import path of a module class that loading can build again without arguments."""
    name = cls.__qualname__
    way_out = (
        "override save_model and load_model in the runner, or pass torch.jit.trace(model, example)"
    )
    prefix = f"torch.jit.script could not compile {name} ({reason})"
    module = cls.__module__
    if module == "__main__" or "<" in name:
        raise InvalidInputError(
            f"{prefix}, and its state_dict could not be loaded back: the class is defined in"
            f" {'__main__' if module == '__main__' else 'a function'}; define it in an"
            f" importable module, or {way_out}"
        )
    path = f"{module}:{name}"
    try:
        if any(part.startswith("_") for part in name.split(".")):
            raise ValueError("a store may only name public classes; give it a public name")
        # The rule load_model applies to the object, so nothing is recorded it would refuse.
        path = _imports.recordable_path(cls, "the model class", "a class")
    except ValueError as exc:
        raise InvalidInputError(
            f"{prefix}, and its state_dict could not be loaded back by the class path {path}"
            f" ({exc}); {way_out}"
        ) from None
    required = _required_arguments(cls)
    if required is None:
        raise InvalidInputError(
            f"{prefix}, and its state_dict could not be loaded back: the signature of {name}()"
            f" cannot be read; {way_out}"
        )
    if required:
        raise InvalidInputError(
            f"{prefix}, and its state_dict could not be loaded back: {name}() needs the"
            f" arguments {', '.join(required)}; give them defaults, or {way_out}"
        )
    return path


def _required_arguments(cls: type) -> list[str] | None:
    """The constructor arguments of ``cls`` without a default; ``None`` when its signature
    cannot be read (a class whose constructor is not inspectable cannot be trusted to build)."""
    try:
        parameters = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return None
    return [
        p.name
        for p in parameters
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
