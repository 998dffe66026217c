"""Who is calling: the FastAPI dependencies every route takes.

``context_of`` hands a route the :class:`~modelshelf.registry.context.RegistryContext` that
:func:`~modelshelf.registry.app.create_app` put in ``app.state.registry``; ``principal_of``
turns the request's bearer token (or its absence) into a
:class:`~modelshelf.registry.context.Principal`. The scope a route on a name needs is a
dependency too (:func:`may_on_name`, :func:`may_on_all`), so a route without one stands out;
they run before the request's body is read. Blob routes, whose names are content, call
``Principal.require_any`` first thing, before they read a body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends
from starlette.requests import Request

from modelshelf.registry.context import ANONYMOUS, CallerRefusedError, Principal, RegistryContext
from modelshelf.registry.scopes import Action, Scope
from modelshelf.registry.tokens import TokenBook

SESSION_COOKIE = "modelshelf_session"
"""The pages' sign-in cookie over plain http: a signed, expiring session, never the token
(``pages.session`` sets it; :meth:`TokenBook.start_session` makes it)."""
SECURE_SESSION_COOKIE = "__Host-modelshelf_session"
"""The same over https: the ``__Host-`` prefix makes the browser keep it only when Secure,
for ``Path=/`` and without ``Domain`` (no sibling host can set or shadow it)."""
_READS = frozenset({"GET", "HEAD"})
UI_ADMITTED = "modelshelf.ui_admitted"
"""The ASGI scope's key set by ``modelshelf ui``'s gate (``pages.ui_access``) once a request came
to the ui's own address with its secret: only such a request is the ui's one user."""

__all__ = [
    "SECURE_SESSION_COOKIE",
    "SESSION_COOKIE",
    "UI_ADMITTED",
    "Caller",
    "Context",
    "anonymous_scopes",
    "audit_of",
    "context_of",
    "may_on_all",
    "may_on_name",
    "principal_of",
    "session_cookie_name",
    "session_of",
    "tokens_of",
    "ui_user_of",
    "writer_of",
]


def context_of(request: Request) -> RegistryContext:
    """The registry's context (a FastAPI dependency)."""
    context: RegistryContext = request.app.state.registry
    return context


def tokens_of(request: Request) -> TokenBook:
    """The registry's tokens (a FastAPI dependency)."""
    book: TokenBook = request.app.state.tokens
    return book


def anonymous_scopes(prefixes: tuple[str, ...]) -> tuple[Scope, ...]:
    """``read:P`` for each anonymous-read prefix."""
    return tuple(Scope("read", prefix) for prefix in prefixes)


def session_cookie_name(request: Request) -> str:
    """The session cookie's name for this request: ``__Host-`` prefixed over https."""
    return SECURE_SESSION_COOKIE if request.url.scheme == "https" else SESSION_COOKIE


def session_of(request: Request) -> str | None:
    """The session cookie's value, if the request sent one (a bounded text)."""
    value = request.cookies.get(session_cookie_name(request))
    return value if value and len(value) <= 256 else None


def principal_of(request: Request) -> Principal:
    """The caller (a FastAPI dependency): the holder of the bearer token of the
    ``Authorization`` header; without one, on GET and HEAD only, the holder of the token the
    pages' session cookie was signed for (``modelshelf_session``, ``__Host-modelshelf_session``
    over https: a write never takes the cookie, so another site
    cannot make a browser write; the pages' own forms carry a CSRF token) or the single user
    of ``modelshelf ui``; else anonymous. Kept in ``request.state.principal`` for the error
    handlers (401 or 403).

    Raises:
        CallerRefusedError: (401) a header that is not ``Bearer <token>``, or a token the
            registry refuses.
    """
    header = request.headers.get("authorization")
    cookie = session_of(request) if request.method in _READS else None
    single = ui_user_of(request)
    if header is None and single is not None and request.method in _READS:
        principal = Principal(single.name, single.principal.scopes)  # `ui`: its one user
    elif header is None and cookie:
        principal = tokens_of(request).verify_session(cookie)
    elif header is None:
        context = context_of(request)
        principal = Principal(ANONYMOUS, anonymous_scopes(context.anonymous_read))
    else:
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise CallerRefusedError(
                "the Authorization header is not 'Bearer <token>'; set MODELSHELF_TOKEN, or"
                " token / token_file in the store's table of the config file"
            )
        principal = tokens_of(request).verify(token)
    request.state.principal = principal
    return principal


def ui_user_of(request: Request) -> Any:
    """The one user of ``modelshelf ui`` (a ``pages.session.LocalUser``) when this request
    passed the ui's gate (its address and secret), else ``None``."""
    if not request.scope.get(UI_ADMITTED):
        return None
    return getattr(request.app.state, "local_user", None)


Caller = Annotated[Principal, Depends(principal_of)]
"""A route's parameter for the caller, whatever it may do (the route checks)."""
Context = Annotated[RegistryContext, Depends(context_of)]
"""A route's parameter for the registry's context."""


def may_on_name(action: Action) -> Callable[[Request, Principal], Principal]:
    """A dependency: the caller, refused unless it may ``action`` the asset in the path."""

    def check(request: Request, principal: Caller) -> Principal:
        # The path's name is checked here as text only; the route validates it.
        principal.require(action, str(request.path_params.get("name", "")))
        return principal

    return check


def may_on_all(action: Action) -> Callable[[Principal], Principal]:
    """A dependency: the caller, refused unless it may ``action`` every name (``admin:*``)."""

    def check(principal: Caller) -> Principal:
        principal.require(action, None)
        return principal

    return check


def writer_of(principal: Principal) -> dict[str, str]:
    """``user`` and ``host`` of an alias or removal record the registry writes for the caller:
    the token's name (never what the client says) and ``registry``."""
    return {"user": principal.name, "host": "registry"}


def audit_of(request: Request, principal: Principal) -> dict[str, str]:
    """``user``, ``host`` and ``via`` of an audit record the registry writes for the caller:
    the token's name, ``registry from <client address>`` and ``registry``."""
    client = request.client.host if request.client is not None else "an unknown address"
    return {"user": principal.name, "host": f"registry from {client}", "via": "registry"}
