"""Every page renders over file:// and memory:// stores, with the element ids the browser tests
use, the headers every page answers with, its JSON twin, and store text escaped."""

from __future__ import annotations

import pytest
from tests.pages.conftest import MakePages
from tests.pages.pages_helpers import HOSTILE, ids_of, parsed

from modelshelf.store.bucket import Store

EVERY_PAGE = {"skip-to-main", "main", "nav-assets", "nav-log"}
PAGES = {
    "/": {"search", "search-submit", "result-count", "assets", "json-twin"},
    "/a/nlp/sentiment": {
        "card",
        "description",
        "labels",
        "versions",
        "alias-history",
        "diff-form",
        "diff-submit",
        "json-twin",
    },
    "/a/nlp/sentiment/-/v/1.2": {
        "files",
        "metadata",
        "model",
        "source",
        "pull-command",
        "python-snippet",
        "version-aliases",
        "card",
        "json-twin",
    },
    "/a/nlp/sentiment/-/diff/1.0...1.2": {
        "files-added",
        "files-removed",
        "files-changed",
        "files-moved",
        "section-diffs",
        "json-twin",
    },
    "/log": {"log-filter", "log", "json-twin"},
    "/sign-in": {"sign-in", "sign-in-submit"},
}
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
    " frame-ancestors 'none'; base-uri 'none'"
)


@pytest.mark.parametrize("path", sorted(PAGES))
def test_each_page_renders_with_its_ids_and_headers(
    make_pages: MakePages, tokens: dict[str, str], path: str
) -> None:
    client = make_pages(tokens["admin"])
    answer = client.get(path)
    assert answer.status_code == 200, answer.text
    assert EVERY_PAGE | PAGES[path] <= ids_of(answer)
    assert "sign-out" in ids_of(answer) and "sign-out-submit" in ids_of(answer)
    assert answer.headers["content-security-policy"] == CSP
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "same-origin"
    assert answer.headers["server-timing"].startswith("app;dur=")
    html = parsed(answer.text)
    assert [t for t, _ in html.tags].count("h1") == 1
    assert ("html", {"lang": "en"}) in html.tags
    assert not any(t == "script" for t, _ in html.tags)
    for tag, attrs in html.tags:  # every input is labelled (by a <label for=...>)
        if tag in ("input", "select", "textarea") and attrs.get("type") != "hidden":
            assert f'for="{attrs["id"]}"' in answer.text, (tag, attrs)


@pytest.mark.parametrize("path", sorted(p for p in PAGES if p != "/sign-in"))
def test_each_page_links_its_json_twin(
    make_pages: MakePages, tokens: dict[str, str], path: str
) -> None:
    client = make_pages(tokens["admin"])
    html = parsed(client.get(path).text)
    twin = next(a["href"] for t, a in html.tags if t == "a" and a.get("id") == "json-twin")
    alternate = [a for t, a in html.tags if t == "link" and a.get("rel") == "alternate"]
    assert alternate and alternate[0]["href"] == twin and alternate[0]["type"] == "application/json"
    answer = client.get(str(twin))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith(
        "application/json"
    )


def test_store_text_is_escaped_everywhere(make_pages: MakePages, tokens: dict[str, str]) -> None:
    client = make_pages(tokens["admin"])
    for path in ("/a/nlp/sentiment", "/a/nlp/sentiment/-/v/1.0", "/log", "/?text=first"):
        text = client.get(path).text
        assert (
            HOSTILE not in text
            and "<script" not in text
            and "onerror=" not in text.replace("onerror=alert(1)&gt;", "")
        ), path


def test_the_asset_page_shows_versions_newest_first_with_aliases_and_the_card(
    make_pages: MakePages, tokens: dict[str, str]
) -> None:
    text = make_pages(tokens["admin"]).get("/a/nlp/sentiment").text
    assert text.index(">1.2</a>") < text.index(">1.1</a>") < text.index(">1.0</a>")
    assert '<span class="alias">production</span>' in text
    assert "<h2>The sentiment model</h2>" in text  # the README, one level down
    assert "&lt;script&gt;alert" in text  # raw HTML in a card is text
    assert 'class="label"' in text and "team=nlp" in text
    assert "move-alias" in text and "edit-notes" in text  # admin:* writes


def test_the_version_page_folds_folders_and_shows_how_to_pull(
    make_pages: MakePages, tokens: dict[str, str]
) -> None:
    text = make_pages(tokens["admin"]).get("/a/nlp/sentiment/-/v/1.2").text
    assert "<details" in text and "vocab/" in text and 'class="file"' in text
    assert "pull nlp/sentiment:1.2" in text and "shelf.pull(&#39;nlp/sentiment:1.2&#39;)" in text
    assert "0123abcd" in text and "sklearn" in text


def test_the_diff_page_shows_moves_changes_and_sections(
    make_pages: MakePages, tokens: dict[str, str]
) -> None:
    client = make_pages(tokens["admin"])
    text = client.get("/a/nlp/sentiment/-/diff/1.0...1.2").text
    assert "model/vocab.txt" in text and "vocab/vocab.txt" in text  # moved: same sha256
    assert "model/weights.bin" in text  # changed
    body = client.get("/api/v1/assets/nlp/sentiment/-/diff/1.0...1.2").json()
    assert [m["new_path"] for m in body["moved"]] == ["vocab/vocab.txt"]


def test_the_old_diff_path_redirects_and_the_form_lands_on_the_diff(
    make_pages: MakePages, tokens: dict[str, str]
) -> None:
    client = make_pages(tokens["admin"])
    answer = client.get("/a/nlp/sentiment/diff/1.0...1.1", follow_redirects=False)
    assert answer.status_code == 308
    assert answer.headers["location"] == "/a/nlp/sentiment/-/diff/1.0...1.1"
    answer = client.get("/a/nlp/sentiment/-/diff?a=1.0&b=1.2", follow_redirects=False)
    assert answer.headers["location"] == "/a/nlp/sentiment/-/diff/1.0...1.2"


def test_search_filters_by_name_glob_label_engine_and_text(
    make_pages: MakePages, tokens: dict[str, str]
) -> None:
    client = make_pages(tokens["admin"])

    def names(**params: str) -> list[str]:
        return [a["name"] for a in client.get("/api/v1/search", params=params).json()["assets"]]

    assert names() == ["cv/secret", "nlp/ner", "nlp/sentiment"]  # newest push first
    assert names(sort="name") == ["cv/secret", "nlp/ner", "nlp/sentiment"]
    assert names(q="sent") == ["nlp/sentiment"]
    assert names(q="nlp/*") == ["nlp/ner", "nlp/sentiment"]
    assert names(label="team") == ["cv/secret", "nlp/sentiment"]
    assert names(label="team=nlp") == ["nlp/sentiment"]
    assert names(engine="torch") == ["nlp/ner"]
    assert names(text="RETRAINED") == ["nlp/sentiment"]
    assert names(text="trained on") == ["nlp/sentiment"]  # the card
    assert client.get("/api/v1/search", params={"sort": "size"}).status_code == 400


def test_missing_things_answer_an_error_page(make_pages: MakePages, tokens: dict[str, str]) -> None:
    client = make_pages(tokens["admin"])
    for path in ("/a/nlp/nothing", "/a/nlp/sentiment/-/v/9.9", "/a/nlp/sentiment/-/diff/1.0...9.9"):
        answer = client.get(path)
        assert answer.status_code == 404 and 'id="error"' in answer.text, path
        assert answer.headers["content-security-policy"] == CSP


def test_the_style_sheet_is_served_from_the_package(make_pages: MakePages) -> None:
    answer = make_pages().get("/static/modelshelf.css")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/css")
    assert ":focus-visible" in answer.text and "@media" in answer.text


def test_a_path_no_page_has_is_a_404_page_and_the_api_stays_json(make_pages: MakePages) -> None:
    client = make_pages()
    page = client.get("/no/such/page")
    assert page.status_code == 404 and 'id="error"' in page.text
    assert page.headers["content-type"].startswith("text/html")
    api = client.get("/api/v1/no-such-route")
    assert api.status_code == 404 and api.json()["error"]["type"] == "ObjectNotFoundError"


def test_search_by_label_finds_a_versions_labels_too(
    make_pages: MakePages, tokens: dict[str, str], store: Store
) -> None:
    # stage=production is said of a version (its notes), not of the asset: search finds the
    # asset by it, and only while that version is live.
    store.write_notes(
        "nlp/ner", "1.0", labels={"stage": "production"}, description="", expected_seq=0
    )
    client = make_pages(tokens["admin"])

    def names(**params: str) -> list[str]:
        return [a["name"] for a in client.get("/api/v1/search", params=params).json()["assets"]]

    assert names(label="stage=production") == ["nlp/ner"]
    assert names(label="stage") == ["nlp/ner"]
    assert names(label="stage=candidate") == []
