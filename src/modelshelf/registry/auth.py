"""Who is calling: the FastAPI dependencies every route takes.

``context_of`` hands a route the :class:`~modelshelf.registry.context.RegistryContext` that
:func:`~modelshelf.registry.app.create_app` put in ``app.state.registry``; ``principal_of``
turns the request's bearer token (or its absence) into a
:class:`~modelshelf.registry.context.Principal`.
"""

from __future__ import annotations

# At run time, not under TYPE_CHECKING: FastAPI reads the annotations of a dependency to
# know what to pass; an unresolved ``Request`` becomes a required query parameter.
from starlette.requests import Request

from modelshelf.registry.context import ANONYMOUS, Principal, RegistryContext
from modelshelf.registry.scopes import Scope

__all__ = ["context_of", "principal_of"]


def context_of(request: Request) -> RegistryContext:
    """The registry's context (a FastAPI dependency)."""
    context: RegistryContext = request.app.state.registry
    return context


# PLACEHOLDER, for the lead to replace at merge with the server core helper's principal_of
# (t23-server). The blob routes (t23-blobs) only need its name to exist; their tests override
# it (app.dependency_overrides[principal_of]). It treats every caller as anonymous.
def principal_of(request: Request) -> Principal:
    """PLACEHOLDER: every caller is anonymous, with read on the anonymous-read prefixes."""
    context = context_of(request)
    return Principal(ANONYMOUS, tuple(Scope("read", prefix) for prefix in context.anonymous_read))
