"""Engine load times: ``load_model`` on a cold cache to the first prediction, per engine,
beside the engine's own load of the same file from a local folder, in the same run.

Run from the project root (needs the engine extras, e.g. ``make venv``)::

    .venv/bin/python -m benchmarks.engines [--repeat 5]

The store is a local folder (``file://``), so the cold-cache figure is modelshelf's own work
(resolve, copy and verify into the cache, requirement check, runner import) plus the engine's
load. Prints one Markdown table; the median of ``--repeat`` runs, each with a fresh cache.
"""

from __future__ import annotations

import argparse
import pickle
import shutil
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import modelshelf
from modelshelf import Shelf, load_model


class Affine:
    """A plain picklable model: ``x @ w + b`` with numpy arrays."""

    def __init__(self, w: Any, b: Any) -> None:
        self.w, self.b = w, b

    def predict(self, x: Any) -> Any:
        return x @ self.w + self.b


def _mlp() -> Any:
    import torch

    torch.manual_seed(0)
    layers: list[Any] = []
    for _ in range(3):
        layers += [torch.nn.Linear(256, 256), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers).eval()


def _onnx_of(module: Any) -> Any:
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, last = [], [], "x"
    for i, layer in enumerate(m for m in module if hasattr(m, "weight")):
        inits += [
            numpy_helper.from_array(layer.weight.detach().numpy(), f"w{i}"),
            numpy_helper.from_array(layer.bias.detach().numpy(), f"b{i}"),
        ]
        nodes += [
            helper.make_node("Gemm", [last, f"w{i}", f"b{i}"], [f"h{i}"], transB=1),
            helper.make_node("Relu", [f"h{i}"], [f"y{i}"]),
        ]
        last = f"y{i}"
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 256])],
        [helper.make_tensor_value_info(last, TensorProto.FLOAT, [None, 256])],
        initializer=inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _native_loaders() -> dict[str, Callable[[Path], Any]]:
    import onnxruntime
    import skops.io
    import torch

    def torch_load(path: Path) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(path), map_location="cpu")

    def pickle_load(path: Path) -> Any:
        with path.open("rb") as f:
            return pickle.load(f)

    return {
        "torch": torch_load,
        "sklearn": lambda p: skops.io.load(p, trusted=skops.io.get_untrusted_types(file=p)),
        "onnx": lambda p: onnxruntime.InferenceSession(str(p), providers=["CPUExecutionProvider"]),
        "pickle": pickle_load,
    }


def _native_predict(engine: str, model: Any, x: Any) -> Any:
    if engine == "torch":
        import torch

        with torch.no_grad():
            return model(torch.as_tensor(x))
    if engine == "onnx":
        return model.run(None, {"x": x})[0]
    return model.predict(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 256)).astype(np.float32)
    labels = (x[:, 0] > 0).astype(int)
    mlp = _mlp()
    models: dict[str, tuple[Callable[..., Any], Any]] = {
        "torch": (modelshelf.register_torch_model, mlp),
        "sklearn": (
            modelshelf.register_sklearn_model,
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, labels),
        ),
        "onnx": (modelshelf.register_onnx_model, _onnx_of(mlp)),
        "pickle": (
            modelshelf.register_pickle_model,
            Affine(rng.normal(size=(256, 256)).astype(np.float32), np.zeros(256, np.float32)),
        ),
    }
    loaders = _native_loaders()
    rows = []
    with tempfile.TemporaryDirectory(prefix="modelshelf-bench-engines-") as tmp:
        root = Path(tmp)
        url = (root / "store").as_uri()
        writer = Shelf(url, cache_dir=root / "writer")
        for engine, (register, model) in models.items():
            manifest = register(f"bench/{engine}", model, store=writer)
            stored = root / f"local-{engine}"
            stored.mkdir()
            source = writer.pull(f"bench/{engine}:{manifest.version}") / "model"
            (path,) = [shutil.copy(f, stored) for f in source.iterdir()]
            cold, native = [], []
            for i in range(args.repeat):
                shelf = Shelf(url, cache_dir=root / f"cold-{engine}-{i}")
                start = time.perf_counter()
                loaded = load_model(f"bench/{engine}", store=shelf, trust=True, progress=False)
                first = loaded.predict(x)
                cold.append(time.perf_counter() - start)
                start = time.perf_counter()
                own = _native_predict(engine, loaders[engine](Path(path)), x)
                native.append(time.perf_counter() - start)
            assert np.allclose(np.asarray(first), np.asarray(own), atol=1e-5), engine
            rows.append((engine, manifest.size, statistics.median(cold), statistics.median(native)))
    print(
        "| engine | stored asset | load_model, cold cache -> 1st prediction | engine's own"
        " load + 1st prediction (local file) | difference |"
    )
    print("|---|---:|---:|---:|---:|")
    for engine, size, cold_s, native_s in rows:
        cold_ms, native_ms = cold_s * 1000, native_s * 1000
        print(
            f"| {engine} | {size / 1024:.1f} KiB | {cold_ms:.1f} ms | {native_ms:.1f} ms"
            f" | +{cold_ms - native_ms:.1f} ms |"
        )
    print(f"\nmedian of {args.repeat} runs, each with a fresh cache; local folder store; x: 32x256")


if __name__ == "__main__":
    main()
