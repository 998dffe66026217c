"""The blob routes over a real ``file://`` store: uploads that must hash to their name, sizes
checked before a body is read, ranges, scopes, and nothing left behind by a refused upload."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.registry.registry_blob_app import (
    NOBODY,
    READER,
    WRITER,
    Caller,
    blob_app,
    raw_request,
    served,
)
from tests.wrapped_backend import WrappedBackend

from modelshelf.backends import Backend, PutMode
from modelshelf.backends.registry import open_backend
from modelshelf.registry import _blob_io, blob_routes, uploads
from modelshelf.store.bucket import Store

CONTENT = bytes(range(256)) * 10_000  # 2.5 MB: several 1 MiB pieces when streamed
SHA = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    made = Store(open_backend((tmp_path / "store").as_uri()))
    made.create()  # a file:// store is made by its first write (the app's job at start)
    return made


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
def caller() -> Caller:
    return Caller(WRITER)


@pytest.fixture
def client(store: Store, caller: Caller, spool: Path) -> Iterator[TestClient]:
    with TestClient(blob_app(store, caller, spool_dir=spool)) as test_client:
        yield test_client


def keys(store: Store) -> list[str]:
    """Every object of the store."""
    return sorted(meta.path for meta in store.backend.list(""))


def url(sha256: str = SHA) -> str:
    return f"/api/v1/blobs/{sha256}"


def test_a_blob_is_stored_once_and_read_back(client: TestClient, store: Store) -> None:
    assert client.put(url(), content=CONTENT).status_code == 201
    assert keys(store) == [Store.blob_key(SHA)]
    assert client.put(url(), content=CONTENT).status_code == 200  # already there
    head = client.head(url())
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(CONTENT))
    got = client.get(url())
    assert got.status_code == 200
    assert got.content == CONTENT


def test_a_lying_upload_is_refused_and_leaves_nothing(
    client: TestClient, store: Store, spool: Path
) -> None:
    other = hashlib.sha256(b"something else").hexdigest()
    answer = client.put(url(other), content=CONTENT)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["type"] == "IntegrityError"
    assert error["attrs"] == {"path": f"blobs/{other}", "expected": other, "actual": SHA}
    assert "nothing was stored" in error["message"]
    assert keys(store) == []
    assert list(spool.iterdir()) == []  # the spooled body is gone too


def test_a_body_without_content_length_is_refused_with_411(
    client: TestClient, store: Store
) -> None:
    answer = client.put(url(), content=iter([CONTENT[:10], CONTENT[10:]]))  # chunked
    assert answer.status_code == 411
    assert "Content-Length" in answer.json()["error"]["message"]
    assert keys(store) == []


def test_a_body_over_the_single_upload_size_is_refused_before_it_is_read(
    client: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uploads, "MAX_SINGLE", 1000)
    read: list[int] = []

    def body() -> Iterator[bytes]:
        read.append(1)
        yield CONTENT

    answer = client.put(url(), content=body(), headers={"Content-Length": str(len(CONTENT))})
    assert answer.status_code == 413
    assert "upload session" in answer.json()["error"]["message"]
    assert keys(store) == []


def test_a_body_that_ends_before_its_content_length_is_422(
    client: TestClient, store: Store
) -> None:
    # In process, the body simply ends (no socket to cut): a length mismatch, refused.
    answer = client.put(
        url(), content=iter([CONTENT[:1000]]), headers={"Content-Length": str(len(CONTENT))}
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["type"] == "IntegrityError"
    assert "fewer bytes than its Content-Length" in answer.json()["error"]["message"]
    assert keys(store) == []


def test_a_content_length_longer_than_the_body_stores_nothing(store: Store, spool: Path) -> None:
    # A real socket: the client claims more than it sends, then goes away.
    with served(blob_app(store, Caller(WRITER), spool_dir=spool)) as base:
        head = f"PUT {url()} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(CONTENT)}"
        raw_request(base, head, CONTENT[: len(CONTENT) // 2]).close()
    # The server has stopped, so it has finished with the cut request (uvicorn waits for it).
    assert keys(store) == []
    assert list(spool.iterdir()) == []


def test_a_content_length_shorter_than_the_body_is_a_lying_upload(
    store: Store, spool: Path
) -> None:
    # HTTP reads as many bytes as the header says: the rest is not this body.
    with served(blob_app(store, Caller(WRITER), spool_dir=spool)) as base:
        head = f"PUT {url()} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nConnection: close"
        connection = raw_request(base, head, CONTENT)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
        connection.close()
    assert answer.startswith(b"HTTP/1.1 422")
    assert keys(store) == []


@pytest.mark.parametrize(
    ("header", "status", "part"),
    [
        ("bytes=0-0", 206, slice(0, 1)),
        ("bytes=1000-1999999", 206, slice(1000, 2_000_000)),
        ("bytes=2000000-", 206, slice(2_000_000, None)),
        ("bytes=-100", 206, slice(-100, None)),
        ("bytes=5-99999999999", 206, slice(5, None)),  # a last byte past the end: to the end
        ("bytes=0-1,5-6", 200, slice(None)),  # several ranges: the whole blob
        ("bytes=9-3", 200, slice(None)),  # not a range: ignored
        ("items=0-1", 200, slice(None)),
    ],
)
def test_ranges(client: TestClient, header: str, status: int, part: slice) -> None:
    client.put(url(), content=CONTENT)
    answer = client.get(url(), headers={"Range": header})
    assert answer.status_code == status
    assert answer.content == CONTENT[part]
    if status == 206:
        start = part.start % len(CONTENT)
        stop = len(CONTENT) if part.stop is None else min(part.stop, len(CONTENT))
        assert answer.headers["content-range"] == f"bytes {start}-{stop - 1}/{len(CONTENT)}"
        assert answer.headers["content-length"] == str(stop - start)


@pytest.mark.parametrize(
    "header", [f"bytes={len(CONTENT)}-", "bytes=-0", "bytes=99999999-99999999"]
)
def test_a_range_past_the_end_is_416(client: TestClient, header: str) -> None:
    client.put(url(), content=CONTENT)
    answer = client.get(url(), headers={"Range": header})
    assert answer.status_code == 416
    assert answer.headers["content-range"] == f"bytes */{len(CONTENT)}"
    assert answer.json()["error"]["type"] == "InvalidInputError"


def test_an_empty_blob(client: TestClient) -> None:
    empty = hashlib.sha256(b"").hexdigest()
    assert client.put(url(empty), content=b"").status_code == 201
    answer = client.get(url(empty))
    assert (answer.status_code, answer.content) == (200, b"")
    assert client.get(url(empty), headers={"Range": "bytes=0-"}).status_code == 416


def test_a_missing_blob_is_404_and_a_bad_name_400(client: TestClient) -> None:
    missing = client.get(url("ab" * 32))
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "ObjectNotFoundError"
    assert client.head(url("ab" * 32)).status_code == 404
    for bad in ("AB" * 32, "ab" * 31, "../" + "ab" * 31):
        assert client.get(f"/api/v1/blobs/{bad}").status_code in (400, 404)
    assert client.put(url("xyz"), content=b"x").status_code == 400


def test_without_redirects_memory_stores_stream(store: Store, spool: Path) -> None:
    # file:// cannot presign: a GET streams even with redirects on (the default).
    with TestClient(blob_app(store, Caller(WRITER), spool_dir=spool)) as client:
        client.put(url(), content=CONTENT)
        answer = client.get(url(), follow_redirects=False)
        assert answer.status_code == 200
        assert answer.content == CONTENT


def test_any_read_scope_reads_every_blob_and_only_write_uploads(
    client: TestClient, caller: Caller, store: Store
) -> None:
    client.put(url(), content=CONTENT)
    caller.principal = READER  # read:nlp/ only: blobs are content, any read scope reads them
    assert client.get(url()).content == CONTENT
    other = b"another blob"
    refused = client.put(url(hashlib.sha256(other).hexdigest()), content=other)
    assert refused.status_code in (401, 403)
    assert refused.json()["error"]["type"] == "StoreAuthError"
    caller.principal = NOBODY  # anonymous, no anonymous-read prefixes
    assert client.get(url()).status_code in (401, 403)
    assert client.head(url()).status_code in (401, 403)
    assert keys(store) == [Store.blob_key(SHA)]


def test_present_answers_in_order(client: TestClient) -> None:
    client.put(url(), content=CONTENT)
    asked = [[SHA, len(CONTENT)], ["ab" * 32, 1], [SHA, 5]]
    answer = client.post("/api/v1/blobs/present", json={"blobs": asked})
    assert answer.json() == {"present": [True, False, False]}


@pytest.mark.parametrize(
    "body",
    [
        {"blobs": [["ab" * 32]]},
        {"blobs": [["ab" * 32, -1]]},
        {"blobs": [["ab" * 32, True]]},
        {"blobs": [["AB" * 32, 1]]},
        {"blobs": "x"},
        {"blobs": [["ab" * 32, 1]] * 10_001},
        [],
    ],
)
def test_present_refuses_a_malformed_question(client: TestClient, body: object) -> None:
    answer = client.post("/api/v1/blobs/present", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "InvalidInputError"


def test_present_refuses_a_body_over_the_bound_before_reading_it(client: TestClient) -> None:
    answer = client.post(
        "/api/v1/blobs/present", content=b"{" + b" " * (2 << 20) + b"}", headers={}
    )
    assert answer.status_code == 413


class _Watched(WrappedBackend):
    """Counts the blob writes in flight; each lasts a moment, so that writes can overlap."""

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.inside = self.most = 0
        self.lock = threading.Lock()

    def put(self, key: str, data: bytes | Path | BinaryIO, *, mode: PutMode = "overwrite") -> None:
        if not key.startswith("blobs/"):
            self.inner.put(key, data, mode=mode)
            return
        with self.lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
        try:
            time.sleep(0.05)
            self.inner.put(key, data, mode=mode)
        finally:
            with self.lock:
                self.inside -= 1


@pytest.mark.parametrize("bound", [1, 3])
def test_blob_writes_into_the_store_are_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bound: int
) -> None:
    monkeypatch.setattr(_blob_io, "MAX_STORE_PUTS", bound)
    monkeypatch.setattr(blob_routes, "SMALL_BLOB", 100)  # these are written from a spool file
    watched = _Watched(open_backend((tmp_path / "store").as_uri()))
    store = Store(watched)
    store.create()
    blobs = [bytes([i]) * 1000 for i in range(8)]
    with served(blob_app(store, Caller(WRITER), spool_dir=tmp_path / "spool")) as base:

        def push(data: bytes) -> int:
            sha = hashlib.sha256(data).hexdigest()
            return httpx.put(f"{base}{url(sha)}", content=data).status_code

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(push, blobs)) == [201] * 8
    assert 1 <= watched.most <= bound
    assert len(keys(store)) == 8
