"""On SeaweedFS: a file that changes while it is pushed fails that push and stores nothing.

Large files are hashed, then read again through the verifying reader as they are sent (the
``two_pass`` fixture sends small test files that way too). The single-PUT and the multipart
paths both read the file through that reader; these tests prove that a refused read leaves no
object (and no unfinished multipart upload) on a real S3 server, and that a racing push's
version stays whole.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import boto3
import pytest
from tests.servers.seaweed import S3Bucket
from tests.unit.test_push_blobs import (
    check_racing_push_fails_only_the_changed_one,
    one_file,
    rewrite_keeping_mtime,
    two_pass,  # noqa: F401 - a fixture
)
from tests.wrapped_backend import Interleaving

import modelshelf.backends._obstore as obstore_backend
from modelshelf import Shelf
from modelshelf.backends import open_backend
from modelshelf.errors import ObjectNotFoundError, SourcePathError
from modelshelf.store.bucket import Store

ORIGINAL = b"original weights " * 64
CHANGED = b"CHANGED! weights " * 64
PART = 5 << 20  # the smallest part S3 accepts


@pytest.fixture
def s3_env(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    for key, value in s3_bucket.env.items():
        monkeypatch.setenv(key, value)
    return s3_bucket


def unfinished_uploads(env: S3Bucket) -> list[str]:
    client = boto3.client(
        "s3",
        endpoint_url=env.env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env.env["AWS_SECRET_ACCESS_KEY"],
        region_name=env.env["AWS_REGION"],
    )
    listing = client.list_multipart_uploads(Bucket=env.bucket, Prefix=env.prefix)
    return [upload["Key"] for upload in listing.get("Uploads", [])]


@pytest.mark.usefixtures("two_pass")
def test_racing_push_keeps_its_version_on_s3(s3_env: S3Bucket, tmp_path: Path) -> None:
    check_racing_push_fails_only_the_changed_one(s3_env.url, tmp_path)


@pytest.mark.usefixtures("two_pass")
@pytest.mark.parametrize("size", [len(ORIGINAL), 3 * PART + 7], ids=["single-put", "multipart"])
def test_changed_file_stores_nothing_on_s3(
    s3_env: S3Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    monkeypatch.setattr(obstore_backend, "_MULTIPART_CHUNK", PART)
    inner = open_backend(s3_env.url)
    data = os.urandom(size)
    a_dir = one_file(tmp_path / "a", data)
    changed = data[:-1] + bytes([data[-1] ^ 1])  # the last byte only: every part but one is sent
    racing = Interleaving(inner, before=lambda: rewrite_keeping_mtime(a_dir / "w.bin", changed))
    with pytest.raises(SourcePathError, match="changed while being pushed"):
        Shelf(racing).push(a_dir, "m")
    with pytest.raises(ObjectNotFoundError):
        inner.head(Store.blob_key(hashlib.sha256(data).hexdigest()))
    assert [m.path for m in inner.list("")] == []
    assert unfinished_uploads(s3_env) == []


@pytest.mark.usefixtures("two_pass")
def test_unchanged_large_file_is_pushed_in_parts_on_s3(
    s3_env: S3Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(obstore_backend, "_MULTIPART_CHUNK", PART)
    data = os.urandom(3 * PART + 7)
    a_dir = one_file(tmp_path / "a", data)
    Shelf(s3_env.url).push(a_dir, "m")
    pulled = Shelf(s3_env.url, cache_dir=tmp_path / "fresh").pull("m:1.0")
    assert (pulled / "w.bin").read_bytes() == data
