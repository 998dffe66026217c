"""Review item: the 24 h sweep of upload sessions judged a session by the marker written when
it opened, so a session still receiving chunks was dropped under its client; and the pieces of
a chunk that raced the sweep stayed forever. Ages are set on the files of a real file:// store."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from tests.registry.registry_helpers import API, MakeClient

from modelshelf.registry import uploads
from modelshelf.registry.tokens import TokenBook
from modelshelf.store.bucket import Store

DATA = bytes(range(256)) * 64  # 16 KiB: two chunks of 8 KiB
SHA = hashlib.sha256(DATA).hexdigest()
HALF = len(DATA) // 2


@pytest.fixture
def writer(book: TokenBook, make_client: MakeClient, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setattr(uploads, "MIN_CHUNK", 1024)
    token, _ = book.create("ci", ["write:*"], None, created_by="t")
    return make_client(token)


def _age_everything(root: Path, hours: float) -> None:
    """Every object of the store written ``hours`` ago."""
    then = (datetime.now(UTC) - timedelta(hours=hours)).timestamp()
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (then, then))


def _patch(client: TestClient, upload_id: str, start: int) -> int:
    response = client.patch(
        f"{API}/uploads/{upload_id}",
        content=DATA[start : start + HALF],
        headers={"Upload-Offset": str(start)},
    )
    return response.status_code


def test_a_session_still_receiving_chunks_survives_the_sweep(
    store: Store, writer: TestClient, tmp_path: Path
) -> None:
    upload_id = writer.post(f"{API}/blobs/{SHA}/uploads", json={"size": len(DATA)}).json()["upload"]
    assert _patch(writer, upload_id, 0) == 202
    _age_everything(tmp_path / "store", hours=25)  # opened, and its first chunk sent, 25 h ago
    assert _patch(writer, upload_id, HALF) == 202  # the client is still sending
    marker = next(store.backend.list(f"{uploads.OWNERS}/ci"))
    assert marker.last_modified is not None
    assert marker.last_modified > datetime.now(UTC) - timedelta(hours=1)  # rewritten

    assert uploads.UploadBook(store).drop_stale() == 0
    assert writer.put(f"{API}/uploads/{upload_id}").status_code == 201
    assert store.has_blob(SHA, len(DATA))


def test_a_session_idle_past_its_lifetime_is_still_dropped(
    store: Store, writer: TestClient, tmp_path: Path
) -> None:
    upload_id = writer.post(f"{API}/blobs/{SHA}/uploads", json={"size": len(DATA)}).json()["upload"]
    assert _patch(writer, upload_id, 0) == 202
    _age_everything(tmp_path / "store", hours=25)
    assert uploads.UploadBook(store).drop_stale() == 1
    assert list(store.backend.list("registry/upload")) == []


@pytest.mark.parametrize(("hours", "dropped"), [(25, 1), (1, 0)])
def test_a_folder_of_pieces_without_a_session_is_swept_when_old(
    store: Store, tmp_path: Path, hours: float, dropped: int
) -> None:
    """What a PATCH that raced the sweep leaves: pieces, no record, no marker."""
    orphan = f"ci_{'a' * 32}"
    store.backend.put(f"{uploads.PREFIX}/{orphan}/{0:020d}", b"piece", mode="create")
    store.backend.put(f"{uploads.PREFIX}/{orphan}/{5:020d}", b"piece", mode="create")
    _age_everything(tmp_path / "store", hours=hours)
    assert uploads.UploadBook(store).drop_stale() == dropped
    left = [m.path for m in store.backend.list(uploads.PREFIX)]
    assert len(left) == (0 if dropped else 2)


def test_keys_not_of_a_session_are_left_alone(store: Store, tmp_path: Path) -> None:
    store.backend.put(f"{uploads.PREFIX}/not-an-id/{0:020d}", b"x", mode="create")
    _age_everything(tmp_path / "store", hours=25)
    assert uploads.UploadBook(store).drop_stale() == 0
    assert len(list(store.backend.list(uploads.PREFIX))) == 1
