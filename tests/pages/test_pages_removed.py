"""A removed version disappears from the pages at once: the catalog's cached manifest and card
are used only for a live version, and a removal in the store's log drops them."""

from __future__ import annotations

from starlette.testclient import TestClient
from tests.pages.conftest import MakePages

from modelshelf.registry.pages.catalog import Catalog
from modelshelf.store.bucket import Store


def _remove(store: Store) -> None:
    store.remove_version("nlp/sentiment", "1.0", "contained PII")
    store.append_log("nlp/sentiment", "remove", version="1.0", message="contained PII")


def test_a_removed_version_is_not_served_from_the_cache(
    make_pages: MakePages, tokens: dict[str, str], store: Store
) -> None:
    client: TestClient = make_pages(tokens["reader"])
    bearer = {"authorization": f"Bearer {tokens['reader']}"}
    assert client.get("/a/nlp/sentiment/-/v/1.0").status_code == 200  # cached now
    assert client.get("/api/v1/assets/nlp/sentiment/-/diff/1.0...1.1", headers=bearer).is_success
    _remove(store)  # no poll yet: the page itself must see it
    page = client.get("/a/nlp/sentiment/-/v/1.0")
    assert page.status_code == 404 and "weights.bin" not in page.text
    assert "The sentiment model" not in page.text and "removed" in page.text
    twin = client.get("/api/v1/assets/nlp/sentiment/-/diff/1.0...1.1", headers=bearer)
    assert twin.status_code == 404
    assert client.get("/a/nlp/sentiment/-/diff/1.0...1.1").status_code == 404
    assert client.get("/a/nlp/sentiment/-/v/1.1").status_code == 200  # the others stay


def test_a_removal_in_the_log_drops_the_cached_entries(store: Store) -> None:
    catalog = Catalog(store)
    catalog.build()
    manifest = catalog.manifest("nlp/sentiment", "1.0")
    assert catalog.card(manifest)
    _remove(store)
    assert catalog.poll() >= 1
    assert ("nlp/sentiment", "1.0") not in catalog._manifests
    assert ("nlp/sentiment", "1.0") not in catalog._cards
    assert ("nlp/sentiment", "1.0") not in catalog._summaries
