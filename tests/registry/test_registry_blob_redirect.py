"""Blob downloads answered with a 307 to a presigned URL, on real SeaweedFS and Azurite; and
the blob and session routes over those stores."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.registry.registry_blob_app import WRITER, Caller, blob_app
from tests.servers.azurite import Azurite
from tests.servers.seaweed import SeaweedServer

from modelshelf.backends.registry import open_backend
from modelshelf.registry import uploads
from modelshelf.store.bucket import Store
from modelshelf.transfer.download import hash_object

pytestmark = pytest.mark.integration

CONTENT = hashlib.sha256(b"x").digest() * 40_000  # 1.28 MB
SHA = hashlib.sha256(CONTENT).hexdigest()
BUCKET = "modelshelf-registry-blobs"


@pytest.fixture(params=["s3", "azure"])
def store(request: pytest.FixtureRequest) -> Store:
    if request.param == "s3":
        server = SeaweedServer.shared()
        server.create_bucket(BUCKET)
        return Store(
            open_backend(
                f"s3://{BUCKET}/{uuid.uuid4().hex[:12]}",
                endpoint=server.endpoint,
                access_key_id=server.access_key,
                secret_access_key=server.secret_key,
                region=server.region,
            )
        )
    remote = Azurite.shared().new_store(request.node.name)
    return Store(open_backend(remote.url, **remote.options))


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    with TestClient(blob_app(store, Caller(WRITER))) as test_client:
        assert test_client.put(f"/api/v1/blobs/{SHA}", content=CONTENT).status_code == 201
        yield test_client


def test_a_download_is_a_redirect_to_a_presigned_url(client: TestClient) -> None:
    answer = client.get(f"/api/v1/blobs/{SHA}", follow_redirects=False)
    assert answer.status_code == 307
    assert answer.headers["cache-control"] == "no-store"
    location = answer.headers["location"]
    # The client follows it itself, with no credentials: the URL alone lets it in.
    with httpx.Client(trust_env=False) as anyone:
        assert anyone.get(location).content == CONTENT
        part = anyone.get(location, headers={"Range": "bytes=1000-1999"})
        assert (part.status_code, part.content) == (206, CONTENT[1000:2000])


def test_a_missing_blob_is_404_not_a_redirect(client: TestClient) -> None:
    answer = client.get(f"/api/v1/blobs/{'ab' * 32}", follow_redirects=False)
    assert answer.status_code == 404


def test_the_no_redirect_header_streams_the_bytes(client: TestClient) -> None:
    headers = {"X-Modelshelf-No-Redirect": "1", "Range": "bytes=5-"}
    answer = client.get(f"/api/v1/blobs/{SHA}", headers=headers, follow_redirects=False)
    assert (answer.status_code, answer.content) == (206, CONTENT[5:])


def test_a_registry_without_redirects_streams_the_bytes(store: Store) -> None:
    with TestClient(blob_app(store, Caller(WRITER), redirect=False)) as client:
        client.put(f"/api/v1/blobs/{SHA}", content=CONTENT)
        answer = client.get(f"/api/v1/blobs/{SHA}", follow_redirects=False)
        assert (answer.status_code, answer.content) == (200, CONTENT)


def test_a_session_on_a_cloud_store(
    client: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uploads, "CHUNK", 300_000)
    monkeypatch.setattr(uploads, "PIECE", 100_000)
    blob = CONTENT[::-1]
    sha = hashlib.sha256(blob).hexdigest()
    opened = client.post(f"/api/v1/blobs/{sha}/uploads", json={"size": len(blob)}).json()
    where = f"/api/v1/uploads/{opened['upload']}"
    for start in range(0, len(blob), 300_000):
        chunk = blob[start : start + 300_000]
        answer = client.patch(where, content=chunk, headers={"Upload-Offset": str(start)})
        assert answer.status_code == 202, answer.text
    assert client.put(where).status_code == 201
    assert hash_object(store.open_blob(sha), len(blob)) == (sha, len(blob))
    assert not [m for m in store.backend.list("registry")]  # the session is gone
