"""Models built on the facade: runner classes, ``register_model`` and ``load_model``, and
declarative models with their library.

Layer: imports point down only (models -> shelf, resolve, _push, _pull -> ...). Heavy engine
libraries are never imported here.
"""

from modelshelf.models.engine_helpers import (
    register_onnx_model,
    register_pickle_model,
    register_sklearn_model,
    register_torch_model,
)
from modelshelf.models.engines import (
    OnnxRunner,
    PickleRunner,
    SklearnJoblibRunner,
    SklearnRunner,
    TorchPickleRunner,
    TorchRunner,
)
from modelshelf.models.library import Model, ModelLibrary
from modelshelf.models.load import LoadedModel, NotAModelError, RequirementsError, load_model
from modelshelf.models.register import register_model
from modelshelf.models.runner import Runner
from modelshelf.models.signature import Signature, TensorSpec

__all__ = [
    "LoadedModel",
    "Model",
    "ModelLibrary",
    "NotAModelError",
    "OnnxRunner",
    "PickleRunner",
    "RequirementsError",
    "Runner",
    "Signature",
    "SklearnJoblibRunner",
    "SklearnRunner",
    "TensorSpec",
    "TorchPickleRunner",
    "TorchRunner",
    "load_model",
    "register_model",
    "register_onnx_model",
    "register_pickle_model",
    "register_sklearn_model",
    "register_torch_model",
]
