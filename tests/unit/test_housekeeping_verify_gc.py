"""`verify` finds every bad blob of a version; `gc` deletes only what no version uses."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.wrapped_backend import WrappedBackend

from modelshelf import Shelf, constants
from modelshelf.backends import Backend, ObjectMeta, open_backend
from modelshelf.backends.base import PutMode
from modelshelf.cli.main import main
from modelshelf.errors import InvalidInputError, InvalidManifestError, VersionNotFoundError
from modelshelf.manifest import FileEntry, Manifest
from modelshelf.store import bucket as store_module
from modelshelf.store.bucket import Store, now_iso
from modelshelf.store.gc import collect_garbage, parse_grace

LATER = datetime.now(UTC) + timedelta(days=2)  # every blob written by a test is old by then


@pytest.fixture(params=["memory", "file"])
def shelf(request: pytest.FixtureRequest, tmp_path: Path) -> Shelf:
    url = "memory://housekeeping" if request.param == "memory" else (tmp_path / "s").as_uri()
    return Shelf(url, cache_dir=tmp_path / "cache")


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "sub").mkdir(parents=True)
    (root / "weights.bin").write_bytes(os.urandom(3000))
    (root / "sub" / "a.txt").write_bytes(b"same")
    (root / "sub" / "b.txt").write_bytes(b"same")  # one blob, two files
    return root


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def entry(manifest: Manifest, path: str) -> FileEntry:
    found = manifest.file(path)
    assert found is not None
    return found


# -- verify -------------------------------------------------------------------------------------


def test_verify_of_a_whole_version_is_ok(shelf: Shelf, model: Path) -> None:
    shelf.push(model, "m", progress=False)
    for quick in (False, True):
        report = shelf.verify("m", quick=quick, progress=False)
        assert report.ok and (report.files, report.blobs) == (3, 2)
        assert report.size == 3000 + 4


def test_verify_finds_a_same_size_corruption_that_quick_cannot(shelf: Shelf, model: Path) -> None:
    manifest = shelf.push(model, "m", progress=False)
    weights = entry(manifest, "weights.bin")
    key = shelf.store.blob_key(weights.sha256)
    shelf.store.backend.put(key, os.urandom(3000))
    assert shelf.verify("m:1.0", quick=True, progress=False).ok  # sizes only, by design
    report = shelf.verify("m:1.0", progress=False)
    (fault,) = report.faults
    assert (fault.path, fault.key, fault.problem) == ("weights.bin", key, "sha256")
    assert fault.sha256 == weights.sha256 and fault.sha256 not in fault.actual
    assert "weights.bin" in fault.describe() and key in fault.describe()


def test_verify_names_every_file_of_a_missing_or_truncated_blob(shelf: Shelf, model: Path) -> None:
    manifest = shelf.push(model, "m", progress=False)
    shelf.store.backend.delete(shelf.store.blob_key(sha(b"same")))
    weights = entry(manifest, "weights.bin").sha256
    shelf.store.backend.put(shelf.store.blob_key(weights), b"short")
    for quick in (True, False):
        faults = shelf.verify("m", quick=quick, progress=False).faults
        assert [(f.path, f.problem) for f in faults] == [
            ("sub/a.txt", "missing"),
            ("sub/b.txt", "missing"),
            ("weights.bin", "size"),
        ]
        assert "5 bytes" in faults[2].actual


def test_verify_reads_large_blobs_by_ranges(
    shelf: Shelf, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(constants, "RANGE_SIZE", 1000)
    big = tmp_path / "big.bin"
    data = os.urandom(10_500)
    big.write_bytes(data)
    shelf.push(big, "big", progress=False)
    assert shelf.verify("big", progress=False).ok
    damaged = bytearray(data)
    damaged[9_999] ^= 1  # one bit in the tenth range
    shelf.store.backend.put(shelf.store.blob_key(sha(data)), bytes(damaged))
    (fault,) = shelf.verify("big", progress=False).faults
    assert fault.problem == "sha256" and sha(bytes(damaged)) in fault.actual


def test_verify_of_a_sub_path_checks_only_it(shelf: Shelf, model: Path) -> None:
    shelf.push(model, "m", progress=False)
    shelf.store.backend.delete(shelf.store.blob_key(sha(b"same")))
    assert shelf.verify("m:1.0/weights.bin", progress=False).ok
    assert len(shelf.verify("m:1.0/sub", progress=False).faults) == 2


def test_verify_reads_the_manifest_from_the_store_not_the_cache(shelf: Shelf, model: Path) -> None:
    shelf.push(model, "m", progress=False)
    shelf.pull("m:1.0", progress=False)
    shelf.remove("m:1.0")
    with pytest.raises(VersionNotFoundError, match="removed by"):
        shelf.verify("m:1.0", progress=False)


def test_verify_cli_exits_1_naming_each_bad_file(
    shelf: Shelf, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shelf.push(model, "m", progress=False)
    assert main(["--store", shelf.url, "verify", "m"]) == 0
    assert "all good" in capsys.readouterr().err
    shelf.store.backend.delete(shelf.store.blob_key(sha(b"same")))
    assert main(["--store", shelf.url, "verify", "m", "--quick"]) == 1
    out, err = capsys.readouterr()
    assert out.count("BAD") == 2 and "sub/a.txt" in out and "sub/b.txt" in out
    assert "2 bad file(s)" in err
    assert main(["--store", shelf.url, "verify", "m", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert [f["path"] for f in report["faults"]] == ["sub/a.txt", "sub/b.txt"]


# -- gc: grace ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("24h", 86400), ("30m", 1800), ("7d", 604800), ("90s", 90), ("0", 0), (" 2h ", 7200)],
)
def test_parse_grace(text: str, seconds: int) -> None:
    assert parse_grace(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "24", "1w", "-1h", "h", "1.5h", "24 hours", "0x"])
def test_parse_grace_refuses(text: str) -> None:
    with pytest.raises(InvalidInputError, match="30m, 24h, 7d"):
        parse_grace(text)


# -- gc: what goes, what stays ------------------------------------------------------------------


def orphan(store: Store, data: bytes) -> str:
    """A blob no manifest references, as a killed push leaves it."""
    store.backend.put(store.blob_key(sha(data)), data)
    return sha(data)


def blob_shas(store: Store) -> set[str]:
    return {digest for digest, _ in store.blobs()}


def test_gc_deletes_old_orphans_and_keeps_referenced_and_young_blobs(
    shelf: Shelf, model: Path, tmp_path: Path
) -> None:
    manifest = shelf.push(model, "m", progress=False)
    used = {f.sha256 for f in manifest.files}
    stale = orphan(shelf.store, b"killed push")
    young = collect_garbage(shelf.store)  # written just now: younger than the grace period
    assert (young.deleted, young.young, young.referenced) == ((), 1, 2)
    assert blob_shas(shelf.store) == used | {stale}
    report = collect_garbage(shelf.store, now=LATER)
    assert report.deleted == (stale,) and report.deleted_bytes == len(b"killed push")
    assert (report.blobs, report.referenced, report.young, report.versions) == (3, 2, 0, 1)
    assert blob_shas(shelf.store) == used
    fresh = Shelf(shelf.store.backend, cache_dir=tmp_path / "fresh-cache")
    assert (fresh.pull("m", progress=False) / "sub" / "a.txt").read_bytes() == b"same"


def test_gc_dry_run_deletes_nothing(shelf: Shelf, model: Path) -> None:
    shelf.push(model, "m", progress=False)
    stale = orphan(shelf.store, b"x")
    report = collect_garbage(shelf.store, dry_run=True, now=LATER)
    assert report.dry_run and report.deleted == (stale,)
    assert stale in blob_shas(shelf.store)


def test_gc_frees_the_blobs_of_a_removed_version_but_not_shared_ones(
    shelf: Shelf, model: Path
) -> None:
    first = shelf.push(model, "m", progress=False)
    (model / "leaked.env").write_bytes(b"SECRET=1")
    shelf.push(model, "m", progress=False)
    shelf.remove("m:1.1")
    report = collect_garbage(shelf.store, now=LATER)
    assert report.deleted == (sha(b"SECRET=1"),)
    assert blob_shas(shelf.store) == {f.sha256 for f in first.files}


def test_gc_zero_grace_warns(shelf: Shelf, model: Path, caplog: pytest.LogCaptureFixture) -> None:
    shelf.push(model, "m", progress=False)
    orphan(shelf.store, b"x")
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        report = collect_garbage(shelf.store, grace=timedelta(0), now=LATER)
    assert len(report.deleted) == 1
    assert "push in progress" in caplog.text


def test_gc_stops_before_deleting_if_a_manifest_cannot_be_read(shelf: Shelf, model: Path) -> None:
    shelf.push(model, "m", progress=False)
    stale = orphan(shelf.store, b"x")
    shelf.store.backend.put("assets/m/versions/1.0.json", b"{not json")
    with pytest.raises(InvalidManifestError, match=r"before deleting anything.*rm m:1\.0"):
        collect_garbage(shelf.store, now=LATER)
    assert stale in blob_shas(shelf.store)


def test_gc_leaves_keys_that_are_not_blobs(shelf: Shelf) -> None:
    backend = shelf.store.backend
    strays = ["blobs/sha256/ab/notahash", f"blobs/sha256/zz/{'a' * 64}", "blobs/other"]
    for key in strays:
        backend.put(key, b"?")
    assert collect_garbage(shelf.store, now=LATER).deleted == ()
    assert all(backend.exists(key) for key in strays)


def test_gc_cli_reports_counts_and_bytes(
    shelf: Shelf, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shelf.push(model, "m", progress=False)
    assert main(["--store", shelf.url, "gc", "--dry-run", "--grace", "0"]) == 0
    assert capsys.readouterr().out.startswith("would delete 0 blobs, 0 B; kept 2 in use")
    orphan(shelf.store, b"12345")
    assert main(["--store", shelf.url, "gc", "--json", "--grace", "0"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["deleted"], report["deleted_bytes"], report["grace"]) == ([sha(b"12345")], 5, 0)
    assert main(["--store", shelf.url, "gc", "--grace", "1w"]) == 1
    assert "30m, 24h, 7d" in capsys.readouterr().err


# -- gc against a concurrent push ---------------------------------------------------------------


class Hooked(WrappedBackend):
    """Runs a hook before the n-th listing of ``assets``, or before the first delete."""

    def __init__(self, inner: Backend, list_call: int = 0) -> None:
        super().__init__(inner)
        self.asset_lists = 0
        self.list_call = list_call
        self.on_list: list[Callable[[], None]] = []
        self.on_delete: list[Callable[[], None]] = []

    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        if prefix == "assets":
            self.asset_lists += 1
            if self.asset_lists == self.list_call:
                for hook in self.on_list:
                    hook()
        return super().list(prefix)

    def delete(self, key: str) -> None:
        while self.on_delete:
            self.on_delete.pop()()
        super().delete(key)


def commit_using(store: Store, name: str, digest: str, size: int) -> None:
    """Commit a version that uses an existing blob, as a push that found it present does."""
    files = (FileEntry("f", size, digest),)
    store.commit_manifest(Manifest(name, "1.0", "file", files, now_iso(), "t@h"))


def test_a_version_committed_while_gc_read_keeps_its_blob(shelf: Shelf) -> None:
    hooked = Hooked(shelf.store.backend, list_call=2)  # gc's second look, before deleting
    store = Store(hooked)
    reused = orphan(store, b"old orphan")
    hooked.on_list.append(lambda: commit_using(store, "late", reused, len(b"old orphan")))
    report = collect_garbage(store, now=LATER)
    assert report.deleted == () and report.versions == 1
    assert reused in blob_shas(store)


def test_a_version_committed_during_the_deletes_gets_its_blob_back(
    shelf: Shelf, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 20 review B4: gc used to delete the blob and only name the version as broken; it
    # now puts the blob back from its quarantine (tests/unit/test_gc_trust.py has every order).
    hooked = Hooked(shelf.store.backend)
    store = Store(hooked)
    reused = orphan(store, b"old orphan")
    hooked.on_delete.append(lambda: commit_using(store, "late", reused, len(b"old orphan")))
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        report = collect_garbage(store, now=LATER)
    assert report.deleted == () and report.broken == () and report.restored == ("late:1.0",)
    assert reused in blob_shas(store)
    assert "late:1.0 was committed while gc ran" in caplog.text


class DeleteAfterCommit(WrappedBackend):
    """A gc that deletes a blob right after a push that found it present has committed."""

    victim = ""

    def put(self, key: str, data: bytes | Path, *, mode: PutMode = "overwrite") -> None:
        super().put(key, data, mode=mode)
        if key.endswith(".json") and "/versions/" in key and self.victim:
            self.inner.delete(f"blobs/sha256/{self.victim[:2]}/{self.victim}")


@pytest.mark.parametrize("lookup", ["head", "list"])
def test_a_push_restores_a_reused_blob_that_vanished_after_its_commit(
    tmp_path: Path,
    model: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    lookup: str,
) -> None:
    if lookup == "list":  # blobs found by listing their shards, before and after the commit
        monkeypatch.setattr(store_module, "LIST_SHARDS_FROM", 1)
    backend = DeleteAfterCommit(open_backend(f"memory://restore-{lookup}"))
    shelf = Shelf(backend, cache_dir=tmp_path / "c1")
    shelf.push(model, "m", progress=False)
    backend.victim = sha(b"same")  # present before the next push: it will not upload it
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        shelf.push(model, "m", progress=False)
    assert "vanished from the store during the push" in caplog.text
    backend.victim = ""
    assert shelf.verify("m:1.1", progress=False).ok


class Undated(WrappedBackend):
    """A custom backend whose listing gives no times, or naive ones."""

    def __init__(self, inner: Backend, naive: bool) -> None:
        super().__init__(inner)
        self.naive = naive

    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        for meta in self.inner.list(prefix):
            when = (
                meta.last_modified.replace(tzinfo=None)
                if self.naive and meta.last_modified
                else None
            )
            yield ObjectMeta(meta.path, meta.size, meta.etag, when, meta.version)


def test_gc_takes_naive_times_as_utc_and_says_what_it_cannot_date(
    shelf: Shelf, model: Path, tmp_path: Path
) -> None:
    shelf.push(model, "m", progress=False)
    stale = orphan(shelf.store, b"killed push")
    naive = Store(Undated(shelf.store.backend, naive=True))
    assert collect_garbage(naive, now=LATER).deleted == (stale,)
    orphan(shelf.store, b"another")
    undated = collect_garbage(Store(Undated(shelf.store.backend, naive=False)), now=LATER)
    assert (undated.deleted, undated.young, undated.undated) == ((), 0, 1)


def test_gc_says_what_it_deleted_when_a_manifest_turns_unreadable_after_its_deletes(
    shelf: Shelf, model: Path
) -> None:
    shelf.push(model, "m", progress=False)
    orphan(shelf.store, b"x")
    hooked = Hooked(shelf.store.backend)
    store = Store(hooked)

    def break_a_new_version() -> None:
        store.backend.put("assets/late/versions/1.0.json", b"{not json")

    hooked.on_delete.append(break_a_new_version)
    with pytest.raises(InvalidManifestError, match=r"after deleting 1 blob") as info:
        collect_garbage(store, now=LATER)
    assert "before deleting anything" not in str(info.value)
