"""Who may reach ``modelshelf ui`` at all: the loopback address it listens on, and its secret.

``modelshelf ui`` has no tokens: its one user reads and writes everything. Listening on
loopback alone does not keep other sites out: a page on ``evil.example`` whose name is made to
resolve to 127.0.0.1 (DNS rebinding) is, for the browser, the same origin as the ui, so it could
read every page and post every form. Two checks therefore run before any route (pages, API
reads, blobs):

- the ``Host`` header must name the address the ui listens on (``127.0.0.1``, ``localhost`` or
  ``[::1]``, with its port): a rebound name is answered 421;
- the request must carry the process's random secret, as Jupyter does: ``modelshelf ui`` prints
  ``http://127.0.0.1:PORT/?ui-token=SECRET`` once; opening it sets an HttpOnly, SameSite=Strict
  cookie (named after the port: two ui processes on one machine keep their own) and redirects to
  the same URL without the secret. Without the cookie a page says where the URL is (the terminal
  where ``modelshelf ui`` runs). The secret is compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
import urllib.parse

from markupsafe import escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from modelshelf.registry.auth import UI_ADMITTED
from modelshelf.registry.context import CallerRefusedError
from modelshelf.store.http_protocol import API, error_body

__all__ = ["QUERY", "UiAccess", "UiSecret"]

QUERY = "ui-token"
"""The query parameter of the URL ``modelshelf ui`` prints."""
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the secret is never sent on in a Referer
    "Cache-Control": "no-store",
}


class UiSecret:
    """The ui process's secret and the address it listens on (set once the port is bound)."""

    def __init__(self) -> None:
        self.value = secrets.token_urlsafe(32)
        self.port: int | None = None
        self.address = "127.0.0.1"

    def listen(self, address: str, port: int) -> None:
        """Record where the ui listens: only these ``Host`` headers are answered."""
        self.address, self.port = address, port

    @property
    def hosts(self) -> frozenset[str]:
        """The ``Host`` headers of this ui (none before :meth:`listen`: every request refused)."""
        if self.port is None:
            return frozenset()
        shown = f"[{self.address}]" if ":" in self.address else self.address
        return frozenset(f"{name}:{self.port}" for name in (*_LOOPBACK_NAMES, shown.lower()))

    @property
    def cookie(self) -> str:
        return f"modelshelf_ui_{self.port}"

    def matches(self, sent: str | None) -> bool:
        """True if ``sent`` is the secret (constant time)."""
        return sent is not None and hmac.compare_digest(sent.encode(), self.value.encode())

    def entry_url(self, base: str) -> str:
        """The URL to print once: ``base/?ui-token=SECRET``."""
        return f"{base}/?{QUERY}={self.value}"


class UiAccess:
    """ASGI middleware of ``modelshelf ui``: refuse a ``Host`` that is not the ui's (421) and a
    request without the secret (403); the secret in the query sets the cookie and redirects."""

    def __init__(self, app: ASGIApp, secret: UiSecret) -> None:
        self.app = app
        self.secret = secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        answer = self._gate(request)
        if answer is not None:
            await answer(scope, receive, send)
            return
        scope[UI_ADMITTED] = True
        await self.app(scope, receive, send)

    def _gate(self, request: Request) -> Response | None:
        host = request.headers.get("host", "").lower()
        if host not in self.secret.hosts:
            return _refusal(
                request,
                421,
                "This address is not the one modelshelf ui listens on. Open the URL it printed"
                " in its terminal (http://127.0.0.1:PORT/?ui-token=...).",
            )
        sent = request.query_params.get(QUERY)
        if sent is not None:
            if not self.secret.matches(sent):
                return _refusal(request, 403, _NO_SECRET)
            # To the page asked for, re-quoted (a decoded `//host` would leave the ui), without
            # the secret or any other parameter (a made-up `done=` would show a false notice).
            target = "/" + urllib.parse.quote(request.url.path.lstrip("/"), safe="/:@-._~")
            redirect = RedirectResponse(target, status_code=303, headers=_HEADERS)
            redirect.set_cookie(
                self.secret.cookie, self.secret.value, path="/", httponly=True, samesite="strict"
            )
            return redirect
        if self.secret.matches(request.cookies.get(self.secret.cookie)):
            return None
        return _refusal(request, 403, _NO_SECRET)


_NO_SECRET = (
    "modelshelf ui answers only the browser that opened the URL it printed: look at the terminal"
    " where `modelshelf ui` runs and open the http://127.0.0.1:PORT/?ui-token=... URL shown"
    " there (restart it for a new one)."
)


def _refusal(request: Request, status: int, message: str) -> Response:
    if request.url.path.startswith(API + "/") or request.url.path == API:
        body = error_body(CallerRefusedError(message, status=status))
        body["error"]["type"] = "StoreAuthError"
        return JSONResponse(body, status_code=status, headers=_HEADERS)
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>modelshelf ui</title></head><body><main>"
        f'<h1>Not for this browser</h1><p id="error" role="alert">{escape(message)}</p>'
        "</main></body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=_HEADERS)
