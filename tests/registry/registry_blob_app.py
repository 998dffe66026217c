"""A registry app holding only the blob and upload routes, for their tests.

These tests mount :data:`modelshelf.registry.blob_routes.router` the way
``registry.app.create_app`` does (under ``/api/v1``), answer errors with the app's own handlers,
and choose the caller with ``app.dependency_overrides[principal_of]``.

Run as a module it serves such an app on 127.0.0.1 (for tests that measure the server process)::

    python -m tests.registry.registry_blob_app STORE_URL SPOOL_DIR
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from modelshelf.backends.registry import open_backend
from modelshelf.registry import blob_routes
from modelshelf.registry.app import add_error_handlers
from modelshelf.registry.auth import principal_of
from modelshelf.registry.context import ANONYMOUS, Principal, RegistryContext
from modelshelf.registry.scopes import Scope
from modelshelf.store.bucket import Store
from modelshelf.store.http_protocol import API

WRITER = Principal("ci-bot", (Scope("write", "*"),))
OTHER_WRITER = Principal("other-bot", (Scope("write", "nlp/"),))
READER = Principal("reader", (Scope("read", "nlp/"),))
NOBODY = Principal(ANONYMOUS, ())


class Caller:
    """Who the app's requests come from; tests change :attr:`principal` between requests."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    def __call__(self) -> Principal:
        return self.principal


def blob_app(store: Store, caller: Caller, **settings: Any) -> FastAPI:
    """The blob routes over ``store``; ``settings`` go to :class:`RegistryContext`."""
    app = FastAPI()
    app.include_router(blob_routes.router, prefix=API)
    app.state.registry = RegistryContext(store=store, **settings)
    app.dependency_overrides[principal_of] = caller
    add_error_handlers(app, store)  # the whole app's: the same answers
    return app


@contextlib.contextmanager
def served(app: FastAPI, lifespan: str = "off") -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on 127.0.0.1; yields its base URL. With
    ``lifespan="on"`` its background tasks (uploads sweep, webhooks, catalog) run too."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan=lifespan)
    )
    thread = threading.Thread(target=server.run, name="registry-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test registry did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def raw_request(base_url: str, head: str, body: bytes) -> socket.socket:
    """Send a request's head and ``body`` over a new socket (left open: the caller closes it
    to cut the request, or reads the answer)."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=30)
    connection.sendall(head.encode("latin-1") + b"\r\n\r\n" + body)
    return connection


def _serve_forever(store_url: str, spool_dir: str) -> None:
    app = blob_app(Store(open_backend(store_url)), Caller(WRITER), spool_dir=Path(spool_dir))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)

    async def announce() -> None:  # the port, once bound, on stdout for the parent
        while not server.started:
            await asyncio.sleep(0.02)
        print(server.servers[0].sockets[0].getsockname()[1], flush=True)

    async def main() -> None:
        await asyncio.gather(server.serve(), announce())

    asyncio.run(main())


if __name__ == "__main__":
    _serve_forever(sys.argv[1], sys.argv[2])
