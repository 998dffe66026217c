"""Plain pickle: any Python object, saved with :mod:`pickle`; loading needs trust."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from modelshelf.manifest import Manifest
from modelshelf.models.engines._common import (
    identity,
    model_file,
    register_engine_model,
    require_trust,
)
from modelshelf.models.engines._reading import reading
from modelshelf.models.runner import Runner

__all__ = ["PickleRunner", "load_file", "register_pickle_model"]


class PickleRunner(Runner):
    """A pickled object: ``predict`` calls ``model.predict(data)``, or ``model(data)``.

    Loading runs code (pickle can call any function), so it needs ``trust=True``.
    """

    engine: ClassVar[str] = "pickle"
    extension: ClassVar[str] = ".pkl"

    @staticmethod
    def save_model(model: Any, folder: Path) -> dict[str, str]:
        """Write ``model.pkl`` (pickle protocol 5)."""
        name = "model" + PickleRunner.extension
        with (folder / name).open("wb") as out:
            pickle.dump(model, out, protocol=5)
        return {"file": name, "format": "pickle"}

    @staticmethod
    def load_model(
        props: dict[str, str] | None, artifacts: dict[str, Path], *, trust: bool = False
    ) -> Any:
        """Unpickle the file, only when ``trust`` is true."""
        path, _ = model_file(props, artifacts)
        with reading(path.name, "pickle"):
            return load_file(path, trust=trust)

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        """``model.predict(data)`` when it has one, else ``model(data)``."""
        method = getattr(model, "predict", None)
        return method(data) if callable(method) else model(data)


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


def load_file(path: Path, *, trust: bool = False) -> Any:
    """Unpickle the file at ``path``, only when ``trust`` is true."""
    require_trust(trust, "a pickle", path)
    with path.open("rb") as source:
        return pickle.load(source)
