"""Small real models and module-level hooks for the engine tests (``tests.engines_fixtures``).

The engine libraries are imported inside functions: a test that needs one skips without it.
"""

from __future__ import annotations

from typing import Any

# Set when an untrusted custom object's code runs (it must not, without trust).
UNPICKLED: list[str] = []


def as_float32(data: Any) -> Any:
    """Preprocess hook: a float32 numpy array."""
    import numpy as np

    return np.asarray(data, dtype=np.float32)


def to_list(data: Any) -> Any:
    """Postprocess hook: plain nested lists (from a tensor, an array or a list)."""
    import numpy as np

    return np.asarray(data).tolist()


def tiny_module() -> Any:
    """``nn.Sequential(Linear(3, 2), ReLU())`` with fixed weights."""
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU()).eval()


def onnx_of(module: Any) -> Any:
    """The ONNX graph (Gemm + Relu, input ``x``) of :func:`tiny_module`, with its weights.

    Built with ``onnx.helper``: torch's own exporters need onnxscript or warn as deprecated.
    """
    from onnx import TensorProto, helper, numpy_helper

    linear = module[0]
    weight = numpy_helper.from_array(linear.weight.detach().numpy(), "weight")
    bias = numpy_helper.from_array(linear.bias.detach().numpy(), "bias")
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["x", "weight", "bias"], ["h"], transB=1),
            helper.make_node("Relu", ["h"], ["y"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])],
        initializer=[weight, bias],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def tiny_data() -> tuple[Any, Any]:
    """A 3-feature, 2-class dataset (numpy ``X``, ``y``)."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    return x, y


def tiny_pipeline() -> Any:
    """A fitted ``StandardScaler + LogisticRegression`` pipeline."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = tiny_data()
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)


class Doubler:
    """A plain picklable object with ``predict``."""

    def __init__(self, factor: float = 2.0) -> None:
        self.factor = factor

    def predict(self, data: list[float]) -> list[float]:
        return [self.factor * x for x in data]

    def __setstate__(self, state: dict[str, Any]) -> None:
        UNPICKLED.append("Doubler")
        self.__dict__.update(state)


class Halver:
    """A custom scikit-learn transformer: a type skops does not trust."""

    def fit(self, x: Any, y: Any = None) -> Halver:
        return self

    def transform(self, x: Any) -> Any:
        return x / 2

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {}

    def set_params(self, **params: Any) -> Halver:
        return self


class Tripler:
    """What :func:`load_tripler` returns: ``predict`` triples each number."""

    def __init__(self, path: str) -> None:
        self.path = path

    def predict(self, data: list[float]) -> list[float]:
        return [3 * x for x in data]


LOADED_FROM: list[str] = []


def load_tripler(path: Any) -> Tripler:
    """A custom loader (``tests.engines_fixtures:load_tripler``): records the path it got."""
    LOADED_FROM.append(str(path))
    return Tripler(str(path))
