"""Models built on the facade: declarative models and their library."""

from modelshelf.models.library import Model, ModelLibrary

__all__ = ["Model", "ModelLibrary"]
