"""The blob and upload routes inside the whole registry app (``create_app``): real tokens,
the app's error answers, and the client's reading of them.

``registry/app.py`` and ``registry/tokens.py`` are another part of issue 23: until they are
merged with these routes, this module is skipped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from modelshelf.errors import IntegrityError, StoreAuthError
from modelshelf.registry import uploads
from modelshelf.store.bucket import Store
from modelshelf.store.http_protocol import error_from_body

app_module = pytest.importorskip("modelshelf.registry.app")
tokens_module = pytest.importorskip("modelshelf.registry.tokens")

CONTENT = b"a blob of the registry " * 5000
SHA = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture
def tokens(store: Store) -> dict[str, str]:
    book = tokens_module.TokenBook(store)
    made = {}
    for name, scope in (("writer", "write:nlp/"), ("reader", "read:nlp/"), ("other", "write:*")):
        made[name], _ = book.create(name, [scope], None, "test")
    return made


@pytest.fixture
def client(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    app = app_module.create_app(store, spool_dir=tmp_path / "spool")
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_writer_uploads_and_a_reader_reads(client: TestClient, tokens: dict[str, str]) -> None:
    put = client.put(f"/api/v1/blobs/{SHA}", content=CONTENT, headers=auth(tokens["writer"]))
    assert put.status_code == 201
    got = client.get(f"/api/v1/blobs/{SHA}", headers=auth(tokens["reader"]))
    assert got.content == CONTENT
    ranged = client.get(
        f"/api/v1/blobs/{SHA}", headers={**auth(tokens["reader"]), "Range": "bytes=0-9"}
    )
    assert (ranged.status_code, ranged.content) == (206, CONTENT[:10])


def test_refusals_are_401_and_403(client: TestClient, tokens: dict[str, str]) -> None:
    anonymous = client.get(f"/api/v1/blobs/{SHA}")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="modelshelf"'
    reader = client.put(f"/api/v1/blobs/{SHA}", content=CONTENT, headers=auth(tokens["reader"]))
    assert reader.status_code == 403
    assert isinstance(error_from_body(403, reader.json(), "http://r"), StoreAuthError)


def test_the_client_rebuilds_a_lying_upload_as_an_integrity_error(
    client: TestClient, tokens: dict[str, str]
) -> None:
    lying = client.put(
        f"/api/v1/blobs/{'ab' * 32}", content=CONTENT, headers=auth(tokens["writer"])
    )
    assert lying.status_code == 422
    error = error_from_body(422, lying.json(), "http://r")
    assert isinstance(error, IntegrityError)
    assert (error.expected, error.actual) == ("ab" * 32, SHA)


def test_statuses_of_their_own_come_through(
    client: TestClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = auth(tokens["writer"])
    chunked = client.put(f"/api/v1/blobs/{SHA}", content=iter([CONTENT]), headers=writer)
    assert chunked.status_code == 411
    monkeypatch.setattr(uploads, "MAX_SINGLE", 10)
    assert client.put(f"/api/v1/blobs/{SHA}", content=CONTENT, headers=writer).status_code == 413
    monkeypatch.setattr(uploads, "CHUNK", 50_000)
    opened = client.post(
        f"/api/v1/blobs/{SHA}/uploads", json={"size": len(CONTENT)}, headers=writer
    )
    where = opened.headers["location"]
    wrong = client.patch(where, content=CONTENT[:50_000], headers={**writer, "Upload-Offset": "7"})
    assert wrong.status_code == 416
    assert wrong.json()["error"]["attrs"]["offset"] == 0


def test_a_session_with_tokens(client: TestClient, tokens: dict[str, str], store: Store) -> None:
    writer = auth(tokens["writer"])
    opened = client.post(
        f"/api/v1/blobs/{SHA}/uploads", json={"size": len(CONTENT)}, headers=writer
    )
    assert opened.status_code == 201
    where = opened.headers["location"]
    assert client.get(where, headers=auth(tokens["other"])).status_code == 404  # not theirs
    sent = client.patch(where, content=CONTENT, headers={**writer, "Upload-Offset": "0"})
    assert sent.json() == {"offset": len(CONTENT)}
    assert client.put(where, headers=writer).status_code == 201
    assert store.has_blob(SHA, len(CONTENT))
