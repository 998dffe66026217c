"""The registry's admin routes (``admin:*``): tokens, the blob listing and deletion, gc's
quarantine; and :class:`TokenBook` used straight on a store, as ``registry token`` does."""

from __future__ import annotations

import pytest
from tests.registry.registry_helpers import API, MakeClient, error_of, put_blobs

from modelshelf.errors import (
    InvalidInputError,
    ObjectExistsError,
    ObjectNotFoundError,
    StoreAuthError,
)
from modelshelf.registry.tokens import TokenBook, parse_duration
from modelshelf.store.bucket import Store

RUN = "20261207T120000Z-0123456789ab"


def test_token_routes(store: Store, book: TokenBook, make_client: MakeClient) -> None:
    admin, _ = book.create("root", ["admin:*"], None, created_by="test")
    client = make_client(admin)
    created = client.post(
        f"{API}/tokens", json={"name": "ci", "scopes": ["write:nlp/"], "expires": "90d"}
    )
    assert created.status_code == 201
    body = created.json()
    assert body["token"].startswith("msr_ci_") and "sha256" not in body
    assert (body["created_by"], body["scopes"]) == ("root", ["write:nlp/"])
    assert body["expires"] > body["created"]
    assert make_client(body["token"]).get(API).json()["who"] == "ci"

    again = client.post(f"{API}/tokens", json={"name": "ci", "scopes": ["read:*"]})
    assert again.status_code == 409 and isinstance(error_of(again), ObjectExistsError)
    for bad in (
        {"name": "Bad_Name", "scopes": ["read:*"]},
        {"name": "ok", "scopes": []},
        {"name": "ok", "scopes": ["fly:*"]},
        {"name": "ok", "scopes": ["read:*"], "expires": "forever"},
        {"name": "ok", "scopes": "read:*"},
    ):
        refused = client.post(f"{API}/tokens", json=bad)
        assert refused.status_code == 400, bad
        assert isinstance(error_of(refused), InvalidInputError)

    listed = client.get(f"{API}/tokens").json()["tokens"]
    assert [t["name"] for t in listed] == ["ci", "root"]
    assert all("sha256" not in t and "token" not in t for t in listed)
    assert listed[1]["last_used"] is not None and listed[0]["revoked"] is False
    assert client.delete(f"{API}/tokens/ci").status_code == 200
    assert client.delete(f"{API}/tokens/ci").status_code == 200  # revoking again is harmless
    assert [t["revoked"] for t in client.get(f"{API}/tokens").json()["tokens"]] == [True, False]
    unknown = client.delete(f"{API}/tokens/nobody")
    assert unknown.status_code == 404 and isinstance(error_of(unknown), ObjectNotFoundError)


def test_blob_listing_pages_and_deletes(
    store: Store, book: TokenBook, make_client: MakeClient
) -> None:
    admin, _ = book.create("root", ["admin:*"], None, created_by="test")
    client = make_client(admin)
    entries = sorted(put_blobs(store, b"a", b"bb", b"ccc"), key=lambda e: e.sha256)
    first = client.get(f"{API}/blobs", params={"limit": 2}).json()
    assert [b[:2] for b in first["blobs"]] == [[e.sha256, e.size] for e in entries[:2]]
    assert first["next"] == entries[1].sha256
    assert all(isinstance(b[2], str) for b in first["blobs"])
    rest = client.get(f"{API}/blobs", params={"after": first["next"]}).json()
    assert [b[0] for b in rest["blobs"]] == [entries[2].sha256] and rest["next"] is None
    assert client.delete(f"{API}/blobs/{entries[0].sha256}").status_code == 204
    assert not store.has_blob(entries[0].sha256)
    assert client.delete(f"{API}/blobs/NOT-A-SHA").status_code == 400


def test_quarantine_routes(store: Store, book: TokenBook, make_client: MakeClient) -> None:
    admin, _ = book.create("root", ["admin:*"], None, created_by="test")
    client = make_client(admin)
    (entry,) = put_blobs(store, b"doomed")
    moved = client.post(f"{API}/quarantine/{RUN}/{entry.sha256}")
    assert moved.status_code == 200 and not store.has_blob(entry.sha256)
    gone = client.post(f"{API}/quarantine/{RUN}/{entry.sha256}")
    assert gone.status_code == 404
    listed = client.get(f"{API}/quarantine").json()["blobs"]
    assert [b[:3] for b in listed] == [[RUN, entry.sha256, entry.size]]
    back = client.post(f"{API}/quarantine/{RUN}/{entry.sha256}/restore", json={"size": 6})
    assert back.status_code == 200 and store.has_blob(entry.sha256, 6)
    assert client.delete(f"{API}/quarantine/{RUN}/{entry.sha256}").status_code == 204
    assert client.get(f"{API}/quarantine").json() == {"blobs": []}
    assert client.post(f"{API}/quarantine/not-a-run/{entry.sha256}").status_code == 400


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/tokens"),
        ("POST", "/tokens"),
        ("DELETE", "/tokens/x"),
        ("GET", "/blobs"),
        ("DELETE", f"/blobs/{'0' * 64}"),
        ("GET", "/quarantine"),
        ("POST", f"/quarantine/{RUN}/{'0' * 64}"),
        ("DELETE", f"/quarantine/{RUN}/{'0' * 64}"),
    ],
)
def test_admin_routes_need_admin_on_everything(
    method: str, path: str, book: TokenBook, make_client: MakeClient
) -> None:
    token, _ = book.create("nlp-admin", ["admin:nlp/"], None, created_by="test")
    response = make_client(token).request(method, f"{API}{path}", json={})
    assert response.status_code == 403
    error = error_of(response)
    assert isinstance(error, StoreAuthError) and "admin:*" in str(error)
    assert make_client().request(method, f"{API}{path}", json={}).status_code == 401


def test_token_book_on_the_store(store: Store, book: TokenBook) -> None:
    text, record = book.create("direct", ["read:cv"], "12h", created_by="ann")
    assert "sha256" not in record and text.startswith("msr_direct_")
    stored = store.backend.read("registry/tokens/direct.json")
    assert text.split("_", 2)[2].encode() not in stored
    principal = TokenBook(store).verify(text)  # another process: reads the record itself
    assert principal.can("read", "cv/x") and not principal.can("read", "cvx")
    assert not principal.can("write", "cv/x")
    book.revoke("direct")
    with pytest.raises(StoreAuthError, match="revoked"):
        book.verify(text)
    with pytest.raises(ObjectExistsError):
        book.create("direct", ["read:*"], None, created_by="ann")
    with pytest.raises(InvalidInputError):
        book.create("x" * 64, ["read:*"], None, created_by="ann")


@pytest.mark.parametrize(
    ("text", "seconds"), [("90d", 90 * 86400), ("12h", 43200), ("30m", 1800), ("1d", 86400)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "0d", "90", "d", "1.5h", "1w", "-1d", "1d2h", "9999999d"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(InvalidInputError, match="duration"):
        parse_duration(text)
