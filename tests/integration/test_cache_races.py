"""A prune in one process while another process pulls into the same cache."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.integration.test_races import RaceStore, child_env, race_store, wait_for

import modelshelf.cache.cache as cache_module
from modelshelf import Shelf
from modelshelf.cache.cache import Cache
from modelshelf.cache.prune import prune, usage
from modelshelf.manifest import FileEntry

__all__ = ["race_store"]  # the fixture, shared with test_races.py

# Argv: store URL, spec, release file. The small file and the first range of the large one
# arrive at once; the rest of the large one waits until the test creates the release file.
HELD_PULLER = r"""
import sys, time
from pathlib import Path
from modelshelf.backends import _obstore
from modelshelf import Shelf
url, spec, release = sys.argv[1:4]
fetch = _obstore.ObstoreBackend.get_range
def held_get_range(self, key, start, end):
    data = fetch(self, key, start, end)
    while start > 0 and not Path(release).exists():
        time.sleep(0.01)
    return data
_obstore.ObstoreBackend.get_range = held_get_range
from modelshelf.transfer import local_copy as _local_copy
copy = _local_copy._copy_chunk
def held_copy(src, dst, start, end):
    while start > 0 and not Path(release).exists():
        time.sleep(0.01)
    return copy(src, dst, start, end)
_local_copy._copy_chunk = held_copy
path = Shelf(url).pull(spec, progress=False)
print("finished", path)
"""


def test_prune_in_another_process_during_a_pull_deletes_nothing_it_needs(
    race_store: RaceStore, tmp_path: Path
) -> None:
    source = tmp_path / "model"
    source.mkdir()
    files = {"big.bin": os.urandom(20 * 1024 * 1024), "small.txt": b"tokens\n"}
    for name, data in files.items():
        (source / name).write_bytes(data)
    Shelf(race_store.url).push(source, "held/model")
    cache = Cache(tmp_path / "shared-cache")
    small = cache.blob_path(hashlib.sha256(files["small.txt"]).hexdigest())
    release = tmp_path / "release"

    log = (tmp_path / "puller.txt").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-c", HELD_PULLER, race_store.url, "held/model:1.0", str(release)],
        stdout=log, stderr=subprocess.STDOUT, env=child_env(cache.root),
    )  # fmt: skip
    log.close()
    try:
        wait_for(
            lambda: proc.poll() is not None or (small.exists() and usage(cache).temp_files == 1),
            60,
            "the small blob and a partial large one",
        )
        assert proc.poll() is None, (tmp_path / "puller.txt").read_text()
        plan = prune(cache, max_bytes=0)
        assert plan.blobs == [] and plan.temp_files == []
        assert small.exists() and usage(cache).temp_files == 1
        release.touch()
        assert proc.wait(timeout=60) == 0, (tmp_path / "puller.txt").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    output = (tmp_path / "puller.txt").read_text().split()
    assert output[0] == "finished"
    for name, data in files.items():
        assert (Path(output[1]) / name).read_bytes() == data
    assert list((cache.root / "pins").iterdir()) == []
    prune(cache, max_bytes=0)  # the pull is over: now everything may go
    assert not small.exists() and usage(cache).size == 0


# Argv: cache root, sha256, report file. Writes part of a blob, reports the temp file, waits.
NAMESPACED_DOWNLOADER = r"""
import sys, time
from pathlib import Path
from modelshelf.cache.cache import Cache
from modelshelf.manifest import FileEntry
root, sha, report = sys.argv[1:4]
def download(tmp):
    tmp.write_bytes(b"partial" * 1000)
    Path(report).write_text(str(tmp))
    time.sleep(120)
Cache(root).fetch_blob(FileEntry("big.bin", 100_000, sha), download)
"""


def test_a_download_in_another_pid_namespace_keeps_its_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two containers sharing a cache: the other one's PIDs mean nothing here."""
    probe = subprocess.run(["unshare", "--pid", "--fork", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("unshare --pid is not permitted here")
    data = b"content" * 20_000
    sha = hashlib.sha256(data).hexdigest()
    cache = Cache(tmp_path / "cache")
    report = tmp_path / "temp.txt"
    # A few processes first, so the downloader's PID inside is not one that is alive here;
    # --kill-child ends the namespace (and so the downloader) with unshare.
    script = 'for i in $(seq 200); do /bin/true; done; "$@"'
    proc = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--kill-child", "sh", "-c", script, "sh",
         sys.executable, "-c",
         NAMESPACED_DOWNLOADER, str(cache.root), sha, str(report)],
        env=child_env(cache.root),
    )  # fmt: skip
    try:
        wait_for(lambda: report.exists() or proc.poll() is not None, 60, "the temp file")
        assert proc.poll() is None
        temp = Path(report.read_text())
        monkeypatch.setattr(cache_module, "LOCKED_DOWNLOAD_SIZE", 0)  # lock, then clean up
        cache.fetch_blob(FileEntry("big.bin", len(data), sha), lambda tmp: tmp.write_bytes(data))
        prune(cache, max_bytes=0)
        assert temp.exists()  # its writer lives, whatever its PID says here
    finally:
        proc.kill()  # unshare; --kill-child takes the namespace down with it
        proc.wait(timeout=30)
    wait_for(lambda: not cache.owner_alive(temp.name.split(".")[2]), 30, "the namespace to end")
    prune(cache, max_bytes=0)
    assert not temp.exists()  # and once it is gone, its temp file goes
