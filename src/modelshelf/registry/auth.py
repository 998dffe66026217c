"""Who is calling: the FastAPI dependencies every route takes.

``context_of`` hands a route the :class:`~modelshelf.registry.context.RegistryContext` that
:func:`~modelshelf.registry.app.create_app` put in ``app.state.registry``; ``principal_of``
turns the request's bearer token (or its absence) into a
:class:`~modelshelf.registry.context.Principal`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelshelf.registry.context import RegistryContext

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["context_of"]


def context_of(request: Request) -> RegistryContext:
    """The registry's context (a FastAPI dependency)."""
    context: RegistryContext = request.app.state.registry
    return context
