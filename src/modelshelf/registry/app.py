"""The registry's ASGI app: :func:`create_app`, its error answers and the discovery route.

Every error leaves as ``{"error": {...}}`` (:func:`~modelshelf.store.http_protocol.error_body`),
with the status :func:`~modelshelf.store.http_protocol.status_for` gives, so that the client
raises the same :class:`~modelshelf.errors.ModelshelfError` the store would have; messages name
the registry as the client called it, never the store behind it. The store failing (down,
5xx, refusing the registry's own credentials) is 503 with ``Retry-After: 1``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from modelshelf import errors
from modelshelf.backends.registry import open_backend
from modelshelf.errors import (
    InvalidInputError,
    ModelshelfError,
    ObjectNotFoundError,
    StoreError,
    UnsupportedStoreError,
)
from modelshelf.registry._blob_io import UPLOAD_PARTS_IN_FLIGHT
from modelshelf.registry.admin_routes import router as admin_router
from modelshelf.registry.asset_routes import router as asset_router
from modelshelf.registry.auth import Caller
from modelshelf.registry.blob_routes import router as blob_router
from modelshelf.registry.bodies import Refusal
from modelshelf.registry.context import (
    CallerRefusedError,
    RegistryContext,
    behind_failed,
    failure_told,
)
from modelshelf.registry.notes_routes import router as notes_router
from modelshelf.registry.pages.session import LocalUser
from modelshelf.registry.scopes import parse_scope
from modelshelf.registry.tokens import TokenBook
from modelshelf.registry.uploads import UploadBook
from modelshelf.registry.webhooks.dispatcher import deliver_webhooks
from modelshelf.registry.webhooks.routes import router as webhook_router
from modelshelf.store.bucket import Store
from modelshelf.store.http_protocol import API, CHUNK, MAX_SINGLE_UPLOAD, error_body, status_for

__all__ = ["add_error_handlers", "create_app"]

log = logging.getLogger("modelshelf.registry")


def create_app(
    store: Store | str,
    *,
    anonymous_read: tuple[str, ...] | list[str] = (),
    redirect: bool = True,
    spool_dir: Path | str | None = None,
    pages: bool = True,
    local_user: LocalUser | None = None,
    session_secret: bytes | None = None,
    **backend_options: Any,
) -> FastAPI:
    """The registry's app over ``store``, to run on uvicorn or embed in another ASGI app.

    Args:
        store: a bucket :class:`~modelshelf.store.bucket.Store`, or its URL (``s3://...``,
            ``file:///...``), opened with ``backend_options``.
        anonymous_read: name prefixes (``public/``, or ``*``) anyone may read without a token.
        redirect: answer blob downloads with a 307 to a presigned URL where the store can sign.
        spool_dir: where uploaded bodies are spooled while hashed (default: the temp folder).
        pages: serve the pages for people under ``/`` (:mod:`modelshelf.registry.pages`).
        local_user: run as ``modelshelf ui``: this one user reads and writes everything without
            a token (bind such an app to a loopback address only).
        session_secret: the key the pages' sign-in sessions are signed with; replicas behind
            one address need the same one (default: a random key per process).

    Raises:
        UnsupportedStoreError: an ``http(s)://`` URL (a registry in front of a registry).
        InvalidInputError: an anonymous-read prefix that is not a name prefix or ``*``.

    Example:
        >>> app = create_app("memory://registry-doc", anonymous_read=["public/"])
        >>> app.openapi_url
        '/api/v1/openapi.json'
    """
    if isinstance(store, str):
        if store.split("://", 1)[0].lower() in ("http", "https"):
            raise UnsupportedStoreError(
                f"the registry cannot serve {store}: it is a registry already, and a registry"
                " in front of a registry is not supported; give the bucket store behind it"
                " (s3://..., gs://..., az://..., file:///...)"
            )
        store = Store(open_backend(store, **backend_options))
    # Each blob the server writes holds its parts in flight in memory: bounded here, and the
    # number of blobs written at once by _blob_io.storing.
    store.backend.upload_parts_in_flight = UPLOAD_PARTS_IN_FLIGHT
    prefixes = tuple(anonymous_read)
    for prefix in prefixes:
        parse_scope(f"read:{prefix}")  # refuses what no name prefix is
    app = FastAPI(
        lifespan=_running_background_tasks,
        title="modelshelf registry",
        version="1",
        openapi_url=f"{API}/openapi.json",
        docs_url=f"{API}/docs",
        redoc_url=None,
    )
    app.state.registry = RegistryContext(
        store=store,
        anonymous_read=prefixes,
        redirect=redirect,
        spool_dir=Path(spool_dir) if spool_dir is not None else None,
        # `modelshelf ui` (one user on a laptop) never takes the webhook lease from the
        # registry that serves the same store: the registry delivers, the laptop does not.
        background=[_drop_stale_uploads, _drop_ended_sessions]
        + ([deliver_webhooks] if local_user is None else []),
    )
    app.state.tokens = TokenBook(store, session_secret)
    add_error_handlers(app, store)
    app.add_api_route(f"{API}", _discovery, methods=["GET"], summary="What this registry offers")
    app.include_router(asset_router, prefix=API)
    app.include_router(admin_router, prefix=API)
    app.include_router(blob_router, prefix=API)
    app.include_router(notes_router, prefix=API)
    app.include_router(webhook_router, prefix=API)
    if pages or local_user is not None:
        from modelshelf.registry.pages.mount import add_pages

        add_pages(app, store, local_user=local_user)
    return app


def _discovery(principal: Caller) -> dict[str, Any]:
    return {
        "registry": "modelshelf",
        "api": 1,
        "guarantees": {
            "create_only_commit": True,
            "alias_compare_and_swap": True,
            "listable": True,
        },
        "upload": {"max_single": MAX_SINGLE_UPLOAD, "chunk": CHUNK},
        "who": principal.name,
        "scopes": [str(scope) for scope in principal.scopes],
    }


def _public_type(exc: ModelshelfError) -> str:
    """The name the client rebuilds: the nearest class of ``modelshelf.errors.__all__``."""
    for kind in type(exc).__mro__:
        if kind.__name__ in errors.__all__ and getattr(errors, kind.__name__, None) is kind:
            return str(kind.__name__)
    return "StoreError"


STALE_UPLOADS_EVERY = 3600.0
"""Seconds between two sweeps of upload sessions left open past their lifetime."""


async def _drop_stale_uploads(app: FastAPI) -> None:
    """Abort the upload sessions clients left, every hour (each replica sweeps; the deletes are
    idempotent). A failing sweep is logged and tried again at the next."""
    book = UploadBook(app.state.registry.store)
    while True:
        try:
            dropped = await run_in_threadpool(book.drop_stale)
            if dropped:
                log.info("dropped %d upload session(s) left open past their lifetime", dropped)
        except ModelshelfError as exc:
            log.warning("could not drop stale upload sessions (next try later): %s", exc)
        await anyio.sleep(STALE_UPLOADS_EVERY)


async def _drop_ended_sessions(app: FastAPI) -> None:
    """Delete the sign-out markers of sessions that have expired since, every hour (each
    replica; the deletes are idempotent). A failing sweep is logged and tried again."""
    book: TokenBook = app.state.tokens
    while True:
        try:
            dropped = await run_in_threadpool(book.drop_ended_sessions)
            if dropped:
                log.info("dropped %d sign-out marker(s) of expired sessions", dropped)
        except ModelshelfError as exc:
            log.warning("could not drop old sign-out markers (next try later): %s", exc)
        await anyio.sleep(STALE_UPLOADS_EVERY)


@contextlib.asynccontextmanager
async def _running_background_tasks(app: FastAPI) -> AsyncIterator[None]:
    """While the app runs, run each of ``RegistryContext.background``; cancel them at the end."""
    context: RegistryContext = app.state.registry
    async with anyio.create_task_group() as tasks:
        for task in context.background:
            tasks.start_soon(task, app)
        yield
        tasks.cancel_scope.cancel()


def add_error_handlers(app: FastAPI, store: Store) -> None:
    """Answer every error as the HTTP API says: a :class:`Refusal` with its own status, a
    :class:`~modelshelf.errors.ModelshelfError` with ``status_for``'s (401/403 for a refused
    caller, 503 and ``Retry-After`` when the store behind failed), the store's URL in every text
    replaced by the registry's as the client called it."""

    def answer(
        request: Request,
        exc: ModelshelfError,
        status: int,
        headers: dict[str, str] | None = None,
        attrs: dict[str, int] | None = None,
        kind: ModelshelfError | None = None,
    ) -> JSONResponse:
        shown_as = str(request.base_url).rstrip("/")
        body = error_body(exc, store_url=store.url, shown_as=shown_as)
        body["error"]["type"] = _public_type(kind or exc)
        body["error"]["attrs"].update(attrs or {})
        return JSONResponse(body, status_code=status, headers=headers)

    async def on_refusal(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refusal)
        return answer(request, exc.error, exc.status, exc.headers, exc.attrs)

    async def on_modelshelf_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ModelshelfError)
        if isinstance(exc, CallerRefusedError):
            headers = {"WWW-Authenticate": 'Bearer realm="modelshelf"'}
            return answer(request, exc, exc.status, headers if exc.status == 401 else None)
        if behind_failed(exc):
            # The store behind us failed: never the caller's fault, worth a retry; what failed
            # (an endpoint, a host, a bucket's error) goes to our log, not to the caller.
            log.warning("the store failed a request to %s: %s", request.url.path, exc)
            told = failure_told(store.url)
            return answer(request, told, 503, {"Retry-After": "1"}, kind=exc)
        return answer(request, exc, status_for(exc))

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        where = "; ".join(
            f"{'.'.join(str(p) for p in item.get('loc', ()))}: {item.get('msg', '')}"
            for item in exc.errors()[:5]
        )
        return answer(request, InvalidInputError(f"the request is malformed: {where}"), 400)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        wrapped: ModelshelfError
        if exc.status_code == 404:
            wrapped = ObjectNotFoundError(
                f"{request.url.path} is no route of this registry's API ({API}); is the client"
                " newer than the server?"
            )
        else:
            wrapped = StoreError(f"{request.method} {request.url.path}: {exc.detail}")
        return answer(request, wrapped, exc.status_code, dict(exc.headers or {}))

    async def on_other_error(request: Request, exc: Exception) -> Response:
        log.exception("the registry failed on %s %s", request.method, request.url.path)
        wrapped = StoreError("the registry failed on this request; its log says why")
        return answer(request, wrapped, 500)

    app.add_exception_handler(Refusal, on_refusal)
    app.add_exception_handler(ModelshelfError, on_modelshelf_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_other_error)
