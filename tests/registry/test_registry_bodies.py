"""Request bodies are outside input: a forged manifest is refused before anything is written,
an oversized body before it is read, and every refusal decodes into the error type the
client raises."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from starlette.testclient import TestClient
from tests.registry.registry_helpers import (
    API,
    MakeClient,
    asset,
    error_of,
    manifest_dict,
    manifest_of,
    put_blobs,
    store_keys,
)

from modelshelf.errors import InvalidInputError, InvalidManifestError, InvalidSpecError
from modelshelf.registry.tokens import TokenBook
from modelshelf.store.bucket import Store
from modelshelf.store.http_protocol import MAX_JSON_BODY


@pytest.fixture
def writer(book: TokenBook, make_client: MakeClient) -> TestClient:
    token, _ = book.create("writer", ["write:nlp/"], None, created_by="test")
    return make_client(token)


def _path_escape(store: Store) -> bytes:
    data = manifest_dict("nlp/a", "1", put_blobs(store, b"x"))
    data["files"][0]["path"] = "../../etc/passwd"
    return json.dumps(data).encode()


def _wrong_name(store: Store) -> bytes:
    return manifest_of("nlp/b", "1", put_blobs(store, b"x"))


def _wrong_version(store: Store) -> bytes:
    return manifest_of("nlp/a", "2", put_blobs(store, b"x"))


def _blobs_not_stored(store: Store) -> bytes:
    stored = put_blobs(store, b"present")
    absent = [type(e)(f"g{i}", 5, f"{i:064x}") for i, e in enumerate(stored * 12)]
    return manifest_of("nlp/a", "1", stored + absent)


def _wrong_size(store: Store) -> bytes:
    (entry,) = put_blobs(store, b"four")
    return manifest_of("nlp/a", "1", [type(entry)(entry.path, 5, entry.sha256)])


def _nan(store: Store) -> bytes:
    text = manifest_of("nlp/a", "1", put_blobs(store, b"x")).decode()
    return text.replace('"metadata": {}', '"metadata": {}, "props": NaN').encode()


FORGED = {
    "not JSON": (lambda store: b'{"format": 1,', InvalidManifestError),
    "a list": (lambda store: b"[1, 2]", InvalidManifestError),
    "a path with ..": (_path_escape, InvalidManifestError),
    "another name": (_wrong_name, InvalidInputError),
    "another version": (_wrong_version, InvalidInputError),
    "blobs not stored": (_blobs_not_stored, InvalidInputError),
    "a blob at another size": (_wrong_size, InvalidInputError),
    "NaN": (_nan, InvalidManifestError),
}


@pytest.mark.parametrize("case", sorted(FORGED))
def test_forged_manifest_writes_nothing(case: str, store: Store, writer: TestClient) -> None:
    make_body, kind = FORGED[case]
    body = make_body(store)
    before = store_keys(store)
    response = writer.put(asset("nlp/a", "versions", "1"), content=body)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert type(error) is kind
    assert store_keys(store) == before
    if case == "blobs not stored":
        assert "12 blob(s)" in str(error)
        assert len(re.findall("[0-9a-f]{64}", str(error))) == 10


def test_oversized_bodies_are_413(
    store: Store, writer: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELSHELF_MAX_MANIFEST_MIB", "1")
    before = store_keys(store)
    response = writer.put(asset("nlp/a", "versions", "1"), content=b" " * (2 << 20))
    assert response.status_code == 413
    assert type(error_of(response)) is InvalidInputError
    chunked = writer.put(asset("nlp/a", "versions", "1"), content=iter([b" " * (2 << 20)]))
    assert chunked.status_code == 413
    alias = writer.put(asset("nlp/a", "aliases", "prod"), content=b" " * (MAX_JSON_BODY + 1))
    assert alias.status_code == 413
    assert store_keys(store) == before


def _call(app: object, headers: list[tuple[bytes, bytes]], chunks: int) -> tuple[int, int]:
    """(status, body messages the app received) of a PUT of a manifest sent as ``chunks``
    messages of 64 KiB, straight through ASGI: what the app reads is counted."""
    received = 0

    async def receive() -> dict[str, object]:
        nonlocal received
        received += 1
        more = received < chunks
        return {"type": "http.request", "body": b" " * 65536, "more_body": more}

    status: list[int] = []

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            status.append(int(message["status"]))  # type: ignore[call-overload]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": asset("nlp/a", "versions", "1"),
        "raw_path": asset("nlp/a", "versions", "1").encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[operator]
    return status[0], received


def test_body_bound_holds_before_and_while_reading(
    store: Store, book: TokenBook, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelshelf.registry.app import create_app

    monkeypatch.setenv("MODELSHELF_MAX_MANIFEST_MIB", "1")
    token, _ = book.create("writer", ["write:nlp/"], None, created_by="test")
    app = create_app(store)
    auth = (b"authorization", f"Bearer {token}".encode())
    # Content-Length over the bound: refused from the header, not a byte read.
    status, received = _call(app, [auth, (b"content-length", str(64 << 20).encode())], 1024)
    assert (status, received) == (413, 0)
    # No Content-Length: refused once the count passes the bound (1 MiB = 16 messages).
    status, received = _call(app, [auth], 1024)
    assert status == 413 and received == 17
    # Refused for its scope before its body is read.
    reader, _ = book.create("reader", ["read:*"], None, created_by="test")
    status, received = _call(app, [(b"authorization", f"Bearer {reader}".encode())], 1024)
    assert (status, received) == (403, 0)


def test_malformed_json_bodies_are_400(store: Store, writer: TestClient) -> None:
    path = asset("nlp/a", "aliases", "prod")
    for body in (b"not json", b"[]", b'{"version": 1}', b'{"version": "1", "expected": 3}'):
        response = writer.put(path, content=body)
        assert response.status_code == 400, body
        assert isinstance(error_of(response), InvalidInputError)
    assert store_keys(store) == {"registry/tokens/writer.json"}


def test_bad_names_in_paths_and_queries_are_400(writer: TestClient) -> None:
    for path in (
        asset("nlp/A", "versions"),
        asset("nlp/a%2F..%2Fb", "versions"),
        asset("nlp/a", "versions", "01"),
        asset("nlp/a", "aliases", "Bad Alias!"),
    ):
        response = writer.get(path)
        assert response.status_code == 400, path
        assert isinstance(error_of(response), InvalidInputError | InvalidSpecError)
    response = writer.get(f"{API}/assets", params={"limit": "many"})
    assert response.status_code == 400
    assert type(error_of(response)) is InvalidInputError


def test_unknown_route_is_an_error_body(writer: TestClient) -> None:
    response = writer.get(f"{API}/nothing-here")
    assert response.status_code == 404
    assert "no route" in str(error_of(response))
