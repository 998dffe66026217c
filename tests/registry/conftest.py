"""Fixtures of the registry tests: a real ``file://`` store in ``tmp_path``, the registry's app
over it in starlette's TestClient, and tokens made with :class:`TokenBook` on that store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from tests.registry.registry_helpers import MakeClient

from modelshelf.backends.registry import open_backend
from modelshelf.registry.app import create_app
from modelshelf.registry.tokens import TokenBook
from modelshelf.store.bucket import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """An empty file:// store, made."""
    made = Store(open_backend((tmp_path / "store").as_uri()))
    made.create()
    return made


@pytest.fixture
def book(store: Store) -> TokenBook:
    return TokenBook(store)


@pytest.fixture
def make_client(store: Store) -> Iterator[MakeClient]:
    """``make_client(token=None, **create_app_options)``: a client of a new app over the store
    (each call is another replica), sending ``token`` as its bearer token."""
    clients: list[TestClient] = []

    def make(token: str | None = None, **options: object) -> TestClient:
        client = TestClient(create_app(store, **options), raise_server_exceptions=False)
        if token is not None:
            client.headers["Authorization"] = f"Bearer {token}"
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
