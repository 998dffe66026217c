"""While the catalog is first built, only a caller who may read every name sees its counts
(they count the whole store); others see a note without numbers."""

from __future__ import annotations

import re

from tests.pages.conftest import MakePages

from modelshelf.registry.pages.catalog import Catalog


def test_the_counts_of_the_build_show_only_to_who_reads_everything(
    make_pages: MakePages, tokens: dict[str, str]
) -> None:
    reader = make_pages(tokens["reader"], anonymous_read=("nlp/",))
    admin = make_pages(tokens["admin"])
    anonymous = make_pages(anonymous_read=("nlp/",))
    bearer = {"authorization": f"Bearer {tokens['reader']}"}
    catalogs: list[Catalog] = [c.app.state.catalog for c in (reader, admin, anonymous)]
    for catalog in catalogs:
        catalog._poll_lock.acquire()  # no build meanwhile: "still being built" stays true
        catalog.ready, catalog.indexed, catalog.total = False, 3, 7
    try:
        for client in (reader, anonymous):
            for path in ("/", "/log"):
                note = re.search(r'class="progress"[^>]*>([^<]*)<', client.get(path).text)
                assert note and "still being built" in note[1]
                assert not re.search(r"[0-9]", note[1])
        indexing = reader.get("/api/v1/search", headers=bearer).json()["indexing"]
        assert indexing and not re.search(r"[0-9]", indexing)
        assert "indexed 3 of 7 versions" in admin.get("/").text
    finally:
        for catalog in catalogs:
            catalog.ready = True
            catalog._poll_lock.release()
