"""One unreadable part of an asset (a forged notes record) shows as a warning naming the key
and the fix; the versions, aliases and card still show, and the asset stays searchable."""

from __future__ import annotations

from tests.pages.conftest import MakePages

from modelshelf.store.bucket import Store

FORGED = "assets/nlp/sentiment/notes/asset/00000099.json"


def _forge(store: Store) -> None:
    store.backend.put(FORGED, b'{"seq": 99, "labels": "x"}', mode="create")
    store.append_log("nlp/sentiment", "label", seq=99, labels="")


def test_forged_notes_leave_the_rest_of_the_asset_shown(
    make_pages: MakePages, tokens: dict[str, str], store: Store
) -> None:
    client = make_pages(tokens["admin"])
    _forge(store)
    client.app.state.catalog.poll()  # type: ignore[attr-defined]
    assert "nlp/sentiment" in client.get("/").text
    assert "nlp/sentiment" in client.get("/", params={"text": "retrained"}).text
    page = client.get("/a/nlp/sentiment")
    assert page.status_code == 200
    assert 'id="warnings"' in page.text and "00000099.json" in page.text
    assert "modelshelf label set" in page.text and store.url not in page.text
    assert 'class="version"' in page.text and 'id="move-alias"' in page.text
    assert 'id="edit-notes"' not in page.text  # its expected_seq would be a guess
    bearer = {"authorization": f"Bearer {tokens['admin']}"}
    overview = client.get("/api/v1/assets/nlp/sentiment/-/overview", headers=bearer).json()
    assert len(overview["versions"]) == 3 and "00000099.json" in overview["warnings"][0]
