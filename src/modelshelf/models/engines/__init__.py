"""Built-in runners and file formats for torch, scikit-learn, ONNX, plain pickle and safetensors.

Each engine lives in its own module (its file format: save and load, its runner) and imports its
library only inside functions, so importing this package stays light. The runners are recorded
by their import path here (``modelshelf.models.engines.torch:TorchRunner``), so ``load_model``
finds them installed. The engines import nothing above them in ``models`` (not ``register``):
the ``register_<engine>_model`` helpers are :mod:`modelshelf.models.engine_helpers`'s.
"""

from modelshelf.models.engines._common import identity
from modelshelf.models.engines.onnx import OnnxRunner
from modelshelf.models.engines.pickle import PickleRunner
from modelshelf.models.engines.sklearn import SklearnJoblibRunner, SklearnRunner
from modelshelf.models.engines.torch import TorchPickleRunner, TorchRunner

__all__ = [
    "OnnxRunner",
    "PickleRunner",
    "SklearnJoblibRunner",
    "SklearnRunner",
    "TorchPickleRunner",
    "TorchRunner",
    "identity",
]
