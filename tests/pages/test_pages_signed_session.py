"""The session cookie is a signed, expiring session, never the token: ``name.expiry.HMAC``,
checked on every request (not ended, token known and not revoked, HMAC in constant time);
``__Host-`` prefixed over https; the CSRF token derives from the session."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import time
from pathlib import Path

from tests.pages.conftest import MakePages
from tests.pages.pages_helpers import csrf_of

from modelshelf.backends.registry import open_backend
from modelshelf.registry.pages.session import COOKIE, SECURE_COOKIE, csrf_token
from modelshelf.registry.tokens import TokenBook
from modelshelf.store.bucket import Store


def _session_of(set_cookie: str, name: str = COOKIE) -> str:
    found = re.match(rf"{re.escape(name)}=([^;]*)", set_cookie)
    assert found, set_cookie
    return found[1]


def test_the_cookie_is_a_signed_session_not_the_token(
    make_pages: MakePages, tokens: dict[str, str]
) -> None:
    client = make_pages()
    answer = client.post("/sign-in", data={"token": tokens["reader"]}, follow_redirects=False)
    session = _session_of(answer.headers["set-cookie"])
    secret = tokens["reader"].split("_", 2)[2]  # msr_<name>_<secret>: the secret may hold _
    assert tokens["reader"] not in session and secret not in session
    name, expiry, nonce, mac = session.rsplit(".", 3)
    assert name == "reader" and re.fullmatch(r"[0-9a-f]{64}", mac)
    assert re.fullmatch(r"[0-9a-f]{32}", nonce)  # two sign-ins never make the same session
    assert 0 < int(expiry) - time.time() <= 12 * 3600
    page = client.get("/a/nlp/sentiment")
    assert page.status_code == 200 and csrf_of(page.text) == csrf_token(session)


def test_a_forged_or_ended_session_is_signed_out(
    make_pages: MakePages, tokens: dict[str, str], store: Store
) -> None:
    good, _ = TokenBook(store).start_session("reader")
    name, expiry, nonce, mac = good.rsplit(".", 3)
    ended, _ = TokenBook(store).start_session("reader", seconds=-60)
    forged = [
        f"{name}.{int(expiry) + 3600}.{nonce}.{mac}",  # a later expiry, the old HMAC
        f"writer.{expiry}.{nonce}.{mac}",  # another token's name
        f"{name}.{expiry}.{'1' * 32}.{mac}",  # another nonce
        f"{name}.{expiry}.{nonce}.{'0' * 64}",
        f"{name}.{expiry}.{mac}",  # the old format, without a nonce
        ended,
        tokens["reader"],  # the token itself is no session
        "nobody.9999999999." + "1" * 32 + "." + "a" * 64,
    ]
    for session in forged:
        client = make_pages(anonymous_read=())
        client.cookies.set(COOKIE, session)
        page = client.get("/")
        assert 'id="nav-sign-in"' in page.text and "sign in again" in page.text, session
        assert client.get("/api/v1/assets/nlp/sentiment/-/overview").status_code == 401
    client = make_pages()
    client.cookies.set(COOKIE, good)
    assert client.get("/api/v1/assets/nlp/sentiment/-/overview").status_code == 200
    TokenBook(store).revoke("reader")
    assert client.get("/api/v1/assets/nlp/sentiment/-/overview").status_code == 401


def test_over_https_the_cookie_is_host_prefixed(
    make_pages: MakePages, tokens: dict[str, str]
) -> None:
    client = make_pages(base_url="https://testserver")
    answer = client.post("/sign-in", data={"token": tokens["reader"]}, follow_redirects=False)
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SECURE_COOKIE}=") and "Domain" not in cookie
    for flag in ("Secure", "Path=/", "HttpOnly", "SameSite=strict"):
        assert flag in cookie
    assert 'id="sign-out"' in client.get("/").text  # read back under its https name
    assert client.get("/a/nlp/sentiment").status_code == 200


def test_a_session_ends_with_its_token(store: Store) -> None:
    book = TokenBook(store)
    book.create("short", ["read:nlp/"], "1h", created_by="test")
    _, seconds = book.start_session("short")
    assert 3500 < seconds <= 3600


def test_what_the_bucket_holds_signs_no_session(
    make_pages: MakePages, tokens: dict[str, str], store: Store
) -> None:
    # Whoever reads the bucket (a read-only credential) reads every token's stored hash: a
    # session keyed by the hash alone would let them write through the pages as any token.
    record = json.loads(store.backend.read("registry/tokens/writer.json"))
    expiry = int(time.time()) + 3600
    for key in (
        bytes.fromhex(record["sha256"]),
        hmac.new(
            bytes.fromhex(record["sha256"]), b"modelshelf-session-key", hashlib.sha256
        ).digest(),
    ):
        nonce = "2" * 32
        mac = hmac.new(key, f"writer|{expiry}|{nonce}".encode(), hashlib.sha256).hexdigest()
        client = make_pages(anonymous_read=())
        client.cookies.set(COOKIE, f"writer.{expiry}.{nonce}.{mac}")
        assert client.get("/api/v1/assets/nlp/sentiment/-/overview").status_code == 401
    # The server's own key makes one, and another server's key (another replica without the
    # shared MODELSHELF_REGISTRY_SESSION_SECRET) does not verify it.
    other, _ = TokenBook(store, session_secret=b"x" * 32).start_session("writer")
    client = make_pages(anonymous_read=())
    client.cookies.set(COOKIE, other)
    assert client.get("/api/v1/assets/nlp/sentiment/-/overview").status_code == 401


def test_a_signed_out_session_ends_on_every_replica(
    make_pages: MakePages, tokens: dict[str, str], store: Store
) -> None:
    # A copy of the cookie (another browser, a proxy's log) stops working at sign-out, on this
    # app and on another over the same store: the marker is in the store.
    client = make_pages()
    answer = client.post("/sign-in", data={"token": tokens["writer"]}, follow_redirects=False)
    session = _session_of(answer.headers["set-cookie"])
    page = client.get("/a/nlp/sentiment")
    copied_csrf = csrf_of(page.text)
    out = client.post("/sign-out", data={"csrf": copied_csrf}, follow_redirects=False)
    assert out.status_code == 303
    for replica in (make_pages(anonymous_read=()), make_pages(anonymous_read=())):
        replica.cookies.set(COOKIE, session)
        assert replica.get("/api/v1/assets/nlp/sentiment/-/overview").status_code == 401
        wrote = replica.post(
            "/a/nlp/sentiment/-/notes",
            data={
                "csrf": copied_csrf,
                "labels": "pwned=yes",
                "description": "",
                "expected_seq": "0",
            },
            follow_redirects=False,
        )
        assert wrote.status_code in (401, 403)
    assert "pwned" not in store.read_notes("nlp/sentiment").labels


def test_sign_out_markers_are_dropped_once_their_sessions_would_have_ended(
    tmp_path: Path,
) -> None:
    store = Store(open_backend((tmp_path / "store").as_uri()))
    store.create()
    book = TokenBook(store)
    book.create("ann", ["read:*"], None, created_by="test")
    old, _ = book.start_session("ann")
    new, _ = book.start_session("ann")
    book.end_session(old)
    book.end_session(new)
    book.end_session("not.a.session")  # ignored
    markers = sorted((tmp_path / "store" / "registry" / "sessions").iterdir())
    assert len(markers) == 2
    aged = time.time() - 14 * 3600
    old_marker = tmp_path / "store" / book._ended_key(old)
    os.utime(old_marker, (aged, aged))
    assert book.drop_ended_sessions() == 1
    assert not old_marker.exists() and (tmp_path / "store" / book._ended_key(new)).exists()
