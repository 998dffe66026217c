"""Who is looking at a page: the sign-in cookie, CSRF tokens, and the single user of ``ui``.

Sign-in posts a token; the answer sets the cookie :data:`COOKIE` to that token (``HttpOnly;
SameSite=Strict; Path=/``, ``Secure`` over https, 12 hours). The registry's
:func:`~modelshelf.registry.auth.principal_of` accepts the cookie for GET and HEAD only: a write
from a page goes through a page route, which checks the form's CSRF token first.

A CSRF token is ``hex HMAC-SHA256(key=the session token, "modelshelf-csrf")``: stateless (every
replica computes the same), and unguessable without the cookie, which another site's page can
neither read nor send (SameSite=Strict). ``modelshelf ui`` has no tokens: its one user's key is
random per process (:attr:`~modelshelf.registry.context.RegistryContext.local_user`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from modelshelf.registry.auth import SESSION_COOKIE, context_of, tokens_of, ui_user_of
from modelshelf.registry.context import ANONYMOUS, CallerRefusedError, Principal
from modelshelf.registry.pages.ui_access import UiSecret
from modelshelf.registry.scopes import Scope

__all__ = [
    "COOKIE",
    "COOKIE_SECONDS",
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
COOKIE_SECONDS = 12 * 3600
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
    """The key CSRF tokens of this request are made with: the session token (cookie), the
    ``ui`` process's key, or ``None`` (signed out: no form that writes is shown)."""
    user = local_user(request)
    if user is not None:
        return user.csrf_key
    token = request.cookies.get(COOKIE)
    return token if token and len(token) <= MAX_TOKEN_CHARS else None


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
    if user is not None:
        principal = user.principal
    else:
        token = request.cookies.get(COOKIE)
        header = request.headers.get("authorization", "")
        scheme, _, bearer = header.strip().partition(" ")
        if not token and scheme.lower() == "bearer" and bearer.strip():
            token = bearer.strip()
        from_cookie = token is not None and request.cookies.get(COOKIE) == token
        if token and from_cookie:
            # A session that ended (token expired or revoked) shows the pages signed out,
            # with the sign-in link, rather than an error on every page.
            try:
                if len(token) > MAX_TOKEN_CHARS:
                    raise CallerRefusedError("the session is not a token of this registry")
                principal = tokens_of(request).verify(token)
            except CallerRefusedError:
                request.state.session_ended = True
                principal = _anonymous(request)
        elif token:
            principal = tokens_of(request).verify(token)
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


def start_session(request: Request, response: Response, token: str) -> None:
    """Set the session cookie on ``response`` (Secure when the request came over https)."""
    response.set_cookie(
        COOKIE,
        token,
        max_age=COOKIE_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def forget_session(request: Request, response: Response) -> None:
    """Clear the session cookie on ``response``."""
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )
