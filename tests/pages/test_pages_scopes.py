"""What a token may not read is never shown: not in search results, counts, the log, alias
history or a diff; write controls render only with a write scope on the name."""

from __future__ import annotations

import pytest
from tests.pages.conftest import MakePages
from tests.pages.pages_helpers import commit

from modelshelf.store.bucket import Store


def test_a_token_for_nlp_sees_nothing_of_cv_anywhere(
    make_pages: MakePages, tokens: dict[str, str]
) -> None:
    client = make_pages(tokens["reader"])
    pages = [
        "/",
        "/?q=*",
        "/?text=secret",
        "/?label=team=cv",
        "/log",
        "/log?asset=cv/secret",
        "/log?who=",
        "/api/v1/search",
        "/api/v1/log",
        "/api/v1/log?asset=cv/secret",
    ]
    for path in pages:
        answer = client.get(path)
        assert answer.status_code == 200, path
        shown = answer.text.replace('value="cv/secret"', "")  # the filter the caller typed
        assert "cv/secret" not in shown and "secret cv" not in shown, path
    body = client.get("/api/v1/search").json()
    assert body["total"] == 2 and [a["name"] for a in body["assets"]] == [
        "nlp/ner",
        "nlp/sentiment",
    ]
    assert '<p id="result-count">2 assets' in client.get("/").text
    assert "0 assets" in client.get("/?text=secret").text
    assert client.get("/api/v1/log?asset=cv/secret").json()["total"] == 0
    for path in (
        "/a/cv/secret",
        "/a/cv/secret/-/v/1.0",
        "/a/cv/secret/-/diff/1.0...1.0",
        "/api/v1/assets/cv/secret/-/overview",
    ):
        assert client.get(path).status_code == 403, path


def test_signed_out_sees_no_asset_and_is_asked_to_sign_in(make_pages: MakePages) -> None:
    client = make_pages()
    text = client.get("/").text
    assert "0 assets" in text and 'id="nav-sign-in"' in text and 'class="asset"' not in text
    answer = client.get("/a/nlp/sentiment")
    assert answer.status_code == 401 and 'href="/sign-in"' in answer.text


def test_anonymous_read_prefixes_show_their_assets_only(make_pages: MakePages) -> None:
    client = make_pages(anonymous_read=["nlp/"])
    names = [a["name"] for a in client.get("/api/v1/search").json()["assets"]]
    assert names == ["nlp/ner", "nlp/sentiment"]


def test_write_controls_need_a_write_scope_on_that_name(
    make_pages: MakePages, tokens: dict[str, str]
) -> None:
    reader = make_pages(tokens["reader"]).get("/a/nlp/sentiment").text
    assert 'id="move-alias"' not in reader and 'id="edit-notes"' not in reader
    writer = make_pages(tokens["writer"]).get("/a/nlp/sentiment").text
    assert 'id="move-alias"' in writer and 'id="edit-notes"' in writer


def test_alias_history_and_counts_follow_the_scope(
    make_pages: MakePages, tokens: dict[str, str], store: Store
) -> None:
    overview = make_pages(tokens["reader"]).get("/api/v1/assets/nlp/sentiment/-/overview").json()
    assert [(r["previous"], r["version"]) for r in overview["alias_history"]] == [
        ("1.0", "1.1"),
        (None, "1.0"),
    ]
    assert [v["version"] for v in overview["versions"]] == ["1.2", "1.1", "1.0"]
    assert overview["versions"][1]["aliases"] == ["production"]


def test_the_json_twins_ask_for_a_token_as_the_api_does(make_pages: MakePages) -> None:
    client = make_pages()
    for path in ("/api/v1/search", "/api/v1/log"):
        answer = client.get(path)
        assert answer.status_code == 401 and answer.json()["error"]["type"] == "StoreAuthError"


def test_a_diff_like_name_says_nothing_of_names_the_caller_may_not_read(
    make_pages: MakePages, tokens: dict[str, str], store: Store
) -> None:
    weights = store.read_manifest("cv/secret", "1.0").files
    commit(store, "cv/secret/diff/1.0...1.1", "1.0", list(weights), "hidden")
    client = make_pages(tokens["reader"])  # read:nlp/ only
    answers = [
        client.get(f"/a/{name}/diff/1.0...1.1", follow_redirects=False)
        for name in ("cv/secret", "cv/other")
    ]
    assert [a.status_code for a in answers] == [308, 308]
    assert answers[0].headers["location"] == "/a/cv/secret/-/diff/1.0...1.1"
    assert client.get(answers[0].headers["location"]).status_code == 403


def test_a_removed_alias_keeps_its_history_on_the_asset_page(
    make_pages: MakePages, tokens: dict[str, str], store: Store
) -> None:
    store.set_alias("nlp/sentiment", "canary", "1.2")
    store.remove_alias("nlp/sentiment", "canary")
    client = make_pages(tokens["reader"])
    overview = client.get("/api/v1/assets/nlp/sentiment/-/overview").json()
    canary = [
        (r["previous"], r["version"]) for r in overview["alias_history"] if r["alias"] == "canary"
    ]
    assert canary == [("1.2", None), (None, "1.2")]
    assert "canary" not in overview["aliases"]
    page = client.get("/a/nlp/sentiment").text
    assert "(removed)" in page


def test_the_alias_history_on_a_page_is_bounded_and_points_at_the_log(
    make_pages: MakePages, tokens: dict[str, str], store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelshelf.registry.pages import _views

    monkeypatch.setattr(_views, "HISTORY_SHOWN", 3)
    monkeypatch.setattr(_views, "HISTORY_ALIASES", 2)
    for n in range(4):  # four removed aliases of two moves each, beside production
        store.set_alias("nlp/sentiment", f"tmp{n}", "1.2")
        store.remove_alias("nlp/sentiment", f"tmp{n}")
    client = make_pages(tokens["reader"])
    overview = client.get("/api/v1/assets/nlp/sentiment/-/overview").json()
    assert len(overview["alias_history"]) == 3 and overview["alias_history_cut"] is True
    assert {r["alias"] for r in overview["alias_history"]} <= {"production", "tmp0"}
    assert "the audit log</a> has every one" in client.get("/a/nlp/sentiment").text
