"""Models built on the shelf: runner classes, ``register_model`` and ``load_model``.

Layer: imports point down only (models -> shelf, resolve, _push, _pull -> ...). Heavy engine
libraries are never imported here.
"""

from modelshelf.models.load import LoadedModel, NotAModelError, RequirementsError, load_model
from modelshelf.models.register import register_model
from modelshelf.models.runner import Runner

__all__ = [
    "LoadedModel",
    "NotAModelError",
    "RequirementsError",
    "Runner",
    "load_model",
    "register_model",
]
