"""Who is looking at a page: the sign-in session, CSRF tokens, and the single user of ``ui``.

Sign-in posts a token; the registry verifies it and answers with a session cookie that is not
the token: ``<token name>.<expiry unix time>.<hex HMAC-SHA256 over name|expiry>``, keyed by
what only the server reads (the token record's stored secret hash;
:meth:`~modelshelf.registry.tokens.TokenBook.start_session`). It is named
``modelshelf_session`` over http and ``__Host-modelshelf_session`` over https (Secure,
``Path=/``, no Domain), ``HttpOnly; SameSite=Strict``, and ends after 12 hours or when its
token expires. Each request checks that it has not ended, that its token exists and is not
revoked, and its HMAC (constant time). The registry's
:func:`~modelshelf.registry.auth.principal_of` accepts it for GET and HEAD only: a write from a
page goes through a page route, which checks the form's CSRF token first.

A CSRF token is ``hex HMAC-SHA256(key=the session cookie's value, "modelshelf-csrf")``:
stateless (every replica computes the same), and unguessable without the cookie, which another
site's page can neither read nor send (SameSite=Strict). ``modelshelf ui`` has no tokens: its
one user's key is random per process
(:attr:`~modelshelf.registry.context.RegistryContext.local_user`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from modelshelf.registry.auth import (
    SECURE_SESSION_COOKIE,
    SESSION_COOKIE,
    context_of,
    session_cookie_name,
    session_of,
    tokens_of,
    ui_user_of,
)
from modelshelf.registry.context import ANONYMOUS, CallerRefusedError, Principal
from modelshelf.registry.pages.ui_access import UiSecret
from modelshelf.registry.scopes import Scope
from modelshelf.registry.tokens import SESSION_SECONDS

__all__ = [
    "COOKIE",
    "COOKIE_SECONDS",
    "SECURE_COOKIE",
    "LocalUser",
    "csrf_matches",
    "csrf_token",
    "forget_session",
    "local_user",
    "page_principal",
    "same_origin",
    "session_key",
    "start_session",
]

COOKIE = SESSION_COOKIE
SECURE_COOKIE = SECURE_SESSION_COOKIE
COOKIE_SECONDS = SESSION_SECONDS
_CSRF_MESSAGE = b"modelshelf-csrf"
MAX_TOKEN_CHARS = 512
"""The longest token text a sign-in or a cookie may carry; longer is no token of ours."""


class LocalUser:
    """The one user of ``modelshelf ui``: every read and write allowed, no token.

    Args:
        name: recorded as who wrote (the local user's login name).
        host: recorded as where from (this machine's name).
    """

    def __init__(self, name: str, host: str) -> None:
        self.name = name
        self.host = host
        self.csrf_key = secrets.token_hex(32)  # per process: forms of an earlier run fail
        self.access = UiSecret()  # who may reach the ui at all (its address, its secret)

    @property
    def principal(self) -> Principal:
        return Principal(self.name, (Scope("write", "*"),))


def local_user(request: Request) -> LocalUser | None:
    """The single user when the app runs as ``modelshelf ui`` (and the request passed its
    gate: the ui's address and secret), else ``None``."""
    user: LocalUser | None = ui_user_of(request)
    return user


def session_key(request: Request) -> str | None:
    """The key CSRF tokens of this request are made with: the session cookie's value, the
    ``ui`` process's key, or ``None`` (signed out: no form that writes is shown)."""
    user = local_user(request)
    if user is not None:
        return user.csrf_key
    return session_of(request)


def csrf_token(key: str) -> str:
    """The CSRF token of the session whose key is ``key``."""
    return hmac.new(key.encode(), _CSRF_MESSAGE, hashlib.sha256).hexdigest()


def csrf_matches(request: Request, sent: object) -> bool:
    """True if ``sent`` (a form's csrf field) is this session's CSRF token (constant time)."""
    key = session_key(request)
    if key is None or not isinstance(sent, str) or len(sent) != 64:
        return False
    return hmac.compare_digest(csrf_token(key), sent)


def page_principal(request: Request) -> Principal:
    """Who looks at (or posts from) a page: the ``ui`` user; the holder of the session cookie;
    the holder of a bearer token (scripts); else anonymous with the anonymous-read scopes.

    Raises:
        CallerRefusedError: (401) the cookie's or header's token is refused (expired, revoked).
    """
    user = local_user(request)
    header = request.headers.get("authorization", "")
    scheme, _, bearer = header.strip().partition(" ")
    session = session_of(request)
    if user is not None:
        principal = user.principal
    elif session is not None:
        # A session that ended (or whose token expired or was revoked) shows the pages
        # signed out, with the sign-in link, rather than an error on every page.
        try:
            principal = tokens_of(request).verify_session(session)
        except CallerRefusedError:
            request.state.session_ended = True
            principal = _anonymous(request)
    elif scheme.lower() == "bearer" and bearer.strip():
        if len(bearer.strip()) > MAX_TOKEN_CHARS:
            raise CallerRefusedError("the bearer token is not a token of this registry")
        principal = tokens_of(request).verify(bearer.strip())
    else:
        principal = _anonymous(request)
    request.state.principal = principal
    return principal


def _anonymous(request: Request) -> Principal:
    scopes = tuple(Scope("read", p) for p in context_of(request).anonymous_read)
    return Principal(ANONYMOUS, scopes)


def same_origin(request: Request) -> bool:
    """False when the browser says the request came from another site's page (``Origin`` or
    ``Sec-Fetch-Site``); True when it says nothing (a script) or the same origin."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:  # what the browser knows (a proxy rewriting Host cannot fool it)
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    return origin is None or origin == str(request.base_url).rstrip("/")


def start_session(request: Request, response: Response, session: str, seconds: int) -> None:
    """Set the session cookie (a session of :meth:`TokenBook.start_session`, ending in
    ``seconds``) on ``response``: ``__Host-`` prefixed and Secure over https."""
    response.set_cookie(
        session_cookie_name(request),
        session,
        max_age=seconds,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def forget_session(request: Request, response: Response) -> None:
    """Clear the session cookie on ``response``."""
    response.delete_cookie(
        session_cookie_name(request),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
