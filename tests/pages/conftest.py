"""Fixtures of the pages tests: a store (``file://`` in ``tmp_path``, or ``memory://``) holding
a few assets, the registry's app over it in starlette's TestClient (its lifespan running, so the
catalog is built and followed as in a server), and tokens of several scopes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from tests.pages.pages_helpers import fill_store

from modelshelf.backends.registry import open_backend
from modelshelf.registry.app import create_app
from modelshelf.registry.tokens import TokenBook
from modelshelf.store.bucket import Store

MakePages = Callable[..., TestClient]


@pytest.fixture(params=["file", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A store of each kind with the assets of :func:`fill_store`."""
    url = (
        (tmp_path / "store").as_uri()
        if request.param == "file"
        else f"memory://pages-{id(tmp_path)}"
    )
    made = Store(open_backend(url))
    made.create()
    fill_store(made)
    return made


@pytest.fixture
def tokens(store: Store) -> dict[str, str]:
    """Tokens by role: ``admin`` (admin:*), ``writer`` (write:nlp/), ``reader`` (read:nlp/),
    ``cv`` (read:cv/)."""
    book = TokenBook(store)
    scopes = {"admin": "admin:*", "writer": "write:nlp/", "reader": "read:nlp/", "cv": "read:cv/"}
    return {
        role: book.create(role, [scope], None, created_by="test")[0]
        for role, scope in scopes.items()
    }


@pytest.fixture
def make_pages(store: Store) -> Iterator[MakePages]:
    """``make_pages(token=None, **create_app_options)``: a client of a new app over the store,
    signed in with ``token`` (its cookie), its catalog built."""
    clients: list[TestClient] = []

    def make(
        token: str | None = None, base_url: str = "http://testserver", **options: object
    ) -> TestClient:
        app = create_app(store, **options)
        client = TestClient(app, raise_server_exceptions=False, base_url=base_url)
        client.__enter__()  # the lifespan: the catalog is built and followed
        clients.append(client)
        deadline = time.monotonic() + 30
        while not app.state.catalog.ready and time.monotonic() < deadline:
            time.sleep(0.02)
        if token is not None:
            answer = client.post("/sign-in", data={"token": token}, follow_redirects=False)
            assert answer.status_code == 303, answer.text
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
