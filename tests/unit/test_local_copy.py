"""Pulls from a ``file://`` store copy in the kernel, and verify what was written."""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from modelshelf import CacheWriteError, IntegrityError, Shelf, constants
from modelshelf.transfer import local_copy as _local_copy
from modelshelf.transfer.download import LocalBlob, ObjectBlob

SMALL = b"tokens\n" * 1000


@pytest.fixture
def pushed(tmp_path: Path) -> tuple[Shelf, dict[str, bytes], Path]:
    """A version of a small and a several-chunk file in a file:// store; the store folder."""
    model = tmp_path / "model"
    model.mkdir()
    files = {"small.txt": SMALL, "weights.bin": os.urandom(2 * constants.CHUNK_SIZE + 4321)}
    for name, data in files.items():
        (model / name).write_bytes(data)
    shelf = Shelf((tmp_path / "store").as_uri(), cache_dir=tmp_path / "cache")
    shelf.push(model, "m", progress=False)
    return shelf, files, tmp_path / "store"


def _blob(store: Path, data: bytes) -> Path:
    sha = hashlib.sha256(data).hexdigest()
    return store / "blobs" / "sha256" / sha[:2] / sha


def _replace(path: Path, data: bytes) -> None:
    path.chmod(0o644)
    path.write_bytes(data)


def _not_cached(shelf: Shelf, data: bytes) -> bool:
    """The blob of ``data`` is not in the cache, and no temporary file is left."""
    sha = hashlib.sha256(data).hexdigest()
    return not shelf.cache.has_blob(sha) and list(shelf.cache.root.rglob("*.tmp")) == []


def _pulled_right(shelf: Shelf, files: dict[str, bytes]) -> None:
    folder = shelf.pull("m:1.0", progress=False)
    for name, data in files.items():
        assert (folder / name).read_bytes() == data
        assert (folder / name).stat().st_mode & 0o222 == 0  # read-only blobs


def _counting(real: Callable[..., Any], calls: list[tuple[Any, ...]]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    return wrapper


def test_a_file_store_hands_out_local_blobs_and_others_do_not(
    pushed: tuple[Shelf, dict[str, bytes], Path],
) -> None:
    shelf, _files, store = pushed
    sha = hashlib.sha256(SMALL).hexdigest()
    blob = shelf.store.open_blob(sha)
    assert isinstance(blob, LocalBlob) and blob.path == _blob(store, SMALL)
    assert bytes(blob.read_range(0, 6)) == b"tokens"  # still an object for other uses
    memory = Shelf("memory://local-copy-other").store
    assert type(memory.open_blob(sha)) is ObjectBlob


def test_a_pull_copies_with_copy_file_range(
    pushed: tuple[Shelf, dict[str, bytes], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    shelf, files, _ = pushed
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(os, "copy_file_range", _counting(os.copy_file_range, calls))
    _pulled_right(shelf, files)
    # A chunk per call at most, so hashing chunk k overlaps copying chunk k + 1.
    assert len(calls) >= 4
    assert all(count <= constants.CHUNK_SIZE for _, _, count, *_ in calls)


def test_the_fallback_copies_when_copy_file_range_is_refused(
    pushed: tuple[Shelf, dict[str, bytes], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    shelf, files, _ = pushed

    def cross_device(*args: object) -> int:
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    monkeypatch.setattr(os, "copy_file_range", cross_device)
    _pulled_right(shelf, files)


def test_a_full_disk_in_the_fallback_is_a_cache_write_error(
    pushed: tuple[Shelf, dict[str, bytes], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    shelf, files, _ = pushed

    def refused(*args: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "copy_file_range", refused)
    monkeypatch.setattr(os, "pwrite", refused)
    with pytest.raises(CacheWriteError) as info:
        shelf.pull("m:1.0", progress=False)
    assert info.value.errno == errno.ENOSPC
    assert _not_cached(shelf, SMALL) and _not_cached(shelf, files["weights.bin"])


@pytest.mark.parametrize("name", ["small.txt", "weights.bin"])
def test_a_blob_with_other_bytes_of_the_same_size_is_refused(
    pushed: tuple[Shelf, dict[str, bytes], Path], name: str
) -> None:
    shelf, files, store = pushed
    data = files[name]
    _replace(_blob(store, data), bytes(len(data)))
    with pytest.raises(IntegrityError) as info:
        shelf.pull("m:1.0", progress=False)
    assert info.value.path == name
    assert info.value.actual == hashlib.sha256(bytes(len(data))).hexdigest()
    assert _not_cached(shelf, data)


@pytest.mark.parametrize("delta", [-1, 1])
def test_a_truncated_or_grown_blob_is_refused_naming_both_sizes(
    pushed: tuple[Shelf, dict[str, bytes], Path], delta: int
) -> None:
    shelf, files, store = pushed
    data = files["small.txt"]
    _replace(_blob(store, data), (data + b"x")[: len(data) + delta])
    with pytest.raises(IntegrityError, match=f"{len(data) + delta} bytes instead of {len(data)}"):
        shelf.pull("m:1.0", progress=False)
    assert _not_cached(shelf, SMALL)


def test_a_symlink_in_place_of_a_blob_is_not_followed(
    pushed: tuple[Shelf, dict[str, bytes], Path], tmp_path: Path
) -> None:
    shelf, _files, store = pushed
    blob = _blob(store, SMALL)
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_bytes(SMALL)  # even the right bytes: the store may not point outside itself
    blob.unlink()
    blob.symlink_to(elsewhere)
    with pytest.raises(IntegrityError, match="symbolic link"):
        shelf.pull("m:1.0", progress=False)
    assert _not_cached(shelf, SMALL)


def test_a_fifo_in_place_of_a_blob_is_refused_without_blocking(
    pushed: tuple[Shelf, dict[str, bytes], Path],
) -> None:
    shelf, _, store = pushed
    blob = _blob(store, SMALL)
    blob.unlink()
    os.mkfifo(blob)
    with pytest.raises(IntegrityError, match="not a regular file"):
        shelf.pull("m:1.0", progress=False)


def test_a_missing_blob_is_refused(pushed: tuple[Shelf, dict[str, bytes], Path]) -> None:
    shelf, _, store = pushed
    _blob(store, SMALL).unlink()
    with pytest.raises(IntegrityError, match="the blob is missing"):
        shelf.pull("m:1.0", progress=False)


@pytest.mark.parametrize("name", ["small.txt", "weights.bin"])
def test_the_hash_is_of_what_was_written_not_of_what_was_read(
    pushed: tuple[Shelf, dict[str, bytes], Path], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """A copy that writes other bytes than the store holds (as a blob rewritten while it is
    copied would) fails, though the store's file itself is right."""
    shelf, files, _ = pushed
    real = _local_copy._copy_chunk
    target = len(files[name])

    def damaging(src: int, dst: int, start: int, end: int) -> int:
        copied = real(src, dst, start, end)
        if os.fstat(src).st_size == target and copied:
            os.pwrite(dst, b"\xff", start)
        return copied

    monkeypatch.setattr(_local_copy, "_copy_chunk", damaging)
    with pytest.raises(IntegrityError) as info:
        shelf.pull("m:1.0", progress=False)
    assert info.value.path == name
    assert not shelf.cache.has_blob(hashlib.sha256(files[name]).hexdigest())


def test_a_clone_is_hashed_and_its_size_checked(
    pushed: tuple[Shelf, dict[str, bytes], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the filesystem clones (FICLONE), nothing is copied and the clone is verified."""
    shelf, files, _store = pushed

    def clone(src: int, dst: int) -> bool:
        size = os.fstat(src).st_size
        os.pwrite(dst, os.pread(src, size, 0) + extra, 0)
        return True

    copies: list[tuple[Any, ...]] = []
    monkeypatch.setattr(_local_copy, "_clone", clone)
    monkeypatch.setattr(_local_copy, "_copy_chunk", _counting(_local_copy._copy_chunk, copies))
    extra = b"grown while cloned"
    with pytest.raises(IntegrityError, match="bytes instead of"):
        shelf.pull("m:1.0", progress=False)
    extra = b""
    _pulled_right(shelf, files)
    assert copies == []


def test_progress_advances_by_every_byte(tmp_path: Path) -> None:
    data = os.urandom(constants.CHUNK_SIZE + 1)
    source = tmp_path / "blob"
    source.write_bytes(data)

    class Task:
        done = 0

        def advance(self, count: int) -> None:
            self.done += count

    task = Task()
    sha = hashlib.sha256(data).hexdigest()
    _local_copy.download_local(
        source,
        len(data),
        sha,
        tmp_path / "out",
        label="b",
        where="here",
        progress=task,  # type: ignore[arg-type]
    )
    assert task.done == len(data) and (tmp_path / "out").read_bytes() == data


def test_local_blobs_share_one_pool_largest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """The largest blob's hash (sequential) starts first; the rest run beside it."""
    from dataclasses import dataclass

    from modelshelf.transfer.download import run_per_blob

    @dataclass(frozen=True)
    class Entry:
        sha256: str
        size: int

    entries = [Entry("a", 1), Entry("b", 10 * constants.RANGE_SIZE), Entry("c", 5)]
    monkeypatch.setattr(constants, "max_concurrency", lambda: 1)
    order: list[str] = []
    done = run_per_blob(lambda e: order.append(e.sha256) or e.size, entries, local=True)
    assert order == ["b", "c", "a"] and done == {e.sha256: e.size for e in entries}
