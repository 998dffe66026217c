"""A pull writes and hashes each blob as its pieces arrive, with bounded memory, and still
refuses whatever a store sends that is not the blob: extra bytes, short ranges, other bytes."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.wrapped_backend import WatchingReads, WrappedBackend

from modelshelf import constants
from modelshelf.backends import open_backend
from modelshelf.errors import IntegrityError, StoreError
from modelshelf.transfer import download as transfer
from modelshelf.transfer.download import BlobReader, ObjectBlob, download_verified

KIB = 1024
# Small sizes so that a blob of a few hundred KiB has several ranges of several pieces.
RANGE, PIECE, WHOLE = 64 * KIB, 8 * KIB, 16 * KIB


@pytest.fixture(autouse=True)
def small_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "RANGE_SIZE", RANGE)
    monkeypatch.setattr(constants, "STREAM_CHUNK_SIZE", PIECE)
    monkeypatch.setattr(constants, "WHOLE_READ_SIZE", WHOLE)
    monkeypatch.setattr(constants, "CHUNK_SIZE", 3 * PIECE)  # the read-back buffer


def stored(data: bytes, name: str) -> tuple[WatchingReads, str]:
    backend = WatchingReads(open_backend(f"memory://{name}"))
    backend.put("blob", data)
    return backend, hashlib.sha256(data).hexdigest()


def test_a_large_blob_streams_in_pieces_never_a_whole_range(tmp_path: Path) -> None:
    data = os.urandom(5 * RANGE + 123)
    backend, sha = stored(data, "stream-large")
    download_verified(ObjectBlob(backend, "blob"), len(data), sha, tmp_path / "b", label="w")
    assert (tmp_path / "b").read_bytes() == data
    assert backend.whole_reads == [123]  # only the short last range came in one buffer
    assert sum(backend.pieces) == len(data) - 123  # memory:// sends a range as one piece;
    # that S3 sends pieces much smaller than a range is checked on SeaweedFS


def test_a_small_blob_is_read_in_one_piece(tmp_path: Path) -> None:
    data = os.urandom(WHOLE)
    backend, sha = stored(data, "stream-small")
    download_verified(ObjectBlob(backend, "blob"), len(data), sha, tmp_path / "b", label="w")
    assert (tmp_path / "b").read_bytes() == data
    assert backend.whole_reads == [WHOLE]
    assert backend.pieces == []


def test_an_empty_blob_needs_no_request(tmp_path: Path) -> None:
    backend, sha = stored(b"", "stream-empty")
    download_verified(ObjectBlob(backend, "blob"), 0, sha, tmp_path / "b", label="w")
    assert (tmp_path / "b").read_bytes() == b""
    assert backend.whole_reads == [] and backend.pieces == []


class IgnoresRanges(WrappedBackend):
    """A store that answers every ranged read with the whole object from the start."""

    def get_range_chunks(
        self, key: str, start: int, end: int, chunk_size: int
    ) -> Iterator[bytes | memoryview]:
        return self.inner.get_range_chunks(key, 0, 2**40, chunk_size)


def test_a_store_that_sends_more_than_asked_is_refused(tmp_path: Path) -> None:
    data = os.urandom(3 * RANGE)
    backend = IgnoresRanges(open_backend("memory://stream-more"))
    backend.put("blob", data)
    sha = hashlib.sha256(data).hexdigest()
    with pytest.raises(StoreError, match="sent more than the"):
        download_verified(ObjectBlob(backend, "blob"), len(data), sha, tmp_path / "b", label="w")


class ShortRange(WrappedBackend):
    """Streams every range but the second one short (a connection cut mid-range)."""

    def get_range_chunks(
        self, key: str, start: int, end: int, chunk_size: int
    ) -> Iterator[bytes | memoryview]:
        cut = start + PIECE if start == RANGE else end
        return self.inner.get_range_chunks(key, start, cut, chunk_size)


def test_a_range_that_comes_back_short_fails_the_pull(tmp_path: Path) -> None:
    data = os.urandom(4 * RANGE)
    backend = ShortRange(open_backend("memory://stream-short"))
    backend.put("blob", data)
    sha = hashlib.sha256(data).hexdigest()
    with pytest.raises(IntegrityError, match=f"bytes, expected {len(data)}"):
        download_verified(ObjectBlob(backend, "blob"), len(data), sha, tmp_path / "b", label="w")


class OtherBytes(WrappedBackend):
    """Same size, other bytes in the last range: only the hash can tell."""

    def get_range_chunks(
        self, key: str, start: int, end: int, chunk_size: int
    ) -> Iterator[bytes | memoryview]:
        for piece in self.inner.get_range_chunks(key, start, end, chunk_size):
            view = memoryview(piece)
            yield bytes(view.nbytes) if start >= 2 * RANGE else view


def test_other_bytes_in_a_late_range_fail_the_hash(tmp_path: Path) -> None:
    data = os.urandom(3 * RANGE - 1)
    backend = OtherBytes(open_backend("memory://stream-other"))
    backend.put("blob", data)
    sha = hashlib.sha256(data).hexdigest()
    with pytest.raises(IntegrityError, match=sha):
        download_verified(ObjectBlob(backend, "blob"), len(data), sha, tmp_path / "b", label="w")


def test_what_is_hashed_is_what_the_file_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large blobs are hashed by reading the file back: a write that went wrong is caught."""
    data = os.urandom(3 * RANGE)
    backend, sha = stored(data, "stream-readback")
    real = transfer._write_pieces

    def losing_writes(blob: BlobReader, fd: int, start: int, end: int) -> Iterator[memoryview]:
        yield from real(blob, fd, start, end)
        os.pwrite(fd, bytes(PIECE), start)  # as if the disk lost what was written

    monkeypatch.setattr(transfer, "_write_pieces", losing_writes)
    with pytest.raises(IntegrityError, match=sha):
        download_verified(ObjectBlob(backend, "blob"), len(data), sha, tmp_path / "b", label="w")


SIZES = [1, PIECE - 1, PIECE, PIECE + 1, WHOLE, WHOLE + 1, RANGE - 1, RANGE, RANGE + 1]
SIZES += [2 * RANGE, 2 * RANGE + 1, 3 * RANGE - 1, 3 * PIECE * 5 + 7]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    size=st.sampled_from(SIZES),
    seed=st.integers(0, 255),
)
def test_every_size_arrives_byte_exact(
    size: int, seed: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = bytes((seed + i * 7) % 251 for i in range(size))
    backend, sha = stored(data, f"stream-sizes-{size}-{seed}")
    dest = tmp_path_factory.mktemp("sizes") / "b"
    download_verified(ObjectBlob(backend, "blob"), size, sha, dest, label="w")
    assert dest.read_bytes() == data


@pytest.mark.parametrize("size", [0, 1, PIECE - 1, PIECE, 3 * PIECE + 5])
def test_a_local_store_streams_by_ranged_reads_of_one_piece(tmp_path: Path, size: int) -> None:
    backend = open_backend((tmp_path / "store").as_uri())
    data = os.urandom(size)
    backend.put("blob", data)
    pieces = [bytes(p) for p in backend.get_range_chunks("blob", 0, size + 100, PIECE)]
    assert b"".join(pieces) == data  # a range past the end gives what there is
    assert all(len(p) <= PIECE for p in pieces)
