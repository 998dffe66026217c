"""An error page says what the API says: the store behind the registry is never named, the
registry's own URL stands in for it."""

from __future__ import annotations

import pytest
from tests.pages.conftest import MakePages

from modelshelf.store.bucket import Store


@pytest.mark.parametrize("path", ["/a/nlp/sentiment/-/v/9.9", "/a/nlp/sentiment/-/diff/1.0...9.9"])
def test_an_error_page_never_shows_the_store_url(
    make_pages: MakePages, tokens: dict[str, str], store: Store, path: str
) -> None:
    client = make_pages(tokens["reader"])
    bearer = {"authorization": f"Bearer {tokens['reader']}"}
    page = client.get(path)
    assert page.status_code == 404 and 'id="error"' in page.text
    assert store.url not in page.text and "http://testserver" in page.text
    twin = client.get("/api/v1/assets/nlp/sentiment/-/diff/1.0...9.9", headers=bearer)
    assert twin.json()["error"]["message"] in page.text  # the same words as the API
