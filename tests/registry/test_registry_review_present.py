"""Review item: ``POST /blobs/present`` (up to 10,000 lookups for one small request) was open
to every reader, anonymous ones included. It serves pushes: it takes a write scope now."""

from __future__ import annotations

import hashlib

import pytest
from tests.registry.registry_helpers import API, MakeClient, error_of, put_blobs

from modelshelf.errors import StoreAuthError
from modelshelf.registry.tokens import TokenBook
from modelshelf.store.bucket import Store

ASKED = {"blobs": [[hashlib.sha256(b"x").hexdigest(), 1], ["ab" * 32, 5]]}


@pytest.mark.parametrize(("who", "status"), [("anonymous", 401), ("reader", 403)])
def test_a_caller_without_a_write_scope_may_not_ask_which_blobs_are_present(
    book: TokenBook, make_client: MakeClient, who: str, status: int
) -> None:
    if who == "anonymous":
        client = make_client(anonymous_read=["*"])
    else:
        token, _ = book.create("reader", ["read:*"], None, created_by="t")
        client = make_client(token)
    response = client.post(f"{API}/blobs/present", json=ASKED)
    assert response.status_code == status
    assert isinstance(error_of(response), StoreAuthError)
    assert "write" in response.json()["error"]["message"]


def test_a_writer_of_any_prefix_asks(
    store: Store, book: TokenBook, make_client: MakeClient
) -> None:
    put_blobs(store, b"x")
    token, _ = book.create("nlp-writer", ["write:nlp/"], None, created_by="t")
    response = make_client(token).post(f"{API}/blobs/present", json=ASKED)
    assert response.status_code == 200, response.text
    assert response.json() == {"present": [True, False]}
