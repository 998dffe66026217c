"""Runners that override ``predict`` only (or ``load_model`` but not ``save_model``), for the
default save and load by engine (``tests.runner_contract_fixtures``).

No engine library is imported at the top: a test checks that registering a plain object with
these runners imports none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelshelf import Runner

# What LoadsItself.load_model was given: (props, names of the files under artifacts["model"]).
LOADS: list[tuple[Any, list[str]]] = []


class PredictOnly(Runner):
    """``model.predict(data)``: an estimator, or any object with a ``predict`` method."""

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        return model.predict(data)


class TorchPredict(Runner):
    """A torch module (TorchScript or not) on float32 input; plain lists out."""

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        import torch

        with torch.no_grad():
            return model(torch.as_tensor(data, dtype=torch.float32)).tolist()


class OnnxPredict(Runner):
    """An ``onnx.ModelProto`` run with onnxruntime; the first output as plain lists."""

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        import numpy as np
        import onnxruntime

        session = onnxruntime.InferenceSession(
            model.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        feeds = {session.get_inputs()[0].name: np.asarray(data, dtype=np.float32)}
        return session.run(None, feeds)[0].tolist()


class LoadsItself(Runner):
    """Overrides load_model but not save_model: gets ``props=None`` and the saved files."""

    @staticmethod
    def load_model(props: dict[str, str] | None, artifacts: dict[str, Path]) -> Any:
        names = sorted(p.name for p in artifacts["model"].iterdir())
        LOADS.append((props, names))
        return names

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        return model


class Scaler:
    """A plain object, saved as pickle by default."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def predict(self, data: list[float]) -> list[float]:
        return [self.factor * x for x in data]
