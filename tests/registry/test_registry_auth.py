"""Who may do what through the registry: 401 without a (good) token, 403 without the scope,
prefix scopes hiding other names, revocation and expiry refused at once (on another replica
too), and the token's text never in an answer or a log line."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets

import pytest
from tests.registry.registry_helpers import API, MakeClient, asset, error_of, manifest_of, put_blobs

from modelshelf.errors import StoreAuthError
from modelshelf.registry.tokens import TokenBook
from modelshelf.store.bucket import Store

REALM = 'Bearer realm="modelshelf"'


def _seed(store: Store, book: TokenBook, make_client: MakeClient) -> None:
    """nlp/a:1 and cv/b:1, with an alias on each, pushed by an admin."""
    admin, _ = book.create("seed", ["admin:*"], None, created_by="test")
    client = make_client(admin)
    for name in ("nlp/a", "cv/b"):
        files = put_blobs(store, name.encode())
        response = client.put(asset(name, "versions", "1"), content=manifest_of(name, "1", files))
        assert response.status_code == 201
        assert client.put(asset(name, "aliases", "prod"), json={"version": "1"}).status_code == 200


def _refused(response: object, status: int) -> StoreAuthError:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    error = error_of(response)  # type: ignore[arg-type]
    assert isinstance(error, StoreAuthError)
    return error


def test_anonymous_gets_401_unless_a_prefix_is_public(
    store: Store, book: TokenBook, make_client: MakeClient
) -> None:
    _seed(store, book, make_client)
    closed = make_client()
    response = closed.get(asset("nlp/a", "versions"))
    error = _refused(response, 401)
    assert response.headers["www-authenticate"] == REALM
    assert "MODELSHELF_TOKEN" in str(error)
    # a listing without a token says why rather than answer an empty list
    _refused(closed.get(f"{API}/assets"), 401)
    _refused(closed.get(f"{API}/live-versions"), 401)

    public = make_client(anonymous_read=["cv"])
    assert public.get(asset("cv/b", "versions", "1")).status_code == 200
    assert public.get(f"{API}/assets").json()["assets"] == ["cv/b"]
    _refused(public.get(asset("nlp/a", "versions", "1")), 401)
    files = put_blobs(store, b"anon")
    push = public.put(asset("cv/b", "versions", "2"), content=manifest_of("cv/b", "2", files))
    _refused(push, 401)
    assert store.versions("cv/b") == store.taken_versions("cv/b")
    assert [str(v) for v in store.versions("cv/b")] == ["1"]


def test_read_token_cannot_write(store: Store, book: TokenBook, make_client: MakeClient) -> None:
    _seed(store, book, make_client)
    token, _ = book.create("reader", ["read:*"], None, created_by="test")
    client = make_client(token)
    files = put_blobs(store, b"new")
    push = client.put(asset("nlp/a", "versions", "2"), content=manifest_of("nlp/a", "2", files))
    error = _refused(push, 403)
    assert "reader" in str(error) and "write:nlp/a" in str(error)
    assert "www-authenticate" not in push.headers
    _refused(client.put(asset("nlp/a", "aliases", "prod"), json={"version": "1"}), 403)
    _refused(client.delete(asset("nlp/a", "aliases", "prod")), 403)
    _refused(client.post(asset("nlp/a", "log"), json={"action": "copy", "fields": {}}), 403)
    _refused(client.post(asset("nlp/a", "versions", "1", "remove"), json={}), 403)
    _refused(client.get(f"{API}/tokens"), 403)
    assert [str(v) for v in store.taken_versions("nlp/a")] == ["1"]
    assert client.get(asset("nlp/a", "versions", "1")).status_code == 200


def test_prefix_token_neither_reads_nor_sees_other_names(
    store: Store, book: TokenBook, make_client: MakeClient
) -> None:
    _seed(store, book, make_client)
    token, _ = book.create("nlp-team", ["write:nlp/"], None, created_by="test")
    client = make_client(token)
    for path in (
        asset("cv/b", "versions"),
        asset("cv/b", "versions", "1"),
        asset("cv/b", "versions", "1", "removal"),
        asset("cv/b", "aliases"),
        asset("cv/b", "aliases", "prod"),
        asset("cv/b", "aliases", "prod", "history"),
        asset("cv/b", "log"),
    ):
        error = _refused(client.get(path), 403)
        assert "read:cv/b" in str(error), path
    assert client.get(f"{API}/assets").json()["assets"] == ["nlp/a"]
    assert client.get(f"{API}/assets", params={"prefix": "cv"}).json()["assets"] == []
    assert client.get(f"{API}/live-versions").json() == {"versions": [["nlp/a", "1"]]}
    assert client.get(asset("nlp/a", "versions", "1")).status_code == 200


def test_bad_headers_and_tokens_are_401(
    store: Store, book: TokenBook, make_client: MakeClient
) -> None:
    token, _ = book.create("real", ["read:*"], None, created_by="test")
    client = make_client()
    for header in (
        "Basic dXNlcjpwdw==",
        "Bearer",
        "Bearer not-a-token",
        "Bearer msr_ghost_secret",
        f"Bearer {token}x",
        f"Bearer {token[:-1]}",
    ):
        response = client.get(f"{API}/assets", headers={"Authorization": header})
        _refused(response, 401)
        assert response.headers["www-authenticate"] == REALM


def test_revoked_token_is_refused_at_once_by_every_replica(
    store: Store, book: TokenBook, make_client: MakeClient
) -> None:
    admin, _ = book.create("admin", ["admin:*"], None, created_by="test")
    token, _ = book.create("ci", ["read:*"], None, created_by="test")
    first, replica = make_client(token), make_client(token)
    assert first.get(f"{API}/assets").status_code == 200
    assert replica.get(f"{API}/assets").status_code == 200  # its record is cached now
    revoked = make_client(admin).delete(f"{API}/tokens/ci")
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    error = _refused(replica.get(f"{API}/assets"), 401)
    assert "revoked" in str(error) and "'ci'" in str(error)
    _refused(first.get(f"{API}/assets"), 401)


def test_expired_token_is_401(store: Store, make_client: MakeClient) -> None:
    secret = secrets.token_urlsafe(32)
    record = {
        "name": "old",
        "sha256": hashlib.sha256(secret.encode()).hexdigest(),
        "scopes": ["read:*"],
        "created": "2020-01-01T00:00:00.000000Z",
        "expires": "2020-04-01T00:00:00.000000Z",
        "created_by": "test",
    }
    store.backend.put("registry/tokens/old.json", json.dumps(record).encode(), mode="create")
    error = _refused(make_client(f"msr_old_{secret}").get(f"{API}/assets"), 401)
    assert "expired" in str(error)


def test_forged_token_record_is_refused(store: Store, make_client: MakeClient) -> None:
    store.backend.put("registry/tokens/evil.json", b'{"name": "evil", "scopes": "admin:*"}')
    _refused(make_client("msr_evil_abc").get(f"{API}/assets"), 401)


def test_token_text_never_in_answers_or_logs(
    store: Store, book: TokenBook, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    admin, _ = book.create("admin", ["admin:*"], None, created_by="test")
    weak, _ = book.create("weak", ["read:nlp/"], None, created_by="test")
    _seed(store, book, make_client)
    answers = []
    created = make_client(admin).post(f"{API}/tokens", json={"name": "new", "scopes": ["read:*"]})
    new_token = created.json()["token"]
    for client in (make_client(admin), make_client(weak), make_client(f"{weak}x")):
        for path in (API, f"{API}/assets", asset("cv/b", "versions", "1"), f"{API}/tokens"):
            answers.append(client.get(path))
        answers.append(client.put(asset("cv/b", "versions", "1"), content=b"{}"))
    text = "\n".join(r.text + json.dumps(dict(r.headers)) for r in answers)
    secrets_given = [t.split("_", 2)[2] for t in (admin, weak, new_token)]
    for secret in secrets_given:
        assert secret not in text
        assert secret not in caplog.text
    for key in store.backend.list("registry"):
        assert all(s.encode() not in store.backend.read(key.path) for s in secrets_given)
