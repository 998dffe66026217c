"""Sign-in sets an HttpOnly, SameSite=Strict cookie; the cookie reads (GET and HEAD) but never
writes through the API; a page's write without its CSRF token is refused with nothing written;
``modelshelf ui``'s single user writes as the local user."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient
from tests.pages.conftest import MakePages
from tests.pages.pages_helpers import UI_BASE, csrf_of, open_ui

from modelshelf.registry.app import create_app
from modelshelf.registry.pages.session import COOKIE, LocalUser, csrf_token
from modelshelf.registry.tokens import TokenBook
from modelshelf.store.bucket import Store


def _keys(store: Store) -> set[str]:
    return {m.path for m in store.backend.list("") if not m.path.endswith(".used")}


def test_sign_in_sets_a_strict_http_only_cookie(
    make_pages: MakePages, tokens: dict[str, str]
) -> None:
    client = make_pages()
    answer = client.post("/sign-in", data={"token": tokens["reader"]}, follow_redirects=False)
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for flag in ("HttpOnly", "SameSite=strict", "Path=/", "Max-Age=43200"):
        assert flag in cookie
    assert "Secure" not in cookie
    page = client.get("/")
    assert 'id="sign-out"' in page.text and "reader" in page.text


def test_over_https_the_cookie_is_secure(make_pages: MakePages, tokens: dict[str, str]) -> None:
    client = make_pages(base_url="https://testserver")
    answer = client.post("/sign-in", data={"token": tokens["reader"]}, follow_redirects=False)
    assert "Secure" in answer.headers["set-cookie"]


def test_a_refused_token_says_so_on_the_form(make_pages: MakePages, tokens: dict[str, str]) -> None:
    client = make_pages()
    answer = client.post("/sign-in", data={"token": tokens["reader"] + "x"})
    assert answer.status_code == 401 and 'id="sign-in-error"' in answer.text
    assert "set-cookie" not in answer.headers
    assert tokens["reader"] not in answer.text


def test_sign_out_clears_the_cookie(make_pages: MakePages, tokens: dict[str, str]) -> None:
    client = make_pages(tokens["reader"])
    csrf = csrf_of(client.get("/").text)
    assert client.post("/sign-out", data={}).status_code == 403  # no CSRF token: refused
    answer = client.post("/sign-out", data={"csrf": csrf}, follow_redirects=False)
    assert answer.status_code == 303 and f'{COOKIE}=""' in answer.headers["set-cookie"]


def test_the_cookie_never_writes_through_the_api(
    make_pages: MakePages, tokens: dict[str, str], store: Store
) -> None:
    client = make_pages(tokens["admin"])
    assert client.get("/api/v1/assets/nlp/sentiment/-/aliases").status_code == 200  # reads
    before = _keys(store)
    answer = client.put(
        "/api/v1/assets/nlp/sentiment/-/aliases/production", json={"version": "1.2"}
    )
    assert answer.status_code == 401
    assert _keys(store) == before


@pytest.mark.parametrize("route", ["alias", "notes"])
@pytest.mark.parametrize("csrf", [None, "", "0" * 64, "forged"])
def test_a_write_without_the_csrf_token_is_refused_and_writes_nothing(
    make_pages: MakePages, tokens: dict[str, str], store: Store, route: str, csrf: str | None
) -> None:
    client = make_pages(tokens["admin"])
    form = {
        "alias": "production",
        "version": "1.2",
        "expected": "production=1.1",
        "labels": "team=evil",
        "description": "x",
        "expected_seq": "1",
    }
    if csrf is not None:
        form["csrf"] = csrf
    before = _keys(store)
    answer = client.post(f"/a/nlp/sentiment/-/{route}", data=form)
    assert answer.status_code == 403 and 'id="error"' in answer.text
    assert _keys(store) == before


def test_another_sessions_csrf_token_is_refused(
    make_pages: MakePages, tokens: dict[str, str], store: Store
) -> None:
    client = make_pages(tokens["admin"])
    before = _keys(store)
    form = {
        "csrf": csrf_token(TokenBook(store).start_session("writer")[0]),
        "alias": "production",
        "version": "1.2",
        "expected": "production=1.1",
    }
    assert client.post("/a/nlp/sentiment/-/alias", data=form).status_code == 403
    assert _keys(store) == before


def test_moving_an_alias_and_editing_notes_from_the_pages_is_audited(
    make_pages: MakePages, tokens: dict[str, str], store: Store
) -> None:
    client = make_pages(tokens["writer"])
    csrf = csrf_of(client.get("/a/nlp/sentiment").text)
    form = {"csrf": csrf, "alias": "production", "version": "1.2", "expected": "production=1.1"}
    answer = client.post("/a/nlp/sentiment/-/alias", data=form)
    assert answer.status_code == 200 and 'id="flash"' in answer.text
    assert store.read_alias("nlp/sentiment", "production").version == "1.2"
    stale = client.post("/a/nlp/sentiment/-/alias", data={**form, "version": "1.0"})
    assert stale.status_code == 409 and 'id="error"' in stale.text  # the page saw 1.1
    form = {
        "csrf": csrf,
        "labels": "team=nlp\nstage=candidate",
        "description": "# New card",
        "expected_seq": "1",
    }
    answer = client.post("/a/nlp/sentiment/-/notes", data=form)
    assert answer.status_code == 200 and "stage=candidate" in answer.text
    assert "<h2>New card</h2>" in answer.text
    assert client.post("/a/nlp/sentiment/-/notes", data=form).status_code == 409  # seq 1 is old
    records = store.log("nlp/sentiment")
    alias = [r for r in records if r["action"] == "alias"][-1]
    label = [r for r in records if r["action"] == "label"][-1]
    assert alias["user"] == "writer" and alias["version"] == "1.2" and alias["previous"] == "1.1"
    assert label["user"] == "writer" and label["description_changed"] is True
    assert label["labels"] == "stage=candidate, team=nlp"


def test_a_read_token_cannot_write_even_with_its_csrf_token(
    make_pages: MakePages, tokens: dict[str, str], store: Store
) -> None:
    client = make_pages(tokens["reader"])
    csrf = csrf_of(client.get("/").text)
    before = _keys(store)
    form = {"csrf": csrf, "alias": "production", "version": "1.2", "expected": "production=1.1"}
    assert client.post("/a/nlp/sentiment/-/alias", data=form).status_code == 403
    assert _keys(store) == before


def test_ui_mode_reads_and_writes_everything_as_the_local_user(store: Store) -> None:
    user = LocalUser("ann", "laptop")
    app = create_app(store, local_user=user)
    with TestClient(app, base_url=UI_BASE) as client:
        open_ui(client, user)
        page = client.get("/a/cv/secret").text
        assert 'id="move-alias"' in page and 'id="nav-sign-in"' not in page
        form = {
            "csrf": csrf_of(page),
            "labels": "team=cv\nreviewed",
            "description": "",
            "expected_seq": "1",
        }
        assert client.post("/a/cv/secret/-/notes", data=form).status_code == 200
        assert (
            client.post("/a/cv/secret/-/notes", data={**form, "csrf": "0" * 64}).status_code == 403
        )
        before = _keys(store)  # the API takes no write without a token, even here
        answer = client.put(
            "/api/v1/assets/cv/secret/-/aliases/production", json={"version": "1.0"}
        )
        assert answer.status_code == 401 and _keys(store) == before
    notes = store.read_notes("cv/secret")
    assert notes.labels == {"team": "cv", "reviewed": ""} and notes.who == "ann"
    label = [r for r in store.log("cv/secret") if r["action"] == "label"][-1]
    assert (label["user"], label["host"], label["via"]) == ("ann", "laptop", "ui")


def test_a_revoked_session_shows_the_pages_signed_out(
    make_pages: MakePages, tokens: dict[str, str], store: Store
) -> None:
    client = make_pages(tokens["reader"])
    TokenBook(store).revoke("reader")
    page = client.get("/")
    assert page.status_code == 200 and 'id="nav-sign-in"' in page.text
    assert 'id="error"' in page.text and "sign in again" in page.text
    assert client.get("/sign-in").status_code == 200
    assert client.get("/a/nlp/sentiment").status_code == 401
    assert client.get("/api/v1/search").status_code == 401  # the API says so plainly


def test_another_site_cannot_sign_this_browser_in(
    make_pages: MakePages, tokens: dict[str, str]
) -> None:
    client = make_pages()
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        answer = client.post("/sign-in", data={"token": tokens["reader"]}, headers=headers)
        assert answer.status_code == 403 and "set-cookie" not in answer.headers
    same = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    answer = client.post(
        "/sign-in", data={"token": tokens["reader"]}, headers=same, follow_redirects=False
    )
    assert answer.status_code == 303 and "set-cookie" in answer.headers


def test_a_versions_notes_are_edited_from_its_page(
    make_pages: MakePages, tokens: dict[str, str], store: Store
) -> None:
    client = make_pages(tokens["writer"])
    page = client.get("/a/nlp/sentiment/-/v/1.1").text
    assert 'id="edit-version-notes"' in page
    form = {
        "csrf": csrf_of(page),
        "version": "1.1",
        "expected_seq": "0",
        "labels": "stage=archived",
        "description": "Kept for *audits*.",
    }
    answer = client.post("/a/nlp/sentiment/-/notes", data=form)
    assert answer.status_code == 200 and 'id="flash"' in answer.text
    assert "stage=archived" in answer.text and "<em>audits</em>" in answer.text
    assert store.read_notes("nlp/sentiment", "1.1").labels == {"stage": "archived"}
    label = [r for r in store.log("nlp/sentiment") if r["action"] == "label"][-1]
    assert label["version"] == "1.1" and label["user"] == "writer"
    reader = make_pages(tokens["reader"]).get("/a/nlp/sentiment/-/v/1.1").text
    assert 'id="edit-version-notes"' not in reader and "stage=archived" in reader
