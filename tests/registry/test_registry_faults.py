"""The store behind the registry failing: 503 with ``Retry-After: 1``, never blamed on the
caller's token, and the message naming the registry, not the store behind it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient
from tests.registry.registry_helpers import API, asset, error_of
from tests.wrapped_backend import WrappedBackend

from modelshelf.backends import ObjectMeta
from modelshelf.errors import (
    StoreAuthError,
    StoreError,
    StoreUnavailableError,
    StoreUnreachableError,
)
from modelshelf.registry.app import create_app
from modelshelf.registry.tokens import TokenBook
from modelshelf.store.bucket import Store


class _Failing(WrappedBackend):
    """Listings of ``assets`` fail with ``error`` (tokens still read, so callers are known)."""

    error: StoreError | None = None

    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        if self.error is not None and prefix.startswith("assets"):
            raise self.error
        return super().list(prefix)


@pytest.mark.parametrize(
    "error",
    [
        StoreUnreachableError("cannot reach {url}: connection refused"),
        StoreUnavailableError("{url} answered 500 Internal Server Error"),
        StoreAuthError("{url} refused the credentials: InvalidAccessKeyId"),
        StoreError("{url}: something else went wrong"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_store_failures_are_503(store: Store, error: StoreError) -> None:
    backend = _Failing(store.backend)
    failing = Store(backend)
    token, _ = TokenBook(failing).create("ci", ["read:*"], None, created_by="test")
    error.args = (str(error.args[0]).replace("{url}", failing.url),)
    backend.error = error
    client = TestClient(create_app(failing), raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {token}"
    for path in (f"{API}/assets", asset("nlp/a", "versions")):
        response = client.get(path)
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "1"
        assert "www-authenticate" not in response.headers
        raised = error_of(response)
        assert type(raised) is type(error)
        assert failing.url not in str(raised) and "http://testserver" in str(raised)
        # What failed behind (an endpoint, a host, the bucket's words) stays in our log.
        detail = str(error.args[0]).replace(failing.url, "").strip(": ")
        assert detail not in response.text
    page = client.get("/a/nlp/a")
    assert page.status_code == 503 and detail not in page.text and failing.url not in page.text
