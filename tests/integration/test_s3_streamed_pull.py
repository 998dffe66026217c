"""On a real S3 server a pull streams each range in pieces much smaller than the range, so its
memory stays a few pieces per request in flight however large the blob."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from tests.servers.seaweed import S3Bucket
from tests.wrapped_backend import WatchingReads

from modelshelf import Shelf, constants
from modelshelf.backends import open_backend
from modelshelf.transfer.download import ObjectBlob, download_verified

MIB = 1024 * 1024


def test_ranges_arrive_in_pieces_much_smaller_than_a_range(
    s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in s3_bucket.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(constants, "RANGE_SIZE", 4 * MIB)
    monkeypatch.setattr(constants, "STREAM_CHUNK_SIZE", 256 * 1024)
    monkeypatch.setattr(constants, "WHOLE_READ_SIZE", MIB)
    data = os.urandom(10 * MIB + 5)
    backend = WatchingReads(open_backend(s3_bucket.url))
    backend.put("big", data)
    sha = hashlib.sha256(data).hexdigest()
    download_verified(ObjectBlob(backend, "big"), len(data), sha, tmp_path / "b", label="big")
    assert (tmp_path / "b").read_bytes() == data
    assert sum(backend.pieces) == len(data)
    assert max(backend.pieces) <= MIB  # pieces of about 256 KiB, never a 4 MiB range


def test_a_pull_of_a_multi_range_file_is_byte_exact(
    s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in s3_bucket.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(constants, "RANGE_SIZE", 2 * MIB)
    folder = tmp_path / "model"
    folder.mkdir()
    files = {"w.bin": os.urandom(9 * MIB + 7), "small.txt": b"tiny", "empty": b""}
    for name, content in files.items():
        (folder / name).write_bytes(content)
    Shelf(s3_bucket.url, cache_dir=tmp_path / "c1").push(folder, "m")
    pulled = Shelf(s3_bucket.url, cache_dir=tmp_path / "c2").pull("m:1.0")
    assert {p.name: p.read_bytes() for p in pulled.iterdir()} == files
