"""Storage backends behind one small protocol; see :mod:`modelshelf.backends.base`."""

from modelshelf.backends.base import Backend, ObjectMeta, PutMode
from modelshelf.backends.registry import (
    get_backend_class,
    open_backend,
    register_backend,
    registry,
)

__all__ = [
    "Backend",
    "ObjectMeta",
    "PutMode",
    "get_backend_class",
    "open_backend",
    "register_backend",
    "registry",
]
