"""A session resumed after its connection is cut mid-chunk, on a real uvicorn over loopback."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest
from tests.registry.registry_blob_app import WRITER, Caller, blob_app, raw_request, served

from modelshelf.backends.registry import open_backend
from modelshelf.registry import uploads
from modelshelf.store.bucket import Store
from modelshelf.transfer.download import hash_object

CHUNK = 256 << 10
BLOB = hashlib.sha256(b"seed").digest() * (3 * CHUNK // 32 + 100)  # 3 chunks and a bit
SHA = hashlib.sha256(BLOB).hexdigest()


def test_a_cut_chunk_stores_nothing_and_the_session_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uploads, "CHUNK", CHUNK)
    store = Store(open_backend((tmp_path / "store").as_uri()))
    store.create()
    spool = tmp_path / "spool"
    with (
        served(blob_app(store, Caller(WRITER), spool_dir=spool)) as base,
        httpx.Client(base_url=base) as client,
    ):
        opened = client.post(f"/api/v1/blobs/{SHA}/uploads", json={"size": len(BLOB)}).json()
        where = f"/api/v1/uploads/{opened['upload']}"
        first = client.patch(where, content=BLOB[:CHUNK], headers={"Upload-Offset": "0"})
        assert first.json() == {"offset": CHUNK}

        # The second chunk: its head and half its body, then the connection is closed.
        head = (
            f"PATCH {where} HTTP/1.1\r\nHost: x\r\nUpload-Offset: {CHUNK}\r\n"
            f"Content-Length: {CHUNK}"
        )
        raw_request(base, head, BLOB[CHUNK : CHUNK + CHUNK // 2]).close()

        # Where to resume: after the first chunk; nothing of the cut one was stored.
        offset = client.get(where).json()["offset"]
        assert offset == CHUNK
        while offset < len(BLOB):
            chunk = BLOB[offset : offset + CHUNK]
            sent = client.patch(where, content=chunk, headers={"Upload-Offset": str(offset)})
            assert sent.status_code == 202, sent.text
            offset = sent.json()["offset"]
        assert client.put(where).status_code == 201
        assert client.get(f"/api/v1/blobs/{SHA}").content == BLOB
    assert hash_object(store.open_blob(SHA), len(BLOB)) == (SHA, len(BLOB))
    assert [meta.path for meta in store.backend.list("")] == [Store.blob_key(SHA)]
    assert list(spool.iterdir()) == []  # the cut chunk's spool file is gone too
