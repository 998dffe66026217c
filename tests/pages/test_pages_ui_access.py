"""``modelshelf ui`` answers only its own address (no DNS rebinding) and only a browser that
opened the URL it printed (the process's secret, kept in a cookie)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient
from tests.pages.pages_helpers import UI_BASE, csrf_of, open_ui

from modelshelf.registry.app import create_app
from modelshelf.registry.pages.session import LocalUser
from modelshelf.registry.pages.ui_access import QUERY
from modelshelf.store.bucket import Store

REBOUND = {"host": "evil.example:8090"}


@pytest.fixture
def ui(store: Store) -> Iterator[tuple[TestClient, LocalUser]]:
    user = LocalUser("ann", "laptop")
    with TestClient(
        create_app(store, local_user=user), base_url=UI_BASE, raise_server_exceptions=False
    ) as client:
        user.access.listen("127.0.0.1", 8090)
        yield client, user


def _blob_of(store: Store) -> str:
    return store.read_manifest("cv/secret", "1.0").files[0].sha256


def test_a_rebound_host_reads_and_writes_nothing(
    ui: tuple[TestClient, LocalUser], store: Store
) -> None:
    client, user = ui
    open_ui(client, user)  # even a browser holding the cookie: the Host decides first
    form = {"csrf": csrf_of(client.get("/a/nlp/sentiment").text), "labels": "pwned=yes"}
    for path in (
        "/a/cv/secret",
        "/api/v1/assets/cv/secret/-/versions/1.0",
        f"/api/v1/blobs/{_blob_of(store)}",
        f"/?{QUERY}={user.access.value}",
    ):
        answer = client.get(path, headers=REBOUND, follow_redirects=False)
        assert answer.status_code == 421, path
        assert "set-cookie" not in answer.headers
    before = store.read_notes("nlp/sentiment")
    answer = client.post("/a/nlp/sentiment/-/notes", data=form, headers=REBOUND)
    assert answer.status_code == 421 and store.read_notes("nlp/sentiment") == before


@pytest.mark.parametrize("host", ["127.0.0.1:8090", "localhost:8090", "[::1]:8090"])
def test_the_loopback_names_with_the_port_are_answered(
    ui: tuple[TestClient, LocalUser], host: str
) -> None:
    client, user = ui
    open_ui(client, user)
    assert client.get("/", headers={"host": host}).status_code == 200
    assert client.get("/", headers={"host": "127.0.0.1:8091"}).status_code == 421


def test_without_the_secret_a_page_says_where_the_url_is(
    ui: tuple[TestClient, LocalUser], store: Store
) -> None:
    client, _ = ui
    page = client.get("/a/cv/secret")
    assert page.status_code == 403 and "terminal" in page.text and "secret" not in page.text
    api = client.get("/api/v1/assets/cv/secret/-/versions/1.0")
    assert api.status_code == 403 and "terminal" in api.json()["error"]["message"]
    assert client.get(f"/api/v1/blobs/{_blob_of(store)}").status_code == 403
    assert client.get(f"/?{QUERY}=wrong").status_code == 403
    assert client.post("/a/cv/secret/-/notes", data={"labels": "x"}).status_code == 403


def test_the_printed_url_sets_a_strict_cookie_and_drops_the_secret(
    ui: tuple[TestClient, LocalUser],
) -> None:
    client, user = ui
    answer = client.get(f"/log?action=label&{QUERY}={user.access.value}", follow_redirects=False)
    # The secret and every other parameter dropped (a made-up `done=` shows a false notice).
    assert answer.status_code == 303 and answer.headers["location"] == "/log"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"modelshelf_ui_8090={user.access.value}")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert client.get("/a/cv/secret").status_code == 200
    assert client.get("/api/v1/assets/cv/secret/-/versions/1.0").status_code == 200


def test_the_printed_url_holds_the_secret() -> None:
    user = LocalUser("ann", "laptop")
    assert not user.access.hosts  # before it listens, no Host is answered
    user.access.listen("127.0.0.1", 8091)
    assert user.access.entry_url("http://127.0.0.1:8091") == (
        f"http://127.0.0.1:8091/?{QUERY}={user.access.value}"
    )
    assert LocalUser("ann", "laptop").access.value != user.access.value


def test_the_redirect_after_the_secret_stays_on_the_ui(ui: tuple[TestClient, LocalUser]) -> None:
    client, user = ui
    answer = client.get(f"/%2Fevil.example/x?{QUERY}={user.access.value}", follow_redirects=False)
    assert answer.status_code == 303
    assert not answer.headers["location"].startswith("//")
    assert answer.headers["location"] == "/evil.example/x"
