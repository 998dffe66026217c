"""A prune in one process while another process pulls into the same cache."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from tests.integration.test_races import RaceStore, child_env, race_store, wait_for

from modelshelf import Shelf
from modelshelf.cache import Cache
from modelshelf.prune import prune, usage

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
