"""Plain pickle: any Python object, saved with :mod:`pickle`; loading needs trust."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, ClassVar

from modelshelf.models.engines._common import model_file, require_trust
from modelshelf.models.engines._reading import reading
from modelshelf.models.runner import Runner

__all__ = ["PickleRunner", "load_file"]


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


def load_file(path: Path, *, trust: bool = False) -> Any:
    """Unpickle the file at ``path``, only when ``trust`` is true."""
    require_trust(trust, "a pickle", path)
    with path.open("rb") as source:
        return pickle.load(source)
