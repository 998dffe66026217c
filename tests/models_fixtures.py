"""Pure-Python runners that tests register and load (importable as ``tests.models_fixtures``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelshelf import Runner

# Set by NotARunner-style probes: stays False unless this module's runner code runs.
LOADED_WITH_TRUST: list[bool] = []


class LinearRunner(Runner):
    """A linear model whose weights (a dict) are saved as JSON; input is a list of feature dicts."""

    engine = "linear-json"

    @staticmethod
    def save_model(model: Any, folder: Path) -> dict[str, str]:
        (folder / "weights.json").write_text(json.dumps(model))
        return {"weights": "weights.json"}

    @staticmethod
    def load_model(props: dict[str, str] | None, artifacts: dict[str, Path]) -> Any:
        assert props is not None
        return json.loads((artifacts["model"] / props["weights"]).read_text())

    @staticmethod
    def preprocess_data(data: Any) -> Any:
        return [{k: float(v) for k, v in row.items()} for row in data]

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        return [sum(model.get(k, 0.0) * v for k, v in row.items()) + model["bias"] for row in data]

    @staticmethod
    def postprocess_data(data: Any) -> Any:
        return [round(x, 6) for x in data]


class CheckpointRunner(Runner):
    """Overrides predict only: its model is the artifact mapping (a folder of checkpoints)."""

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        folder: Path = model["ckpt"]
        names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        return {"files": names, "scale": float((folder / "scale.txt").read_text()) * data}


class TrustingRunner(Runner):
    """Records the ``trust`` keyword it is given, as a pickle-based engine would read it."""

    @staticmethod
    def load_model(
        props: dict[str, str] | None, artifacts: dict[str, Path], *, trust: bool = False
    ) -> Any:
        LOADED_WITH_TRUST.append(trust)
        return None

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        return data


class SavesOnly(Runner):
    """Overrides save_model but not load_model: refused at registration."""

    @staticmethod
    def save_model(model: Any, folder: Path) -> dict[str, str]:
        (folder / "m.txt").write_text("x")
        return {}

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        return data


class NotARunner:
    """Has the right methods, but is no Runner subclass."""

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        return data


class BadProps(Runner):
    """save_model returns props that are not text to text."""

    @staticmethod
    def save_model(model: Any, folder: Path) -> dict[str, str]:
        (folder / "m.txt").write_text("x")
        return {"n": 1}  # type: ignore[dict-item]

    @staticmethod
    def load_model(props: dict[str, str] | None, artifacts: dict[str, Path]) -> Any:
        return None

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        return data


class BadEngine(CheckpointRunner):
    """Declares an engine name that is not one short line."""

    engine = "torch\nforged"
