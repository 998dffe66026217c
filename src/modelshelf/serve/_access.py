"""Request ids and the access log: the pure ASGI middleware that names each request and logs it.

Every request gets an id (the client's ``X-Request-ID`` when it is plain and short, else a fresh
one), echoed in the ``X-Request-ID`` header of its answer and quoted in its errors; one JSON line
per request on the ``modelshelf.serve.access`` logger; the request metrics of
:class:`~modelshelf.serve._metrics.ServeMetrics`.
"""

from __future__ import annotations

import itertools
import json
import logging
import secrets
import time

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelshelf.serve._metrics import ServeMetrics

__all__ = ["AccessLog", "new_request_id", "request_id_of"]

access_log = logging.getLogger("modelshelf.serve.access")


# Request ids: a random per-process prefix and a counter (os.urandom per request showed in the
# profile); unique across workers and restarts, and short enough to quote.
_ID_PREFIX = secrets.token_hex(4)
_id_counter = itertools.count(1)


def new_request_id() -> str:
    """A fresh request id, e.g. ``"3f9a1c0e-17"``."""
    return f"{_ID_PREFIX}-{next(_id_counter):x}"


def request_id_of(request: Request) -> str:
    """The request's id, set by :class:`AccessLog` (or a new one)."""
    state = request.scope.setdefault("state", {})
    rid = state.get("request_id")
    if isinstance(rid, str):
        return rid
    fresh = new_request_id()
    state["request_id"] = fresh
    return fresh


def _incoming_id(scope: Scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == b"x-request-id":
            text: str = value.decode("latin-1")
            plain = text.isascii() and all(c.isalnum() or c in "-_.:" for c in text)
            if 0 < len(text) <= 64 and plain:
                return text
    return None


class AccessLog:
    """Pure ASGI middleware: a request id, one JSON log line per request, request metrics."""

    def __init__(self, app: ASGIApp, metrics: ServeMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        rid = _incoming_id(scope) or new_request_id()
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode("ascii")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            route = state.get("route", "other")
            self.metrics.observe_request(route, status, elapsed)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    json.dumps(
                        {
                            "event": "request",
                            "request_id": rid,
                            "method": scope.get("method"),
                            "path": scope.get("path"),
                            "status": status,
                            "ms": round(elapsed * 1000, 3),
                            "model_version": state.get("model_version"),
                            "client": (scope.get("client") or [None])[0],
                        },
                        separators=(",", ":"),
                    )
                )
