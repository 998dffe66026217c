"""Liveness by lock ownership, never by PID: temp files of live downloads and blobs of live pulls
are never deleted; what killed processes left goes at the next prune."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tests.wrapped_backend import WrappedBackend

import modelshelf.cache.cache as cache_module
from modelshelf.backends.base import Backend
from modelshelf.cache.cache import Cache
from modelshelf.cache.prune import prune, usage
from modelshelf.manifest import FileEntry
from modelshelf.shelf.shelf import Shelf

# Argv: cache root, sha256, a PID to pretend to have, a file to write the temp path to.
# The child pretends its PID is one that is dead here, as a process in another PID namespace
# (another container sharing the cache) looks from this one.
FOREIGN_DOWNLOADER = r"""
import os, sys, time
from pathlib import Path
root, sha, fake_pid, report = sys.argv[1:5]
os.getpid = lambda: int(fake_pid)
from modelshelf.cache.cache import Cache
from modelshelf.manifest import FileEntry
def download(tmp):
    tmp.write_bytes(b"partial" * 1000)
    Path(report).write_text(str(tmp))
    time.sleep(120)
Cache(root).fetch_blob(FileEntry("big.bin", 100_000, sha), download)
"""


def dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(proc.stdout)


def wait_for(condition: object, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture
def foreign_download(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A download in progress in another process whose PID, seen from here, is dead."""
    data = b"the real content" * 10_000
    sha = hashlib.sha256(data).hexdigest()
    report = tmp_path / "temp-path.txt"
    root = tmp_path / "cache"
    proc = subprocess.Popen(
        [sys.executable, "-c", FOREIGN_DOWNLOADER, str(root), sha, str(dead_pid()), str(report)]
    )
    try:
        wait_for(lambda: report.exists() or proc.poll() is not None, "the child's temp file")
        assert proc.poll() is None
        yield (
            Cache(root),
            FileEntry("big.bin", len(data), sha),
            data,
            Path(report.read_text()),
            proc,
        )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_temp_file_whose_writer_is_alive_is_kept_though_its_pid_is_dead(
    foreign_download, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    cache, entry, data, temp, _proc = foreign_download
    assert temp.exists()
    monkeypatch.setattr(cache_module, "LOCKED_DOWNLOAD_SIZE", 0)  # take the lock, clean up

    def download(tmp: Path) -> None:
        tmp.write_bytes(data)

    cache.fetch_blob(entry, download)
    assert temp.exists()  # another container's download in progress is not ours to delete
    prune(cache, max_bytes=10**12)
    assert temp.exists()


def test_a_killed_pulls_temp_file_is_counted_and_goes_at_the_next_prune(
    foreign_download,
) -> None:  # type: ignore[no-untyped-def]
    cache, _entry, _data, temp, proc = foreign_download
    size = temp.stat().st_size
    found = usage(cache)
    assert (found.temp_files, found.temp_size) == (1, size)  # counted while it is alive
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert temp.exists()
    found = usage(cache)
    assert (found.temp_files, found.temp_size) == (1, size)
    plan = prune(cache, max_bytes=10**12)
    assert not temp.exists()
    assert plan.temp_files == [temp]
    assert usage(cache).temp_files == 0


def test_a_temp_file_nobody_holds_is_removed(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    sha = "ab" * 32
    folder = cache.blob_path(sha).parent
    folder.mkdir(parents=True)
    old_style = folder / f".{sha}.{os.getpid()}.deadbeef.tmp"  # our PID, but no lock behind it
    orphan = folder / f".{sha}.1234-0badf00d.cafecafe.tmp"
    for path in (old_style, orphan):
        path.write_bytes(b"x" * 100)
    dry = prune(cache, max_bytes=10**12, dry_run=True)
    assert sorted(dry.temp_files) == sorted([old_style, orphan]) and orphan.exists()
    prune(cache, max_bytes=10**12)
    assert not old_style.exists() and not orphan.exists()


def test_our_own_download_keeps_its_temp_file_during_a_prune(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    data = b"y" * 5000
    entry = FileEntry("f", len(data), hashlib.sha256(data).hexdigest())
    seen: list[bool] = []

    def download(tmp: Path) -> None:
        tmp.write_bytes(data[:10])
        prune(cache, max_bytes=0)
        seen.append(tmp.exists())
        with tmp.open("ab") as handle:
            handle.write(data[10:])

    cache.fetch_blob(entry, download)
    assert seen == [True]
    assert cache.blob_path(entry.sha256).read_bytes() == data


# -- prune during a pull -----------------------------------------------------------------------


class PausingBackend(WrappedBackend):
    """Stops reads of one key until the test says go."""

    def __init__(self, inner: Backend, key: str) -> None:
        super().__init__(inner)
        self.key = key
        self.paused = threading.Event()
        self.go = threading.Event()

    def get_range(self, key: str, start: int, end: int) -> bytes | memoryview:
        if key == self.key:
            self.paused.set()
            assert self.go.wait(30)
        return self.inner.get_range(key, start, end)


def test_prune_during_a_pull_keeps_what_the_pull_fetched(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    files = {"first.bin": os.urandom(3000), "second.bin": os.urandom(4000)}
    for name, data in files.items():
        (source / name).write_bytes(data)
    plain = Shelf("memory://pinned", cache_dir=tmp_path / "cache")
    manifest = plain.push(source, "m", progress=False)
    first, second = (manifest.file(name) for name in ("first.bin", "second.bin"))
    assert first is not None and second is not None
    backend = PausingBackend(plain.store.backend, plain.store.blob_key(second.sha256))
    shelf = Shelf(backend, cache_dir=tmp_path / "cache")
    result: list[object] = []

    def pull() -> None:
        try:
            result.append(shelf.pull("m:1.0", progress=False))
        except Exception as exc:
            result.append(exc)

    thread = threading.Thread(target=pull)
    thread.start()
    try:
        assert backend.paused.wait(30)
        wait_for(lambda: shelf.cache.has_blob(first.sha256), "the first blob")
        plan = prune(shelf.cache, max_bytes=0)
        assert first.sha256 not in plan.blobs
        assert shelf.cache.has_blob(first.sha256)
    finally:
        backend.go.set()
        thread.join(30)
    assert isinstance(result[0], Path), result
    for name, data in files.items():
        assert (result[0] / name).read_bytes() == data
    # the pull is over: its pin is gone, and everything may go now
    prune(shelf.cache, max_bytes=0)
    assert not shelf.cache.has_blob(first.sha256)
    assert list((shelf.cache.root / "pins").iterdir()) == []


def test_a_pin_left_by_a_dead_process_protects_nothing(tmp_path: Path) -> None:
    shelf = Shelf("memory://stale-pin", cache_dir=tmp_path / "cache")
    source = tmp_path / "src"
    source.mkdir()
    (source / "f").write_bytes(b"data" * 100)
    manifest = shelf.push(source, "m", progress=False)
    sha = manifest.files[0].sha256
    blob = shelf.cache.blob_path(sha)
    blob.parent.mkdir(parents=True)
    blob.write_bytes(b"data" * 100)
    pins = shelf.cache.root / "pins"
    pins.mkdir()
    stale = pins / "1234-0badf00d.cafecafe.json"
    stale.write_text(f'{{"snapshot": ["x", "m", "1.0"], "blobs": ["{sha}"]}}')
    prune(shelf.cache, max_bytes=0)
    assert not blob.exists() and not stale.exists()


def test_owner_files_of_dead_processes_are_tidied_up(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    code = "import sys; from modelshelf.cache.cache import Cache; print(Cache(sys.argv[1]).owner())"
    for _ in range(3):
        subprocess.run([sys.executable, "-c", code, str(root)], check=True)
    owners = root / "locks" / "owners"
    # each child tidied up after the one before; the last one's file is left behind
    assert len(list(owners.iterdir())) == 1
    cache = Cache(root)
    mine = cache.owner()
    assert [p.name for p in owners.iterdir()] == [f"{mine}.lock"]
    assert cache.owner_alive(mine) and not cache.owner_alive("1-dead")


def test_a_pull_that_cannot_get_past_maintenance_in_time_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Going ahead without the shared lock would let a prune delete what the pull links."""
    from modelshelf.errors import ModelshelfError

    shelf = Shelf("memory://busy", cache_dir=tmp_path / "cache")
    source = tmp_path / "src"
    source.mkdir()
    (source / "f").write_bytes(b"data")
    shelf.push(source, "m", progress=False)
    monkeypatch.setenv("MODELSHELF_LOCK_TIMEOUT", "1")
    with shelf.cache.maintenance(), pytest.raises(ModelshelfError) as caught:
        shelf.pull("m:1", progress=False)
    message = str(caught.value)
    assert "maintenance.lock" in message and "prune" in message
    assert "MODELSHELF_LOCK_TIMEOUT" in message
    assert not (shelf.cache.root / "pins").exists() or not list(
        (shelf.cache.root / "pins").iterdir()
    )
    assert isinstance(shelf.pull("m:1", progress=False), Path)  # maintenance over: it works
