"""``Backend.signed_url``: presigned URLs that serve an object to a client with no credentials.

S3 runs on a real SeaweedFS and Azure on a real Azurite, both on loopback. GCS is not tested:
no GCS emulator here works through obstore at all (docs: /work/shared/FACTS.md, "GCS
emulators"), so its signing is untested beyond obstore's own tests.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from tests.servers.azurite import Azurite
from tests.servers.seaweed import SeaweedServer

from modelshelf.backends.base import Backend
from modelshelf.backends.registry import open_backend
from modelshelf.errors import InvalidInputError

CONTENT = bytes(range(256)) * 40 + b"the end"


def _seaweed_backend(**extra: object) -> Backend:
    server = SeaweedServer.shared()
    server.create_bucket("modelshelf-presign")
    options = {
        "endpoint": server.endpoint,
        "access_key_id": server.access_key,
        "secret_access_key": server.secret_key,
        "region": server.region,
        **extra,
    }
    if extra.get("anonymous"):
        options = {"endpoint": server.endpoint, **extra}
    return open_backend(f"s3://modelshelf-presign/p-{uuid.uuid4().hex[:8]}", **options)


def _azurite_backend(request: pytest.FixtureRequest) -> Backend:
    store = Azurite.shared().new_store(request.node.name)
    return open_backend(store.url, **store.options)


def _check_serves(url: str) -> None:
    """The URL, fetched with no credentials at all, serves the object whole and by range."""
    with httpx.Client(trust_env=False) as client:  # no proxy, no netrc: just the URL
        whole = client.get(url)
        assert whole.status_code == 200
        assert whole.content == CONTENT
        part = client.get(url, headers={"Range": "bytes=250-1029"})
        assert part.status_code == 206
        assert part.content == CONTENT[250:1030]
        # Open-ended, not a suffix (bytes=-7): Azurite answers a suffix range with no bytes.
        tail = client.get(url, headers={"Range": f"bytes={len(CONTENT) - 7}-"})
        assert tail.status_code == 206
        assert tail.content == b"the end"


@pytest.mark.integration
def test_seaweed_presigned_get_serves_the_object_to_anyone() -> None:
    backend = _seaweed_backend()
    backend.put("blobs/sha256/ab/object", CONTENT)
    url = backend.signed_url("blobs/sha256/ab/object")
    assert url is not None and "X-Amz-Signature=" in url and "X-Amz-Expires=300" in url
    _check_serves(url)
    # Unsigned, the same object is refused: the signature is what lets the client in.
    assert httpx.get(url.split("?")[0]).status_code == 403


@pytest.mark.integration
def test_seaweed_presigned_url_of_a_missing_key_answers_404() -> None:
    backend = _seaweed_backend()
    url = backend.signed_url("blobs/none", expires_seconds=60)
    assert url is not None and "X-Amz-Expires=60" in url
    assert httpx.get(url).status_code == 404


@pytest.mark.integration
def test_anonymous_s3_cannot_presign() -> None:
    # obstore would otherwise look for instance credentials (the EC2 metadata) to sign with.
    assert _seaweed_backend(anonymous=True).signed_url("blobs/x") is None


@pytest.mark.integration
def test_azurite_presigned_get_serves_the_object_to_anyone(request: pytest.FixtureRequest) -> None:
    backend = _azurite_backend(request)
    backend.put("blobs/sha256/ab/object", CONTENT)
    url = backend.signed_url("blobs/sha256/ab/object")
    assert url is not None and "sig=" in url and "sp=r" in url
    _check_serves(url)


@pytest.mark.integration
def test_azure_with_a_sas_token_cannot_presign(request: pytest.FixtureRequest) -> None:
    azurite = Azurite.shared()
    store = azurite.new_store(request.node.name)
    container = store.url.split("/")[2]
    backend = open_backend(
        store.url,
        account_name=store.options["account_name"],
        endpoint=store.options["endpoint"],
        sas_token=azurite.sas_token(container),
    )
    assert backend.signed_url("blobs/x") is None


@pytest.mark.parametrize("url", ["memory://presign", "file"])
def test_local_and_memory_stores_cannot_presign(url: str, tmp_path: Path) -> None:
    backend = open_backend(tmp_path.as_uri() if url == "file" else url)
    backend.put("blobs/x", b"x")
    assert backend.signed_url("blobs/x") is None


@pytest.mark.parametrize("seconds", [0, -1, 7 * 24 * 3600 + 1, True])
def test_a_lifetime_outside_one_second_to_seven_days_is_refused(seconds: int) -> None:
    with pytest.raises(InvalidInputError, match="7 days"):
        open_backend("memory://presign").signed_url("blobs/x", expires_seconds=seconds)
