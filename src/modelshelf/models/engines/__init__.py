"""Built-in runners and register helpers for torch, scikit-learn, ONNX and plain pickle.

Each engine lives in its own module and imports its library only inside functions, so importing
this package stays light. The runners are recorded by their import path here
(``modelshelf.models.engines.torch:TorchRunner``), so ``load_model`` finds them installed.
"""

from modelshelf.models.engines._common import identity
from modelshelf.models.engines.onnx import OnnxRunner, register_onnx_model
from modelshelf.models.engines.pickle import PickleRunner, register_pickle_model
from modelshelf.models.engines.sklearn import (
    SklearnJoblibRunner,
    SklearnRunner,
    register_sklearn_model,
)
from modelshelf.models.engines.torch import TorchPickleRunner, TorchRunner, register_torch_model

__all__ = [
    "OnnxRunner",
    "PickleRunner",
    "SklearnJoblibRunner",
    "SklearnRunner",
    "TorchPickleRunner",
    "TorchRunner",
    "identity",
    "register_onnx_model",
    "register_pickle_model",
    "register_sklearn_model",
    "register_torch_model",
]
