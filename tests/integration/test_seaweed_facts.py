"""Facts about obstore + SeaweedFS S3 that modelshelf relies on.

Each test pins down one behaviour (including which exception class obstore raises), so an
upgrade of obstore or SeaweedFS that changes it fails here first.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import timedelta

import obstore
import pytest
from obstore.exceptions import (
    AlreadyExistsError,
    BaseError,
    GenericError,
    PermissionDeniedError,
    PreconditionError,
)
from obstore.store import S3Store
from tests.servers.seaweed import S3Bucket

NO_RETRY = {
    "max_retries": 0,
    "retry_timeout": timedelta(seconds=2),
    "backoff": {
        "init_backoff": timedelta(milliseconds=100),
        "max_backoff": timedelta(seconds=1),
        "base": 2,
    },
}


def _store(b: S3Bucket, **kwargs: object) -> S3Store:
    return b.server.store(b.bucket, **kwargs)


def _key(b: S3Bucket, name: str) -> str:
    return f"{b.prefix}/{name}"


def test_create_mode_put_second_create_raises_already_exists(s3_bucket: S3Bucket) -> None:
    store, key = _store(s3_bucket), _key(s3_bucket, "once")
    result = obstore.put(store, key, b"first", mode="create")
    assert result["e_tag"]
    # SeaweedFS answers 412 PreconditionFailed; obstore maps that to AlreadyExistsError.
    with pytest.raises(AlreadyExistsError, match="already exists"):
        obstore.put(store, key, b"second", mode="create")
    assert bytes(obstore.get(store, key).bytes()) == b"first"


def test_compare_and_swap_with_etag(s3_bucket: S3Bucket) -> None:
    store, key = _store(s3_bucket, conditional_put="etag"), _key(s3_bucket, "cas")
    stale = obstore.put(store, key, b"v1")["e_tag"]
    assert stale is not None
    fresh = obstore.put(store, key, b"v2", mode={"e_tag": stale})["e_tag"]
    assert fresh is not None and fresh != stale
    with pytest.raises(PreconditionError, match="412 Precondition Failed"):
        obstore.put(store, key, b"v3", mode={"e_tag": stale})
    assert bytes(obstore.get(store, key).bytes()) == b"v2"
    obstore.put(store, key, b"v4", mode={"e_tag": fresh})
    assert bytes(obstore.get(store, key).bytes()) == b"v4"
    # An update of an object that does not exist is a precondition failure as well.
    with pytest.raises(PreconditionError):
        obstore.put(store, _key(s3_bucket, "missing"), b"x", mode={"e_tag": fresh})


def test_get_range_returns_the_right_bytes(s3_bucket: S3Bucket) -> None:
    store, key = _store(s3_bucket), _key(s3_bucket, "range")
    data = bytes(range(256)) * 64
    obstore.put(store, key, data)
    assert bytes(obstore.get_range(store, key, start=100, end=1100)) == data[100:1100]
    assert bytes(obstore.get_range(store, key, start=0, length=1)) == data[:1]
    assert bytes(obstore.get_range(store, key, start=len(data) - 7, end=len(data))) == data[-7:]


def test_multipart_put_round_trips(s3_bucket: S3Bucket) -> None:
    store, key = _store(s3_bucket), _key(s3_bucket, "multipart")
    data = os.urandom(12 * 1024 * 1024 + 123)
    obstore.put(store, key, data, use_multipart=True, chunk_size=5 * 1024 * 1024)
    assert obstore.head(store, key)["size"] == len(data)
    assert bytes(obstore.get(store, key).bytes()) == data


def test_missing_object_raises_builtin_file_not_found(s3_bucket: S3Bucket) -> None:
    # Surprise: obstore raises builtins.FileNotFoundError, not obstore's NotFoundError.
    with pytest.raises(FileNotFoundError) as info:
        obstore.get(_store(s3_bucket), _key(s3_bucket, "absent"))
    assert not isinstance(info.value, BaseError)


def test_wrong_secret_key_is_rejected(s3_bucket: S3Bucket) -> None:
    server = s3_bucket.server
    key = _key(s3_bucket, "secret")
    obstore.put(_store(s3_bucket), key, b"x")
    bad = S3Store(
        s3_bucket.bucket, endpoint=server.endpoint, access_key_id=server.access_key,
        secret_access_key="not-the-secret", region=server.region,
        client_options={"allow_http": True}, retry_config=NO_RETRY,  # type: ignore[arg-type]
    )  # fmt: skip
    # Object requests: HTTP 403 SignatureDoesNotMatch -> PermissionDeniedError.
    with pytest.raises(PermissionDeniedError, match="SignatureDoesNotMatch"):
        obstore.get(bad, key)
    with pytest.raises(PermissionDeniedError, match="SignatureDoesNotMatch"):
        obstore.put(bad, key, b"y")
    # Listing is not mapped by obstore: the same 403 surfaces as GenericError.
    with pytest.raises(GenericError, match="403 Forbidden"):
        list(obstore.list(bad, prefix=s3_bucket.prefix))


def test_closed_port_fails_fast_with_generic_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = S3Store(
        "modelshelf-test", endpoint=f"http://127.0.0.1:{port}", access_key_id="a",
        secret_access_key="b", region="us-east-1",
        client_options={"connect_timeout": "2s", "allow_http": True},
        retry_config=NO_RETRY,  # type: ignore[arg-type]
    )  # fmt: skip
    t0 = time.monotonic()
    with pytest.raises(GenericError) as info:
        obstore.get(store, "k")
    assert time.monotonic() - t0 < 5
    message = str(info.value)
    # Stable substrings to recognise "unreachable" (connection refused) errors.
    assert "HTTP error: error sending request" in message
    assert "tcp connect error" in message
    assert "Connection refused" in message
    with pytest.raises(GenericError, match="error sending request"):
        obstore.put(store, "k", b"x")
