"""Review item: the registry pointed aliases at versions that do not exist, on assets that do
not exist, and set ``latest``. It refuses them now as the Shelf does, with the same errors."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient
from tests.registry.registry_helpers import (
    MakeClient,
    asset,
    error_of,
    pushed_through,
)

from modelshelf.errors import (
    AssetNotFoundError,
    InvalidInputError,
    VersionNotFoundError,
)
from modelshelf.registry.tokens import TokenBook
from modelshelf.spec import latest_is_not_movable
from modelshelf.store.bucket import Store


@pytest.fixture
def writer(store: Store, book: TokenBook, make_client: MakeClient) -> TestClient:
    token, _ = book.create("nlp-writer", ["admin:nlp/"], None, created_by="t")
    client = make_client(token)
    pushed_through(client, store, "nlp/a", list(("1", "2")))
    return client


def test_an_alias_at_a_version_that_does_not_exist_is_a_404_naming_the_live_ones(
    store: Store, writer: TestClient
) -> None:
    response = writer.put(asset("nlp/a", "aliases", "prod"), json={"version": "99"})
    assert response.status_code == 404
    error = error_of(response)
    assert type(error) is VersionNotFoundError
    assert "no version matching 99" in str(error) and "it has 2, 1" in str(error)
    assert store.aliases("nlp/a") == {}


def test_an_alias_at_a_removed_version_says_who_removed_it(
    store: Store, writer: TestClient
) -> None:
    response = writer.post(asset("nlp/a", "versions", "2", "remove"), json={"message": "bad"})
    assert response.status_code == 200, response.text
    response = writer.put(asset("nlp/a", "aliases", "prod"), json={"version": "2"})
    assert response.status_code == 404
    assert "nlp-writer" in response.json()["error"]["message"]
    assert store.aliases("nlp/a") == {}


def test_an_alias_on_an_asset_that_does_not_exist_is_a_404(
    store: Store, writer: TestClient
) -> None:
    response = writer.put(asset("nlp/zzz", "aliases", "prod"), json={"version": "1"})
    assert response.status_code == 404
    error = error_of(response)
    assert isinstance(error, AssetNotFoundError)
    assert "no asset named 'nlp/zzz'" in str(error)
    assert list(store.backend.list("assets/nlp/zzz")) == []


@pytest.mark.parametrize("method", ["put", "delete"])
def test_latest_is_never_set_nor_removed(store: Store, writer: TestClient, method: str) -> None:
    if method == "put":
        response = writer.put(asset("nlp/a", "aliases", "latest"), json={"version": "1"})
    else:
        response = writer.delete(asset("nlp/a", "aliases", "latest"))
    assert response.status_code == 400
    error = error_of(response)
    assert isinstance(error, InvalidInputError)
    assert response.json()["error"]["message"] == str(latest_is_not_movable())  # one text
    assert store.aliases("nlp/a") == {}


def test_an_alias_at_a_live_version_still_moves(store: Store, writer: TestClient) -> None:
    response = writer.put(asset("nlp/a", "aliases", "prod"), json={"version": "1"})
    assert response.status_code == 200, response.text
    assert store.read_alias("nlp/a", "prod").version == "1"
