"""The one error body of both faces, ``{"error": "...", "request_id": "..."}``, and the handlers
that put FastAPI's own errors (unknown route, wrong method, malformed request, a bug) in it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from modelshelf.serve._access import request_id_of

__all__ = ["error_response", "install_error_handlers"]

log = logging.getLogger("modelshelf.serve")


def error_response(
    status: int,
    message: str,
    request_id: str | None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The one error body of both faces: ``{"error": ..., "request_id": ...}``."""
    body: dict[str, Any] = {"error": message}
    if request_id:
        body["request_id"] = request_id
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """FastAPI's own errors (unknown route, wrong method) in our error body, never a traceback."""

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404:
            message = f"no route {request.method} {request.url.path}; see /docs"
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, message, request_id_of(request), headers)

    async def validation_error(request: Request, exc: Exception) -> Response:
        return error_response(400, f"malformed request: {exc}", request_id_of(request))

    async def unexpected(request: Request, exc: Exception) -> Response:
        # Answered by Starlette's outermost middleware, outside AccessLog: the header is ours.
        rid = request_id_of(request)
        log.error("request %s failed inside the server", rid, exc_info=exc)
        message = f"internal server error (request id {rid})"
        return error_response(500, message, rid, {"X-Request-ID": rid})

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected)
