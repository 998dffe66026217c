"""Runners that the serve tests register and the server process imports (``tests.serve.runners``).

Each saves its settings as props (a file is written too: a version holds at least one file), so
one registration fixes what a served version does: its factor, where it logs its calls, where
its gate file lies.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from modelshelf import Runner

GATE_WAIT_S = 120.0  # a gate that never opens fails the request instead of hanging the server


def _save(settings: dict[str, str], folder: Path) -> dict[str, str]:
    (folder / "settings.json").write_text(json.dumps(settings))
    return dict(settings)


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + GATE_WAIT_S
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate {path} never opened")
        time.sleep(0.01)


class ScaleRunner(Runner):
    """Multiplies numbers by the factor in its props: the output tells which version answered.

    Takes a number, a (nested) list of numbers or an array; answers plain lists/floats.
    """

    engine = "scale"

    @staticmethod
    def save_model(model: Any, folder: Path) -> dict[str, str]:
        return _save({"factor": str(model["factor"])}, folder)

    @staticmethod
    def load_model(props: dict[str, str] | None, artifacts: dict[str, Path]) -> Any:
        assert props is not None
        return float(props["factor"])

    @staticmethod
    def preprocess_data(data: Any) -> Any:
        return np.asarray(data, dtype=np.float64)

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        return data * model

    @staticmethod
    def postprocess_data(data: Any) -> Any:
        return data.tolist()


class OipRunner(Runner):
    """For the OIP clients: keeps dtypes, takes several inputs, and BYTES.

    - one numeric tensor -> that tensor times ``factor``, same dtype and shape;
    - several inputs ``{"a", "b"}`` -> ``{"sum": a + b, "product": a * b}``;
    - one BYTES tensor -> ``{"length": INT64 lengths, "upper": the text upper-cased}``.
    """

    engine = "oip-test"

    @staticmethod
    def save_model(model: Any, folder: Path) -> dict[str, str]:
        return _save({"factor": str(model["factor"])}, folder)

    @staticmethod
    def load_model(props: dict[str, str] | None, artifacts: dict[str, Path]) -> Any:
        assert props is not None
        return int(props["factor"])

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        if isinstance(data, dict):
            a, b = np.asarray(data["a"]), np.asarray(data["b"])
            return {"sum": a + b, "product": a * b}
        arr = np.asarray(data)
        if arr.dtype == object:
            texts = [v.decode() if isinstance(v, bytes) else str(v) for v in arr.ravel()]
            return {
                "length": np.array([len(t) for t in texts], dtype=np.int64).reshape(arr.shape),
                "upper": np.array([t.upper() for t in texts], dtype=object).reshape(arr.shape),
            }
        return arr * arr.dtype.type(model)


class JsonRunner(Runner):
    """For our JSON face: numbers times ``factor``, with words that make it misbehave.

    ``"boom"`` raises RuntimeError (a runner fault: 500); ``"block"`` waits for the file
    ``<dir>/gate`` after creating ``<dir>/started``; ``"pid"`` answers the worker's process id;
    a string or an object where a number belongs raises ValueError/TypeError (rejected: 400).
    A list body maps each element.
    """

    engine = "json-test"

    @staticmethod
    def save_model(model: Any, folder: Path) -> dict[str, str]:
        return _save({"factor": str(model["factor"]), "dir": str(model["dir"])}, folder)

    @staticmethod
    def load_model(props: dict[str, str] | None, artifacts: dict[str, Path]) -> Any:
        assert props is not None
        return {"factor": float(props["factor"]), "dir": Path(props["dir"])}

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        if data == "boom":
            raise RuntimeError("boom: the test runner fails on purpose")
        if data == "block":
            (model["dir"] / "started").touch()
            _wait_for(model["dir"] / "gate")
            return "unblocked"
        if data == "pid":
            return os.getpid()
        if isinstance(data, list):
            return [JsonRunner._one(model, v) for v in data]
        return JsonRunner._one(model, data)

    @staticmethod
    def _one(model: Any, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError(f"expected a number, got the text {value!r}")
        return value * model["factor"]  # TypeError for an object: rejected input


class PoisonRunner(Runner):
    """Doubles a list of numbers; fails a whole call that holds the marker -1.

    Every call of ``predict`` is logged as one JSON line ``{"rows", "poisoned"}`` to the file
    in its props, so a test can see that a merged batch held the poison and was retried.
    """

    engine = "poison-test"
    MARKER = -1

    @staticmethod
    def save_model(model: Any, folder: Path) -> dict[str, str]:
        return _save({"log": str(model["log"])}, folder)

    @staticmethod
    def load_model(props: dict[str, str] | None, artifacts: dict[str, Path]) -> Any:
        assert props is not None
        return Path(props["log"])

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        rows = list(data)
        poisoned = PoisonRunner.MARKER in rows
        with model.open("a") as log:
            log.write(json.dumps({"rows": len(rows), "poisoned": poisoned}) + "\n")
        if poisoned:
            raise RuntimeError("poisoned row in this call")
        return [2 * v for v in rows]


class SlowLoadRunner(Runner):
    """Its load_model creates ``<dir>/loading`` and waits for ``<dir>/loaded``; echoes data."""

    engine = "slow-load-test"

    @staticmethod
    def save_model(model: Any, folder: Path) -> dict[str, str]:
        return _save({"dir": str(model["dir"])}, folder)

    @staticmethod
    def load_model(props: dict[str, str] | None, artifacts: dict[str, Path]) -> Any:
        assert props is not None
        folder = Path(props["dir"])
        (folder / "loading").touch()
        _wait_for(folder / "loaded")
        return None

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        return data


class BrokenLoadRunner(Runner):
    """A version that cannot load: its load_model raises with a recognisable message."""

    engine = "broken-test"
    MESSAGE = "this test version refuses to load"

    @staticmethod
    def save_model(model: Any, folder: Path) -> dict[str, str]:
        return _save({}, folder)

    @staticmethod
    def load_model(props: dict[str, str] | None, artifacts: dict[str, Path]) -> Any:
        raise RuntimeError(BrokenLoadRunner.MESSAGE)

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        return data
