"""The local cache: verified read-only blobs, atomic writes, snapshots, refs."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import modelshelf.cache.cache as cache_module
import modelshelf.cache.locks as lock_module
from modelshelf.cache.cache import Cache, atomic_write, place_file
from modelshelf.manifest import FileEntry, Manifest

STORE_ID = "store-0123456789"


def entry_for(data: bytes, path: str = "model.bin") -> FileEntry:
    return FileEntry(path, len(data), hashlib.sha256(data).hexdigest())


def writer(data: bytes, calls: list[Path] | None = None):  # type: ignore[no-untyped-def]
    def download(tmp: Path) -> None:
        if calls is not None:
            calls.append(tmp)
        tmp.write_bytes(data)

    return download


def temps(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.tmp")) if folder.exists() else []


def dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(proc.stdout)


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache")


def test_default_root_comes_from_the_environment(tmp_path: Path) -> None:
    assert Cache().root == tmp_path / "_cache"


# -- blobs -----------------------------------------------------------------------------------


def test_fetch_blob_writes_a_read_only_blob_through_a_temp_file(cache: Cache) -> None:
    data = b"weights" * 1000
    entry = entry_for(data)
    dest = cache.blob_path(entry.sha256)
    seen: list[Path] = []

    def download(tmp: Path) -> None:
        seen.append(tmp)
        assert tmp.parent == dest.parent  # same folder, so the rename is atomic
        assert tmp.name.startswith(f".{entry.sha256}.{os.getpid()}-")  # <pid>-<rand>: owner
        assert tmp.name.endswith(".tmp")
        assert not dest.exists()  # nothing is visible before the rename
        tmp.write_bytes(data)

    path = cache.fetch_blob(entry, download)
    assert path == dest
    assert path.read_bytes() == data
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert len(seen) == 1 and not seen[0].exists()
    assert temps(cache.root) == []
    assert cache.has_blob(entry.sha256)
    assert dest == cache.root / "blobs" / "sha256" / entry.sha256[:2] / entry.sha256


def test_failing_download_leaves_no_blob_and_no_temp_file(cache: Cache) -> None:
    entry = entry_for(b"real content")

    def download(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise ConnectionError("the network went away")

    with pytest.raises(ConnectionError, match="went away"):
        cache.fetch_blob(entry, download)
    assert not cache.has_blob(entry.sha256)
    assert not cache.blob_path(entry.sha256).exists()
    assert temps(cache.root) == []
    # and a later attempt works
    assert cache.fetch_blob(entry, writer(b"real content")).read_bytes() == b"real content"


def test_stale_temp_files_of_dead_owners_are_removed(
    cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_module, "LOCKED_DOWNLOAD_SIZE", 0)
    entry = entry_for(b"content")
    folder = cache.blob_path(entry.sha256).parent
    folder.mkdir(parents=True)
    stale = folder / f".{entry.sha256}.{dead_pid()}-0badf00d.deadbeef.tmp"
    live = folder / f".{entry.sha256}.{cache.owner()}.cafecafe.tmp"  # its owner's lock is held
    other_blob = folder / f".{'f' * 64}.{dead_pid()}-0badf00d.deadbeef.tmp"
    no_owner = folder / f".{entry.sha256}.{os.getpid()}.x.tmp"  # a PID is not an owner
    for path in (stale, live, other_blob, no_owner):
        path.write_bytes(b"partial")

    cache.fetch_blob(entry, writer(b"content"))
    assert not stale.exists()
    assert live.exists()  # a process that is still downloading keeps its file
    assert other_blob.exists()  # only this blob's temporaries are looked at
    assert not no_owner.exists()


def test_cache_hit_takes_no_lock_and_calls_no_download(
    cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = entry_for(b"hit me")
    cache.fetch_blob(entry, writer(b"hit me"))

    def no_lock(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cache hit must not take the lock")

    def no_download(tmp: Path) -> None:
        raise AssertionError("a cache hit must not download")

    monkeypatch.setattr(lock_module, "blob_lock", no_lock)  # cache imports it on use
    assert cache.fetch_blob(entry, no_download).read_bytes() == b"hit me"


def test_a_miss_does_take_the_lock(cache: Cache, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_module, "LOCKED_DOWNLOAD_SIZE", 0)

    def no_lock(*args: object, **kwargs: object) -> None:
        raise RuntimeError("lock taken")

    monkeypatch.setattr(lock_module, "blob_lock", no_lock)  # cache imports it on use
    with pytest.raises(RuntimeError, match="lock taken"):
        cache.fetch_blob(entry_for(b"x"), writer(b"x"))


def test_a_small_miss_takes_no_lock(cache: Cache, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_lock(*args: object, **kwargs: object) -> None:
        raise RuntimeError("lock taken")

    monkeypatch.setattr(lock_module, "blob_lock", no_lock)  # cache imports it on use
    entry = entry_for(b"small")
    assert entry.size < cache_module.LOCKED_DOWNLOAD_SIZE
    assert cache.fetch_blob(entry, writer(b"small")).read_bytes() == b"small"


def test_concurrent_fetches_of_one_blob_download_once(
    cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_module, "LOCKED_DOWNLOAD_SIZE", 0)
    data = b"shared" * 100
    entry = entry_for(data)
    calls: list[Path] = []
    lock = threading.Lock()

    def slow_download(tmp: Path) -> None:
        with lock:
            calls.append(tmp)
        time.sleep(0.1)
        tmp.write_bytes(data)

    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.fetch_blob(entry, slow_download)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert results == [cache.blob_path(entry.sha256)] * 4


# -- atomic writes and placing files ---------------------------------------------------------


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    dest = tmp_path / "deep" / "er" / "file"
    atomic_write(dest, b"one")
    atomic_write(dest, b"two")
    assert dest.read_bytes() == b"two"
    assert temps(tmp_path) == []


@pytest.mark.parametrize("how", ["copy", "reflink"])
def test_place_file_copies_are_writable(tmp_path: Path, how: str) -> None:
    source = tmp_path / "blob"
    source.write_bytes(b"data")
    source.chmod(0o444)
    dest = tmp_path / "out" / "f"
    place_file(source, dest, how)
    assert dest.read_bytes() == b"data"
    assert stat.S_IMODE(dest.stat().st_mode) & 0o200
    assert not os.path.samefile(source, dest)
    assert temps(tmp_path) == []


def test_place_file_hardlink_and_symlink(tmp_path: Path) -> None:
    source = tmp_path / "blob"
    source.write_bytes(b"data")
    place_file(source, tmp_path / "hard", "hardlink")
    place_file(source, tmp_path / "soft", "symlink")
    assert os.path.samefile(source, tmp_path / "hard")
    assert (tmp_path / "soft").is_symlink()
    assert (tmp_path / "soft").readlink() == source


def test_place_file_replaces_an_existing_file(tmp_path: Path) -> None:
    source = tmp_path / "blob"
    source.write_bytes(b"new")
    dest = tmp_path / "dest"
    dest.write_bytes(b"old")
    place_file(source, dest, "hardlink")
    assert dest.read_bytes() == b"new"


# -- manifests, snapshots --------------------------------------------------------------------


def make_manifest(files: dict[str, bytes], name: str = "nlp/m", version: str = "1.0") -> Manifest:
    entries = tuple(entry_for(data, path) for path, data in sorted(files.items()))
    return Manifest(name, version, "directory", entries, "2024-01-01T00:00:00.000000Z", "a@b")


def test_manifest_cache_round_trip_and_versions(cache: Cache) -> None:
    assert cache.load_manifest(STORE_ID, "nlp/m", "1.0") is None
    for version in ("1.9", "1.10", "2.0"):
        cache.save_manifest(STORE_ID, make_manifest({"a": b"a"}, version=version))
    assert cache.load_manifest(STORE_ID, "nlp/m", "1.10") == make_manifest(
        {"a": b"a"}, version="1.10"
    )
    assert [str(x) for x in cache.cached_versions(STORE_ID, "nlp/m")] == ["2.0", "1.10", "1.9"]
    assert cache.cached_versions(STORE_ID, "other") == []
    assert cache.cached_versions("another-store", "nlp/m") == []


def test_damaged_cached_manifest_counts_as_absent(cache: Cache) -> None:
    manifest = make_manifest({"a": b"a"})
    cache.save_manifest(STORE_ID, manifest)
    path = next((cache.root / "manifests").rglob("1.0.json"))
    path.write_bytes(b"{truncated")
    assert cache.load_manifest(STORE_ID, "nlp/m", "1.0") is None


def fill(cache: Cache, manifest: Manifest, files: dict[str, bytes]) -> None:
    for entry in manifest.files:
        cache.fetch_blob(entry, writer(files[entry.path]))


def test_link_snapshot_marks_complete_only_when_every_file_is_there(cache: Cache) -> None:
    files = {"model.bin": b"weights", "tok/vocab.txt": b"vocab", "tok/merges.txt": b"merges"}
    manifest = make_manifest(files)
    fill(cache, manifest, files)
    folder = cache.link_snapshot(STORE_ID, manifest, manifest.select("tok"))
    assert folder == cache.snapshot_dir(STORE_ID, "nlp/m", "1.0")
    assert (folder / "tok" / "vocab.txt").read_bytes() == b"vocab"
    assert not (folder / "model.bin").exists()
    assert not cache.is_complete(STORE_ID, "nlp/m", "1.0")

    cache.link_snapshot(STORE_ID, manifest, manifest.select("model.bin"))
    assert cache.is_complete(STORE_ID, "nlp/m", "1.0")
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "model.bin",
        "tok/merges.txt",
        "tok/vocab.txt",
    ]  # the snapshot holds exactly the asset's files
    for entry in manifest.files:
        linked = folder / entry.path
        assert os.path.samefile(linked, cache.blob_path(entry.sha256))
        assert stat.S_IMODE(linked.stat().st_mode) & 0o222 == 0


def test_link_snapshot_is_idempotent_and_repairs_a_missing_file(cache: Cache) -> None:
    files = {"a": b"1", "b/c": b"2"}
    manifest = make_manifest(files)
    fill(cache, manifest, files)
    folder = cache.link_snapshot(STORE_ID, manifest, manifest.files)
    cache.link_snapshot(STORE_ID, manifest, manifest.files)
    (folder / "a").unlink()
    cache.link_snapshot(STORE_ID, manifest, manifest.files)
    assert (folder / "a").read_bytes() == b"1"
    assert temps(cache.root) == []


def test_link_snapshot_replaces_a_foreign_writable_file(cache: Cache) -> None:
    files = {"a": b"right"}
    manifest = make_manifest(files)
    fill(cache, manifest, files)
    folder = cache.snapshot_dir(STORE_ID, "nlp/m", "1.0")
    folder.mkdir(parents=True)
    (folder / "a").write_bytes(b"wrong")  # same size, but writable: not one of ours
    cache.link_snapshot(STORE_ID, manifest, manifest.files)
    assert (folder / "a").read_bytes() == b"right"


# -- refs ------------------------------------------------------------------------------------


def test_refs_round_trip(cache: Cache) -> None:
    assert cache.read_ref(STORE_ID, "nlp/m", "aliases:production") is None
    cache.write_ref(STORE_ID, "nlp/m", "aliases:production", "1.3")
    cache.write_ref(STORE_ID, "nlp/m", "versions:1", "1.10")
    cache.write_ref(STORE_ID, "nlp/m", "aliases:latest", "2.0")
    assert cache.read_ref(STORE_ID, "nlp/m", "aliases:production") == "1.3"
    assert cache.read_ref(STORE_ID, "nlp/m", "versions:1") == "1.10"
    assert cache.read_ref(STORE_ID, "nlp/m", "aliases:latest") == "2.0"
    cache.write_ref(STORE_ID, "nlp/m", "aliases:production", "1.4")
    assert cache.read_ref(STORE_ID, "nlp/m", "aliases:production") == "1.4"
    assert cache.read_ref("other-store", "nlp/m", "aliases:production") is None
    assert cache.read_ref(STORE_ID, "nlp", "aliases:production") is None
    assert temps(cache.root) == []


def test_cache_writes_name_their_temp_files_after_their_owner(
    cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So that prune and verify can tell a dead writer's leftover from a live write."""
    seen: list[str] = []
    real = os.replace
    cache.root.mkdir(parents=True, exist_ok=True)
    cache.mark()  # its CACHEDIR.TAG, written once, is not what this counts

    def spy(src: str | Path, dst: str | Path) -> None:
        seen.append(Path(src).name)
        real(src, dst)

    monkeypatch.setattr(cache_module.os, "replace", spy)
    cache.write_ref(STORE_ID, "m", "aliases:prod", "1.0")
    manifest = make_manifest({"model.bin": b"x"})
    cache.save_manifest(STORE_ID, manifest)
    assert len(seen) == 2
    assert all(cache.temp_owner(name) == cache.owner() for name in seen), seen


def test_snapshot_paths_are_built_inside_the_snapshot(cache: Cache) -> None:
    from modelshelf.errors import UntrustedStoreDataError

    manifest = make_manifest({"model.bin": b"x"})
    with pytest.raises(UntrustedStoreDataError):
        cache.snapshot_path(STORE_ID, manifest, "../../escape")
    assert cache.snapshot_path(STORE_ID, manifest, "model.bin").name == "model.bin"


def test_place_file_replaces_a_folder(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.write_bytes(b"data")
    for how in ("hardlink", "copy", "symlink"):
        dest = tmp_path / how
        (dest / "inner").mkdir(parents=True)
        place_file(source, dest, how)
        assert dest.read_bytes() == b"data"
