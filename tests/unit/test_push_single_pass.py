"""Small files are read once: the bytes hashed are the bytes sent, in bounded memory.

And a new version that changes one file uploads only that file's blob. The store is real
(``memory://`` and ``file://``); a wrapped backend only watches what is put.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest
from tests.wrapped_backend import Interleaving, WrappedBackend

from modelshelf import Shelf
from modelshelf.backends import Backend, open_backend
from modelshelf.backends.base import ObjectMeta, PutMode
from modelshelf.errors import ObjectNotFoundError, SourcePathError
from modelshelf.shelf import _push_read as _upload
from modelshelf.shelf.source import SourceFile
from modelshelf.store import bucket as store_module
from modelshelf.store.bucket import Store
from modelshelf.transfer.verified_upload import HashedBytes, upload_hashed

ORIGINAL = b"original weights " * 64
CHANGED = b"CHANGED! weights " * 64  # same size


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(params=["memory", "file"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return f"memory://single-pass-{os.getpid()}-{id(request)}"
    return (tmp_path / "store").as_uri()


class Watching(WrappedBackend):
    """Records each blob put: its key, the kind of data given, and the bytes in flight."""

    def __init__(self, inner: Backend, *, hold: float = 0.0) -> None:
        super().__init__(inner)
        self.blob_puts: list[tuple[str, str]] = []
        self.hold = hold
        self.blob_heads = 0
        self.blob_lists: list[str] = []
        self._lock = threading.Lock()

    def head(self, key: str) -> ObjectMeta:
        if key.startswith("blobs/"):
            with self._lock:
                self.blob_heads += 1
        return self.inner.head(key)

    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        if prefix.startswith("blobs/"):
            with self._lock:
                self.blob_lists.append(prefix)
        return self.inner.list(prefix)

    def put(self, key: str, data: bytes | Path | BinaryIO, *, mode: PutMode = "overwrite") -> None:
        if key.startswith("blobs/"):
            with self._lock:
                self.blob_puts.append((key, "bytes" if isinstance(data, bytes) else "stream"))
            time.sleep(self.hold)  # let other workers pile up behind the memory budget
        self.inner.put(key, data, mode=mode)


def stored_blobs(backend: Backend) -> dict[str, int]:
    """Every blob object in the store, as the store lists it: key -> size."""
    return {meta.path: meta.size for meta in backend.list("blobs")}


def collected(path: Path) -> SourceFile:
    info = path.stat()
    return SourceFile(path.name, path, info.st_size, info.st_mtime_ns)


# -- the single pass ------------------------------------------------------------------------


def test_read_hashed_returns_the_bytes_and_their_hash(tmp_path: Path) -> None:
    local = tmp_path / "w.bin"
    local.write_bytes(ORIGINAL)
    content = _upload.read_hashed(collected(local))
    assert content.data == ORIGINAL and content.sha256 == sha(ORIGINAL)


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p.write_bytes(ORIGINAL + b"more"),  # grew
        lambda p: p.write_bytes(ORIGINAL[:-4]),  # shrank
        lambda p: (p.write_bytes(CHANGED), os.utime(p, ns=(1, 1))),  # same size, new mtime
    ],
    ids=["grew", "shrank", "rewritten"],
)
def test_file_changed_after_it_was_collected_is_refused(
    store_url: str, tmp_path: Path, change: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The change lands after the folder was listed (stat) and before the single read."""
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "w.bin").write_bytes(ORIGINAL)
    real_read = _upload.read_hashed

    def change_then_read(item: SourceFile) -> HashedBytes:
        change(item.local)  # type: ignore[operator]
        return real_read(item)

    monkeypatch.setattr(_upload, "read_hashed", change_then_read)
    inner = open_backend(store_url)
    with pytest.raises(SourcePathError, match="changed while being read"):
        Shelf(inner, cache_dir=tmp_path / "cache").push(folder, "m")
    assert stored_blobs(inner) == {}
    assert Shelf(inner).assets() == []


def test_file_changing_during_the_upload_stores_exactly_what_was_read(
    store_url: str, tmp_path: Path
) -> None:
    """The bytes are in memory before the upload starts: a later change cannot reach the store.

    The version records the file as it was read, and its blob holds exactly those bytes.
    """
    inner = open_backend(store_url)
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "w.bin").write_bytes(ORIGINAL)
    racing = Interleaving(inner, before=lambda: (folder / "w.bin").write_bytes(CHANGED))
    manifest = Shelf(racing, cache_dir=tmp_path / "cache").push(folder, "m")
    assert [e.sha256 for e in manifest.files] == [sha(ORIGINAL)]
    assert inner.read(Store.blob_key(sha(ORIGINAL))) == ORIGINAL
    with pytest.raises(ObjectNotFoundError):
        inner.head(Store.blob_key(sha(CHANGED)))
    pulled = Shelf(store_url, cache_dir=tmp_path / "fresh").pull("m:1.0")
    assert (pulled / "w.bin").read_bytes() == ORIGINAL


def test_hashed_bytes_hold_only_immutable_bytes() -> None:
    with pytest.raises(TypeError):
        HashedBytes(bytearray(ORIGINAL))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        HashedBytes(memoryview(ORIGINAL))  # type: ignore[arg-type]


def test_upload_hashed_refuses_bytes_of_another_hash() -> None:
    backend = open_backend("memory://hashed-refuse")
    key = Store.blob_key(sha(ORIGINAL))
    with pytest.raises(ValueError, match="hash to"):
        upload_hashed(backend, key, HashedBytes(CHANGED), sha(ORIGINAL))
    assert stored_blobs(backend) == {}


# -- which path -----------------------------------------------------------------------------


def test_paths_by_size_at_and_over_the_bound(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Empty and bound-sized files go in one pass (bytes); one byte over the bound streams."""
    monkeypatch.setattr(_upload, "SINGLE_PASS_MAX", 1024)
    folder = tmp_path / "a"
    folder.mkdir()
    files = {"empty": b"", "at": os.urandom(1024), "over": os.urandom(1025)}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    watching = Watching(open_backend(store_url))
    manifest = Shelf(watching, cache_dir=tmp_path / "cache").push(folder, "m")
    kinds = dict(watching.blob_puts)
    assert kinds == {
        Store.blob_key(sha(b"")): "bytes",
        Store.blob_key(sha(files["at"])): "bytes",
        Store.blob_key(sha(files["over"])): "stream",
    }
    assert {e.path: (e.size, e.sha256) for e in manifest.files} == {
        name: (len(data), sha(data)) for name, data in files.items()
    }
    assert stored_blobs(watching.inner) == {
        Store.blob_key(sha(data)): len(data) for data in files.values()
    }
    pulled = Shelf(store_url, cache_dir=tmp_path / "fresh").pull("m:1.0")
    assert {name: (pulled / name).read_bytes() for name in files} == files


# -- the memory bound -----------------------------------------------------------------------


def test_budget_never_holds_more_than_its_limit() -> None:
    budget = _upload.ByteBudget(10)
    held = [0]
    seen: list[int] = []
    lock = threading.Lock()

    def worker(size: int) -> None:
        with budget.hold(size):
            with lock:
                held[0] += size
                seen.append(held[0])
            time.sleep(0.002)
            with lock:
                held[0] -= size

    threads = [threading.Thread(target=worker, args=(s,)) for s in [3, 4, 5, 6, 7, 10, 0, 1] * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert max(seen) <= 10 and budget.peak <= 10
    with pytest.raises(ValueError), budget.hold(11):
        pass


def test_push_holds_at_most_the_budget_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twelve 1 MiB files, eight workers, a 3 MiB budget: never more than 3 files in memory."""
    budgets: list[_upload.ByteBudget] = []

    class Recorded(_upload.ByteBudget):
        def __init__(self, limit: int) -> None:
            super().__init__(limit)
            budgets.append(self)

    monkeypatch.setattr(_upload, "ByteBudget", Recorded)
    monkeypatch.setattr(_upload, "MEMORY_BUDGET", 3 << 20)
    monkeypatch.setenv("MODELSHELF_MAX_CONCURRENCY", "8")
    folder = tmp_path / "a"
    folder.mkdir()
    for i in range(12):
        (folder / f"f{i:02d}.bin").write_bytes(os.urandom(1 << 20))
    watching = Watching(open_backend((tmp_path / "store").as_uri()), hold=0.02)
    Shelf(watching, cache_dir=tmp_path / "cache").push(folder, "m")
    assert len(watching.blob_puts) == 12
    [budget] = budgets
    assert budget.limit == 3 << 20
    assert 1 << 20 < budget.peak <= 3 << 20  # files overlapped, within the bound


# -- a new version that changes one file (W4) -------------------------------------------------


def check_only_the_changed_blob_travels(url: str, tmp_path: Path) -> None:
    """Push a folder, change one file, push again: only that file's blob is uploaded.

    Counted from the store's side (its blob objects and their bytes before and after) and at
    the backend's ``put``. Shared with the S3 integration test.
    """
    inner = open_backend(url)
    folder = tmp_path / "model"
    folder.mkdir()
    sizes = [256 << 10] * 7 + [0]
    for i, size in enumerate(sizes):
        (folder / f"f{i}.bin").write_bytes(os.urandom(size))
    Shelf(inner, cache_dir=tmp_path / "cache").push(folder, "m")
    before = stored_blobs(inner)
    assert len(before) == len(sizes)

    new = os.urandom(256 << 10)
    (folder / "f3.bin").write_bytes(new)
    watching = Watching(inner)
    manifest = Shelf(watching, cache_dir=tmp_path / "cache").push(folder, "m")
    after = stored_blobs(inner)

    assert manifest.version == "1.1"
    assert watching.blob_puts == [(Store.blob_key(sha(new)), "bytes")]
    assert set(after) - set(before) == {Store.blob_key(sha(new))}
    assert sum(after.values()) - sum(before.values()) == len(new)
    pulled = Shelf(url, cache_dir=tmp_path / "fresh").pull("m:1.1")
    assert (pulled / "f3.bin").read_bytes() == new


@pytest.mark.parametrize("lookup", ["head", "list"])
def test_new_version_uploads_only_the_changed_file(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lookup: str
) -> None:
    if lookup == "list":
        monkeypatch.setattr(store_module, "LIST_SHARDS_FROM", 1)
    check_only_the_changed_blob_travels(store_url, tmp_path)


# -- finding stored blobs: a HEAD each, or one LIST per shard ---------------------------------


def many_files(folder: Path, count: int) -> dict[str, bytes]:
    folder.mkdir()
    files = {f"f{i:03d}": os.urandom(64) for i in range(count)}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def test_large_push_lists_each_shard_once_instead_of_a_head_per_blob(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "LIST_SHARDS_FROM", 40)
    files = many_files(tmp_path / "a", 40)
    shards = {sha(data)[:2] for data in files.values()}
    watching = Watching(open_backend(store_url))
    Shelf(watching, cache_dir=tmp_path / "cache").push(tmp_path / "a", "m")
    assert watching.blob_heads == 0
    assert sorted(watching.blob_lists) == sorted(f"blobs/sha256/{s}" for s in shards)
    assert len(watching.blob_puts) == 40

    again = Watching(watching.inner)  # the same files again: found listed, nothing uploaded
    Shelf(again, cache_dir=tmp_path / "cache").push(tmp_path / "a", "m")
    assert again.blob_puts == [] and again.blob_heads == 0
    # Listed before the commit, and again after it (the check that found blobs are still there)
    assert sorted(again.blob_lists) == sorted(2 * [f"blobs/sha256/{s}" for s in shards])


def test_small_push_asks_for_each_blob(store_url: str, tmp_path: Path) -> None:
    many_files(tmp_path / "a", 5)
    watching = Watching(open_backend(store_url))
    Shelf(watching, cache_dir=tmp_path / "cache").push(tmp_path / "a", "m")
    assert watching.blob_lists == [] and watching.blob_heads == 5


def test_a_shard_too_long_to_list_turns_lookups_back_into_heads(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inner = open_backend(store_url)
    many_files(tmp_path / "a", 6)
    Shelf(inner, cache_dir=tmp_path / "cache").push(tmp_path / "a", "m")
    monkeypatch.setattr(store_module, "LIST_SHARDS_FROM", 1)
    monkeypatch.setattr(store_module, "LIST_SHARD_MAX", 0)  # every listed shard is too long
    monkeypatch.setenv("MODELSHELF_MAX_CONCURRENCY", "1")
    watching = Watching(inner)
    Shelf(watching, cache_dir=tmp_path / "cache").push(tmp_path / "a", "m")
    # The first listing gives up, no other is tried; the same after the commit.
    assert len(watching.blob_lists) == 2
    assert watching.blob_puts == []
    assert watching.blob_heads == 6 + 6  # found by HEAD, then the after-commit check


def test_listed_keys_that_are_not_blobs_are_ignored(tmp_path: Path) -> None:
    inner = open_backend((tmp_path / "store").as_uri())
    data = b"weights"
    digest = sha(data)
    inner.put(f"blobs/sha256/{digest[:2]}/{digest}.part", data)  # not a blob key
    inner.put(f"blobs/sha256/{digest[:2]}/{digest.upper()}", data)
    store = Store(inner)
    assert store.blob_finder(10_000)(digest, len(data)) is False
    store.put_blob(digest, HashedBytes(data))
    assert store.blob_finder(10_000)(digest, len(data)) is True
    assert store.blob_finder(10_000)(digest, len(data) + 1) is False
