"""The runner contract: five static methods that turn stored files back into a working model.

A runner is a subclass of :class:`Runner`. It is recorded in the manifest by import path
(``package.module:ClassName``) and imported again by :func:`~modelshelf.load_model`, so it must
live in an installed, importable module, never in ``__main__`` or inside a function.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, ClassVar

from modelshelf import trust
from modelshelf.errors import InvalidInputError

__all__ = ["Runner", "check_runner", "import_path_of", "load_with", "overrides"]


class Runner:
    """Base class of a model runner: override :meth:`predict`, and more as needed.

    ``save_model`` and ``load_model`` go together: a runner that overrides ``save_model`` must
    override ``load_model`` too (checked at registration). A runner that does not override
    ``save_model`` gets the instance given to ``register_model`` saved by its engine (skops,
    TorchScript or a state_dict, ONNX, pickle: :mod:`modelshelf.models.saved`), and the
    default ``load_model`` loads it back the same way.

    Attributes:
        engine: a short name recorded in the manifest's ``model`` section (``"custom"``).

    Example:
        >>> class Doubler(Runner):
        ...     @staticmethod
        ...     def predict(model: Any, data: Any) -> Any:
        ...         return [2 * x for x in data]
        >>> Doubler.predict(None, [1, 2])
        [2, 4]
    """

    engine: ClassVar[str] = "custom"

    @staticmethod
    def save_model(model: Any, folder: Path) -> dict[str, str]:
        """Write ``model`` as files into ``folder`` (empty, created for you); return its props.

        The props (text keys and values, e.g. ``{"weights": "weights.json"}``) are recorded in
        the manifest and given back to :meth:`load_model`. The files land under ``model/`` in
        the stored version. Not overridden, ``register_model`` saves the instance by its
        engine instead (:mod:`modelshelf.models.saved`) and records no props.
        """
        raise NotImplementedError(
            "this runner does not save model instances itself; register_model saves them by"
            " engine (modelshelf.models.saved)"
        )

    @staticmethod
    def load_model(props: dict[str, str] | None, artifacts: dict[str, Path]) -> Any:
        """The model, from ``props`` and ``artifacts`` (name in the asset -> local path).

        ``props`` is what :meth:`save_model` returned, or ``None`` when it is not overridden.
        ``artifacts["model"]`` is the folder that ``save_model`` wrote (or the instance saved
        by engine). A ``load_model`` that accepts a keyword ``trust`` is given it (``True`` when
        the caller allowed formats that run code when loaded, such as pickle). The default
        loads an instance saved by engine back as it was saved (``load_model`` reads how from
        the model section); without one it returns ``artifacts`` itself, so a runner that
        overrides only :meth:`predict` gets the artifact paths as its model.
        """
        return artifacts

    @staticmethod
    def preprocess_data(data: Any) -> Any:
        """Turn the caller's input into what :meth:`predict` takes; the default passes it on."""
        return data

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        """Run ``model`` on ``data``: the one method every runner must override."""
        raise NotImplementedError("a runner must override predict(model, data)")

    @staticmethod
    def postprocess_data(data: Any) -> Any:
        """Turn the output of :meth:`predict` into what the caller gets; the default passes it."""
        return data


def overrides(runner_cls: type[Runner], method: str) -> bool:
    """True when ``runner_cls`` defines ``method`` itself or inherits it from below Runner."""
    return getattr(runner_cls, method) is not getattr(Runner, method)


def import_path_of(runner_cls: type[Runner]) -> str:
    """``module:QualName`` of a runner class, checked to be importable again by that path.

    Raises:
        InvalidInputError: the class lives in ``__main__`` or inside a function, or its path is
            not made of plain identifiers.
    """
    module, qualname = runner_cls.__module__, runner_cls.__qualname__
    where = f"{module}:{qualname}"
    if module == "__main__" or "<locals>" in qualname:
        place = "in __main__" if module == "__main__" else "inside a function"
        raise InvalidInputError(
            f"the runner {qualname.replace('<locals>.', '')} is defined {place}, so"
            " load_model could not import it again; move it into an importable module"
            " (e.g. my_project/runners.py) and import it from there"
        )
    try:
        trust.check_import_path(where)
    except ValueError as exc:
        raise InvalidInputError(f"the runner cannot be recorded: {exc}") from None
    return where


def check_runner(runner_cls: object) -> type[Runner]:
    """``runner_cls`` if it is a usable Runner subclass, else raise InvalidInputError.

    It must override ``predict``; overriding ``save_model`` needs ``load_model`` too; its
    ``engine`` is short one-line text.
    """
    if not isinstance(runner_cls, type) or not issubclass(runner_cls, Runner):
        raise InvalidInputError(
            f"the runner must be a subclass of modelshelf.Runner, not {trust.show(runner_cls)}"
        )
    name = runner_cls.__qualname__
    if not overrides(runner_cls, "predict"):
        raise InvalidInputError(f"the runner {name} must override predict(model, data)")
    if overrides(runner_cls, "save_model") and not overrides(runner_cls, "load_model"):
        raise InvalidInputError(
            f"the runner {name} overrides save_model but not load_model, so a saved model could"
            " never be loaded; override load_model(props, artifacts) too"
        )
    engine = runner_cls.engine
    if not isinstance(engine, str) or not engine or len(engine) > 64 or not engine.isprintable():
        raise InvalidInputError(
            f"the runner {name} declares engine {trust.show(engine)}; use a short name such as"
            " 'custom'"
        )
    return runner_cls


def load_with(
    runner: type[Runner],
    props: dict[str, str] | None,
    artifacts: dict[str, Path],
    *,
    trust: bool,
) -> Any:
    """``runner.load_model(props, artifacts)``, with ``trust=`` when it takes that keyword."""
    try:
        parameters = inspect.signature(runner.load_model).parameters
    except (TypeError, ValueError):
        parameters = {}  # type: ignore[assignment]
    if "trust" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    ):
        return runner.load_model(props, artifacts, trust=trust)  # type: ignore[call-arg]
    return runner.load_model(props, artifacts)
