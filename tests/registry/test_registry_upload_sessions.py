"""Upload sessions over a real ``file://`` store, with small chunks (module constants)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.registry.registry_blob_app import (
    OTHER_WRITER,
    READER,
    WRITER,
    Caller,
    blob_app,
    served,
)

from modelshelf.backends.registry import open_backend
from modelshelf.errors import ObjectExistsError
from modelshelf.registry import uploads
from modelshelf.store.bucket import Store
from modelshelf.transfer.download import hash_object

CHUNK = 40_000
BLOB = bytes((i * 7) % 251 for i in range(3 * CHUNK - 123))  # 3 chunks, the last one short
SHA = hashlib.sha256(BLOB).hexdigest()


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uploads, "CHUNK", CHUNK)
    monkeypatch.setattr(uploads, "MIN_CHUNK", 1000)
    monkeypatch.setattr(uploads, "PIECE", 15_000)  # a chunk is stored as 3 pieces


@pytest.fixture
def caller() -> Caller:
    return Caller(WRITER)


@pytest.fixture
def client(store: Store, caller: Caller, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(blob_app(store, caller, spool_dir=tmp_path / "spool")) as test_client:
        yield test_client


def keys(store: Store) -> list[str]:
    return sorted(meta.path for meta in store.backend.list(""))


def open_session(client: TestClient, sha256: str = SHA, size: int = len(BLOB)) -> str:
    answer = client.post(f"/api/v1/blobs/{sha256}/uploads", json={"size": size})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["offset"] == 0 and body["chunk"] == CHUNK
    assert answer.headers["location"] == f"/api/v1/uploads/{body['upload']}"
    upload_id: str = body["upload"]
    return upload_id


def patch(client: TestClient, upload_id: str, start: int, data: bytes) -> dict[str, object]:
    answer = client.patch(
        f"/api/v1/uploads/{upload_id}", content=data, headers={"Upload-Offset": str(start)}
    )
    result: dict[str, object] = {"status": answer.status_code, **answer.json()}
    return result


def send_all(client: TestClient, upload_id: str, blob: bytes = BLOB) -> None:
    for start in range(0, len(blob), CHUNK):
        chunk = blob[start : start + CHUNK]
        assert patch(client, upload_id, start, chunk) == {
            "status": 202,
            "offset": start + len(chunk),
        }


def test_a_blob_in_three_chunks(client: TestClient, store: Store) -> None:
    upload_id = open_session(client)
    assert upload_id.startswith("ci-bot_")
    send_all(client, upload_id)
    status = client.get(f"/api/v1/uploads/{upload_id}").json()
    assert status == {"offset": len(BLOB), "size": len(BLOB), "sha256": SHA}
    # Each chunk is stored as pieces of at most PIECE bytes, keyed by their offsets.
    pieces = [k for k in keys(store) if k.startswith("registry/uploads/") and "session" not in k]
    assert len(pieces) == 9
    done = client.put(f"/api/v1/uploads/{upload_id}")
    assert done.status_code == 201
    assert done.json() == {"sha256": SHA, "size": len(BLOB)}
    assert keys(store) == [Store.blob_key(SHA)]  # the session is gone
    assert hash_object(store.open_blob(SHA), len(BLOB)) == (SHA, len(BLOB))
    assert client.get(f"/api/v1/blobs/{SHA}").content == BLOB


def test_a_session_for_a_stored_blob_is_not_needed(client: TestClient) -> None:
    upload_id = open_session(client)
    send_all(client, upload_id)
    client.put(f"/api/v1/uploads/{upload_id}")
    again = client.post(f"/api/v1/blobs/{SHA}/uploads", json={"size": len(BLOB)})
    assert (again.status_code, again.json()) == (200, {"present": True})


def test_a_chunk_at_the_wrong_offset_is_416_with_the_offset(client: TestClient) -> None:
    upload_id = open_session(client)
    patch(client, upload_id, 0, BLOB[:CHUNK])
    for wrong in (0, CHUNK - 1, CHUNK + 1):
        answer = patch(client, upload_id, wrong, BLOB[wrong : wrong + 1000])
        assert answer["status"] == 416
        error = answer["error"]
        assert isinstance(error, dict)
        assert error["attrs"]["offset"] == CHUNK
        assert f"at offset {CHUNK}" in error["message"]


@pytest.mark.parametrize(
    ("start", "size", "what"),
    [
        (0, 0, "does not fit"),  # empty
        (0, 999, "too small"),  # under MIN_CHUNK and not the last
        (0, CHUNK + 1, "over the"),  # over CHUNK: 413
        (2 * CHUNK, CHUNK, "does not fit"),  # past the blob's end
    ],
)
def test_chunks_that_do_not_fit_are_refused(
    client: TestClient, store: Store, start: int, size: int, what: str
) -> None:
    upload_id = open_session(client)
    if start:
        send_all(client, upload_id, BLOB[:start])
    answer = patch(client, upload_id, start, bytes(size))
    assert answer["status"] in (400, 413)
    assert what in str(answer["error"])
    assert client.get(f"/api/v1/uploads/{upload_id}").json()["offset"] == start


def test_a_lying_session_stores_nothing(client: TestClient, store: Store) -> None:
    other = bytearray(BLOB)
    other[CHUNK + 5] ^= 1  # one bit off in the second chunk
    upload_id = open_session(client)
    send_all(client, upload_id, bytes(other))
    answer = client.put(f"/api/v1/uploads/{upload_id}")
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["type"] == "IntegrityError"
    assert error["attrs"]["actual"] == hashlib.sha256(other).hexdigest()
    assert keys(store) == []  # no blob, and the session (useless now) is gone


def test_finishing_before_the_last_chunk_is_refused(client: TestClient, store: Store) -> None:
    upload_id = open_session(client)
    patch(client, upload_id, 0, BLOB[:CHUNK])
    answer = client.put(f"/api/v1/uploads/{upload_id}")
    assert answer.status_code == 400
    assert f"from offset {CHUNK}" in answer.json()["error"]["message"]
    assert not store.has_blob(SHA)


def test_a_session_belongs_to_its_token(client: TestClient, caller: Caller) -> None:
    upload_id = open_session(client)
    caller.principal = OTHER_WRITER
    assert client.get(f"/api/v1/uploads/{upload_id}").status_code == 404
    assert patch(client, upload_id, 0, BLOB[:CHUNK])["status"] == 404
    assert client.put(f"/api/v1/uploads/{upload_id}").status_code == 404
    assert client.delete(f"/api/v1/uploads/{upload_id}").status_code == 404
    caller.principal = READER  # no write scope at all
    assert client.get(f"/api/v1/uploads/{upload_id}").status_code in (401, 403)
    caller.principal = WRITER
    assert client.get(f"/api/v1/uploads/{upload_id}").json()["offset"] == 0


@pytest.mark.parametrize("upload_id", ["x", "ci-bot_" + "0" * 32, "../../blobs", "ci-bot_%2e%2e"])
def test_unknown_sessions_are_404(client: TestClient, upload_id: str) -> None:
    assert client.get(f"/api/v1/uploads/{upload_id}").status_code == 404


def test_an_aborted_session_leaves_nothing(client: TestClient, store: Store) -> None:
    upload_id = open_session(client)
    patch(client, upload_id, 0, BLOB[:CHUNK])
    assert client.delete(f"/api/v1/uploads/{upload_id}").status_code == 204
    assert keys(store) == []
    assert client.get(f"/api/v1/uploads/{upload_id}").status_code == 404


def test_a_token_holds_a_bounded_number_of_sessions(
    client: TestClient, caller: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uploads, "MAX_OPEN_PER_TOKEN", 2)
    first = open_session(client)
    open_session(client)
    refused = client.post(f"/api/v1/blobs/{SHA}/uploads", json={"size": len(BLOB)})
    assert refused.status_code == 400
    assert "2 upload sessions open" in refused.json()["error"]["message"]
    caller.principal = OTHER_WRITER  # another token's count is its own
    open_session(client)
    caller.principal = WRITER
    client.delete(f"/api/v1/uploads/{first}")
    open_session(client)


@pytest.mark.parametrize(
    "body", [{}, {"size": -1}, {"size": "10"}, {"size": True}, {"size": 1 << 60}, [1]]
)
def test_a_session_needs_a_size(client: TestClient, body: object) -> None:
    answer = client.post(f"/api/v1/blobs/{SHA}/uploads", json=body)
    assert answer.status_code == 400


def test_a_damaged_session_record_is_refused(client: TestClient, store: Store) -> None:
    upload_id = open_session(client)
    store.backend.put(f"registry/uploads/{upload_id}/session.json", b'{"size": "big"}')
    answer = client.get(f"/api/v1/uploads/{upload_id}")
    assert answer.status_code == 422
    assert answer.json()["error"]["type"] == "UntrustedStoreDataError"


def test_a_racing_chunk_at_a_stored_offset_is_refused(store: Store, tmp_path: Path) -> None:
    # Two PATCHes that both saw offset 0: the second one's create-only write fails.
    book = uploads.UploadBook(store)
    session = book.open(SHA, len(BLOB), "ci-bot")
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_bytes(BLOB[:CHUNK])
    second.write_bytes(BLOB[: CHUNK // 2])
    assert book.store_chunk(session, 0, first, CHUNK) == CHUNK
    with pytest.raises(ObjectExistsError):
        book.store_chunk(session, 0, second, CHUNK // 2)
    assert book.offset(session.id) == CHUNK


def test_head_on_a_real_server(store: Store, tmp_path: Path) -> None:
    with (
        served(blob_app(store, Caller(WRITER), spool_dir=tmp_path / "spool")) as base,
        httpx.Client(base_url=base) as client,
    ):
        client.put(f"/api/v1/blobs/{SHA}", content=BLOB)
        head = client.head(f"/api/v1/blobs/{SHA}")
        assert (head.status_code, head.headers["content-length"]) == (200, str(len(BLOB)))
        assert head.content == b""
        assert client.head(f"/api/v1/blobs/{'ab' * 32}").status_code == 404


def test_sessions_left_open_past_their_lifetime_are_dropped(
    client: TestClient, store: Store
) -> None:
    left = open_session(client)
    patch(client, left, 0, BLOB[:CHUNK])
    book = uploads.UploadBook(store)
    assert book.drop_stale() == 0  # young: kept
    assert client.get(f"/api/v1/uploads/{left}").json()["offset"] == CHUNK
    later = datetime.now(UTC) + uploads.SESSION_TTL + timedelta(minutes=1)
    assert book.drop_stale(now=later) == 1
    assert keys(store) == []
    assert client.get(f"/api/v1/uploads/{left}").status_code == 404
    assert book.drop_stale(now=later) == 0  # what another replica dropped is no error


def test_the_whole_app_sweeps_stale_sessions_when_it_starts(tmp_path: Path) -> None:
    from modelshelf.registry import create_app

    store = Store(open_backend((tmp_path / "store").as_uri()))
    store.create()
    store.backend.put(f"{uploads.OWNERS}/ci-bot/ci-bot_{'0' * 32}", b"", mode="create")
    store.backend.put(f"{uploads.PREFIX}/ci-bot_{'0' * 32}/{0:020d}", b"x", mode="create")
    old = datetime.now(UTC) - uploads.SESSION_TTL - timedelta(hours=1)
    for path in (tmp_path / "store").rglob("*"):
        os.utime(path, (old.timestamp(), old.timestamp()))
    with TestClient(create_app(store)):  # the lifespan runs its first sweep at once
        for _ in range(100):
            if not keys(store):
                break
            time.sleep(0.05)
    assert keys(store) == []
