"""Models built on the facade: runner classes, ``register_model`` and ``load_model``, and
declarative models with their library.

Owns: runners, registration (``register``, ``engine_helpers``), loading (``load``, ``library``),
saved instances, signatures, detection of plain model files, and ``engines/`` (one module per
format).

May import: the facade (``shelf``) and everything below it, never ``downloaders``, ``serve`` or
``cli``. Heavy engine libraries are imported inside the functions that need them, never here.

Exports: the names below, which users know from ``modelshelf`` too.
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
