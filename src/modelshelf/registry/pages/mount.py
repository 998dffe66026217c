"""Putting the pages into the registry's app: routes, the catalog and its background task,
Server-Timing, and the single user of ``modelshelf ui``."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator

import anyio
from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from modelshelf import trust
from modelshelf.errors import ObjectNotFoundError
from modelshelf.registry.pages import asset_pages, browse_routes, write_routes
from modelshelf.registry.pages.catalog import Catalog
from modelshelf.registry.pages.render import ServerTiming, guarded
from modelshelf.registry.pages.session import LocalUser
from modelshelf.registry.pages.ui_access import UiAccess
from modelshelf.store.bucket import Store
from modelshelf.store.http_protocol import API

__all__ = ["add_pages"]

_METHODS = ["GET", "HEAD"]  # a browser's; a wrong method on an API route stays a 405


def _no_page(request: Request, path: str) -> Response:
    if path.startswith(API.lstrip("/") + "/") or path == API.lstrip("/"):
        raise HTTPException(404)  # the API's own answer (JSON)
    return guarded(request, lambda: _raise_not_found(path))


def _raise_not_found(path: str) -> Response:
    raise ObjectNotFoundError(
        f"there is no page /{trust.show(path, 80)[1:-1]} here; start from the assets"
    )


def add_pages(app: FastAPI, store: Store, *, local_user: LocalUser | None = None) -> Catalog:
    """Add the pages to ``app`` (the registry's app over ``store``); returns the catalog.

    Args:
        local_user: run as ``modelshelf ui``: this one user may read and write everything,
            without a token (the caller binds the app to a loopback address only).
    """
    catalog = Catalog(store)
    app.state.catalog = catalog
    app.state.local_user = local_user
    # The JSON twins first: /api/v1/... must never reach the pages' catch-all /a/{name}.
    app.include_router(browse_routes.api_router)
    app.include_router(asset_pages.api_router)
    app.include_router(browse_routes.router)
    app.include_router(write_routes.router)
    app.include_router(asset_pages.router)
    # Last: a path no route has is a page's 404 for a browser (the API's stays JSON).
    app.add_api_route("/{path:path}", _no_page, methods=_METHODS, include_in_schema=False)
    app.add_middleware(ServerTiming)
    if local_user is not None:  # outermost: nothing of the ui answers before its gate
        app.add_middleware(UiAccess, secret=local_user.access)
    background = getattr(app.state.registry, "background", None)
    if isinstance(background, list):
        background.append(_follow)
    else:  # a registry without background tasks: the catalog's own part of the lifespan
        inner = app.router.lifespan_context

        @contextlib.asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            async with inner(app), anyio.create_task_group() as tasks:
                tasks.start_soon(_follow, app)
                yield
                tasks.cancel_scope.cancel()

        app.router.lifespan_context = lifespan
    return catalog


async def _follow(app: FastAPI) -> None:
    """The lifespan's task: build the catalog, then follow the store's log until the app stops.
    The catalog runs on a thread of its own (its reads block) and logs and retries its own
    errors; cancelling this task stops it."""
    catalog: Catalog = app.state.catalog
    if not catalog.claim():
        return
    stop = threading.Event()
    threading.Thread(
        target=catalog.run, args=(stop,), name="modelshelf-catalog", daemon=True
    ).start()
    try:
        await anyio.sleep_forever()
    finally:
        stop.set()
        catalog.wake()
