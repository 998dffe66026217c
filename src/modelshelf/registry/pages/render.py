"""Rendering a page: the Jinja environment (autoescape on everything), the headers every page
answers with, the one error page, and Server-Timing on every answer of the app.

Templates hold no logic beyond loops and escaping; values from the store are escaped by
autoescape, and the only markup passed through unescaped is a card rendered by
:func:`modelshelf.registry.pages.markdown.render_markdown` (sanitised).
"""

from __future__ import annotations

import functools
import logging
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelshelf import trust
from modelshelf.errors import ModelshelfError
from modelshelf.registry.auth import context_of
from modelshelf.registry.context import (
    CallerRefusedError,
    Principal,
    behind_failed,
    failure_told,
)
from modelshelf.registry.pages.markdown import render_markdown
from modelshelf.registry.pages.session import csrf_token, local_user, session_key
from modelshelf.store.http_protocol import error_text, status_for

__all__ = [
    "SECURITY_HEADERS",
    "ServerTiming",
    "error_page",
    "human_size",
    "page",
    "shown_error",
    "url",
]

log = logging.getLogger("modelshelf.registry")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
        " frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
FLASHES = {
    "alias": "The alias was moved.",
    "notes": "The labels and description were saved.",
    "signed-in": "Signed in.",
    "signed-out": "Signed out.",
}
"""The messages ``?done=`` may show after a write: fixed texts, never text from the URL."""


def human_size(size: object) -> str:
    """``1.5 MiB``: bytes as people read them."""
    if not isinstance(size, int):
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover


def url(path: str, params: Mapping[str, str] | None = None) -> str:
    """``path`` (its segments quoted, ``/`` kept) with ``params`` as a query string."""
    quoted = urllib.parse.quote(path, safe="/-._~")
    return quoted + ("?" + urllib.parse.urlencode(params) if params else "")


def asset_url(name: str, *rest: str) -> str:
    """``/a/NAME`` (``/a/NAME/-/REST`` with ``rest``)."""
    return url("/".join(("/a", name, "-", *rest)) if rest else f"/a/{name}")


def _card(text: str | None) -> Markup:
    return Markup(render_markdown(text)) if text else Markup("")


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("modelshelf.registry.pages", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["size"] = human_size
    env.filters["time"] = trust.show_time
    env.filters["card"] = _card
    env.globals["url"] = url
    env.globals["asset_url"] = asset_url
    return env


def page(
    request: Request,
    template: str,
    *,
    title: str,
    principal: Principal,
    twin: str | None = None,
    status: int = 200,
    error: str | None = None,
    progress: str | None = None,
    **values: Any,
) -> HTMLResponse:
    """Render ``template`` with what every page shows (nav, who is signed in, the flash after a
    write, the error, the JSON twin) and the headers every page answers with."""
    key = session_key(request)
    done = request.query_params.get("done", "")
    html = (
        environment()
        .get_template(template)
        .render(
            title=title,
            principal=principal,
            signed_in=not principal.anonymous,
            single_user=local_user(request) is not None,
            csrf=csrf_token(key) if key else "",
            twin=twin,
            flash=FLASHES.get(done),
            error=error or _ended(request),
            progress=progress,
            **values,
        )
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def _ended(request: Request) -> str | None:
    if getattr(request.state, "session_ended", False):
        return "Your session has ended (its token expired or was revoked): sign in again."
    return None


def error_page(request: Request, exc: ModelshelfError, principal: Principal | None) -> Response:
    """The error page of ``exc``: its status as the API would answer it, its message."""
    if isinstance(exc, CallerRefusedError):
        status = exc.status
    elif behind_failed(exc):
        log.warning("the store failed a page of %s: %s", request.url.path, exc)
        status, exc = 503, failure_told(context_of(request).store.url)  # the detail: our log
    else:
        status = status_for(exc)
    shown = shown_error(request)(exc).split("; set MODELSHELF_TOKEN")[
        0
    ]  # a browser signs in instead
    from modelshelf.registry.context import ANONYMOUS

    who = principal or Principal(ANONYMOUS, ())
    return page(
        request, "error.html", title="Error", principal=who, status=status, error=shown,
        signed_out_refusal=status == 401,
    )  # fmt: skip


def shown_error(request: Request) -> Callable[[ModelshelfError], str]:
    """How this request shows an error's text: as the API says it (the store behind the
    registry named by the registry's own URL)."""
    store_url = context_of(request).store.url
    shown_as = str(request.base_url).rstrip("/")
    return lambda exc: error_text(exc, store_url=store_url, shown_as=shown_as)


def guarded(request: Request, build: Callable[[], Response]) -> Response:
    """``build()``, or the error page of the :class:`ModelshelfError` it raised."""
    try:
        return build()
    except ModelshelfError as exc:
        return error_page(request, exc, getattr(request.state, "principal", None))


class ServerTiming:
    """ASGI middleware: ``Server-Timing: app;dur=<ms>`` on every answer (the time until the
    answer's headers left: a page's whole rendering)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                ms = (time.perf_counter() - started) * 1000
                headers = list(message.get("headers", []))
                headers.append((b"server-timing", f"app;dur={ms:.1f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed)
