"""Separate processes racing for one version, and a pull killed half-way.

Children are fresh interpreters (``sys.executable -c``) so that they share nothing with the test
process but the store and, where intended, the cache folder.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.servers.seaweed import S3Bucket

from modelshelf import Shelf
from modelshelf.store.bucket import Store

# The start line of a racer script: say it is ready, then wait for the test's "go".
WAIT_FOR_GO = r"""
(Path(barrier) / f"ready-{me}").touch()
deadline = time.monotonic() + 60
while not (Path(barrier) / "go").exists():
    if time.monotonic() > deadline:
        print("barrier timeout")
        sys.exit(3)
    time.sleep(0.001)
"""

# Argv: store URL, source folder, barrier folder, racer name, "check" or "nocheck".
PUSH_RACER = (
    r"""
import sys, time
from pathlib import Path
url, source, barrier, me, early_check = sys.argv[1:6]
import modelshelf.shelf.push
from modelshelf import Shelf
from modelshelf.errors import VersionExistsError
if early_check == "nocheck":
    # Skip the early "does it exist" listing, so that only the store's conditional create
    # can decide between the racers.
    modelshelf.shelf.push._check_explicit = lambda *args, **kwargs: None
shelf = Shelf(url)
shelf.store.create()  # a push would make a missing store: make it before the start line
shelf.store.versions("race/model")  # open the backend and connection before the start line
"""
    + WAIT_FOR_GO
    + r"""
try:
    manifest = shelf.push(source, "race/model:1.0")
except VersionExistsError as exc:
    print(f"{type(exc).__name__}: {exc}")
    sys.exit(1)
print("OK", manifest.version, manifest.files[0].sha256)
"""
)

# Argv: store URL, spec. The first range arrives at once; every later one stalls, so the
# test can kill the process while a partial temporary file exists.
SLOW_PULLER = r"""
import sys, time
from modelshelf.backends import _obstore
from modelshelf import Shelf
fetch = _obstore.ObstoreBackend.get_range
def stalling_get_range(self, key, start, end):
    data = fetch(self, key, start, end)
    if start > 0:
        time.sleep(120)
    return data
_obstore.ObstoreBackend.get_range = stalling_get_range
stream = _obstore.ObstoreBackend.get_range_chunks
def stalling_get_range_chunks(self, key, start, end, chunk_size):
    if start > 0:
        time.sleep(120)
    yield from stream(self, key, start, end, chunk_size)
_obstore.ObstoreBackend.get_range_chunks = stalling_get_range_chunks
Shelf(sys.argv[1]).pull(sys.argv[2])
print("finished")
"""


@dataclass(frozen=True)
class RaceStore:
    url: str
    env: dict[str, str]


@pytest.fixture(params=["s3", "file"])
def race_store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> RaceStore:
    if request.param == "file":
        return RaceStore((tmp_path / "store").as_uri(), {})
    bucket: S3Bucket = request.getfixturevalue("s3_bucket")
    for name, value in bucket.env.items():
        monkeypatch.setenv(name, value)
    return RaceStore(bucket.url, bucket.env)


@pytest.fixture
def s3_env(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    for name, value in s3_bucket.env.items():
        monkeypatch.setenv(name, value)
    return s3_bucket


def child_env(cache_dir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)  # already isolated by tests/conftest.py, plus any AWS_* set
    env["MODELSHELF_CACHE_DIR"] = str(cache_dir)
    env.update(extra)
    return env


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.005)


@pytest.mark.parametrize("early_check", ["check", "nocheck"])
def test_two_processes_race_for_one_version(
    race_store: RaceStore, tmp_path: Path, early_check: str
) -> None:
    contents = {}
    argv = {}
    for me in ("a", "b"):
        # different content per racer, a few MiB so hashing and upload take a moment
        data = me.encode() * (3 * 1024 * 1024)
        contents[me] = data
        source = tmp_path / f"src-{me}"
        source.mkdir()
        (source / "weights.bin").write_bytes(data)
        argv[me] = [PUSH_RACER, race_store.url, str(source), str(tmp_path / "barrier"), me,
                    early_check]  # fmt: skip
    codes, outputs = run_racers(tmp_path, argv)

    assert sorted(codes.values()) == [0, 1], outputs
    winner = next(me for me, code in codes.items() if code == 0)
    loser = next(me for me, code in codes.items() if code == 1)
    assert outputs[winner].startswith("OK 1.0 "), outputs
    assert outputs[loser].startswith("VersionExistsError: race/model:1.0 already exists"), outputs

    shelf = Shelf(race_store.url)
    assert shelf.versions("race/model") == ["1.0"]
    pulled = shelf.pull("race/model:1.0") / "weights.bin"
    assert pulled.read_bytes() == contents[winner]
    assert outputs[winner].split()[2] == hashlib.sha256(contents[winner]).hexdigest()
    pushes = [r for r in shelf.store.log("race/model") if r["action"] == "push"]
    assert len(pushes) == 1


def test_pull_killed_mid_download_recovers(s3_env: S3Bucket, tmp_path: Path) -> None:
    size = 100 * 1024 * 1024 + 12345
    big = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with big.open("wb") as handle:
        remaining = size
        while remaining:
            chunk = os.urandom(min(8 * 1024 * 1024, remaining))
            handle.write(chunk)
            digest.update(chunk)
            remaining -= len(chunk)
    expected = digest.hexdigest()

    shelf = Shelf(s3_env.url)
    manifest = shelf.push(big, "big/model")
    assert manifest.files[0].sha256 == expected
    blob = shelf.cache.blob_path(expected)
    temps = lambda: list(blob.parent.glob(f".{expected}.*.tmp"))  # noqa: E731

    log = (tmp_path / "puller.txt").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_PULLER, s3_env.url, "big/model:1.0"],
        stdout=log, stderr=subprocess.STDOUT,
        env=child_env(shelf.cache.root, MODELSHELF_MAX_CONCURRENCY="1"),
    )  # fmt: skip
    log.close()
    try:
        # kill -9 once the first range (16 MiB) has been written to the temporary file
        wait_for(
            lambda: (
                proc.poll() is not None
                or any(t.stat().st_size >= 16 * 1024 * 1024 for t in temps())
            ),
            60,
            "a partial download",
        )
        assert proc.poll() is None, (tmp_path / "puller.txt").read_text()
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    leftovers = temps()
    assert len(leftovers) == 1 and str(proc.pid) in leftovers[0].name
    assert 0 < leftovers[0].stat().st_size < size
    assert not blob.exists()

    path = Shelf(s3_env.url).pull("big/model:1.0")
    assert path.name == "big.bin"
    assert path.stat().st_size == size
    with path.open("rb") as handle:
        assert hashlib.file_digest(handle, "sha256").hexdigest() == expected
    assert blob.is_file() and os.path.samefile(path, blob)
    assert temps() == []
    assert list(shelf.cache.root.rglob("*.tmp")) == []


# Argv: store URL, barrier folder, racer name, then a Python statement run after the start
# line with `shelf` bound; it prints its result on the last line of stdout.
AFTER_BARRIER = (
    r"""
import sys, time
from pathlib import Path
url, barrier, me, statement = sys.argv[1:5]
from modelshelf import Shelf
from modelshelf.backends import _obstore
fetch = _obstore.ObstoreBackend.get_range
def counting_get_range(self, key, start, end):
    data = fetch(self, key, start, end)
    with open(Path(barrier) / f"fetched-{me}", "a") as log:
        log.write(f"{key} {start} {end}\n")
    return data
_obstore.ObstoreBackend.get_range = counting_get_range
stream = _obstore.ObstoreBackend.get_range_chunks
def counting_get_range_chunks(self, key, start, end, chunk_size):
    got = 0
    for piece in stream(self, key, start, end, chunk_size):
        got += memoryview(piece).nbytes
        yield piece
    with open(Path(barrier) / f"fetched-{me}", "a") as log:
        log.write(f"{key} {start} {start + got}\n")
_obstore.ObstoreBackend.get_range_chunks = counting_get_range_chunks
from modelshelf.transfer import download as transfer
local = transfer.download_local
def counting_local(path, size, *args, **kwargs):
    local(path, size, *args, **kwargs)
    with open(Path(barrier) / f"fetched-{me}", "a") as log:
        log.write(f"blobs/sha256/{path.parent.name}/{path.name} 0 {size}\n")
transfer.download_local = counting_local
shelf = Shelf(url)
shelf.store.create()  # a push would make a missing store: make it before the start line
shelf.store.versions("warm/up")  # open the backend and connection before the start line
"""
    + WAIT_FOR_GO
    + r"""
print(eval(statement))
"""
)


def run_racers(
    tmp_path: Path, argv: dict[str, list[str]], cache_dir: Path | None = None
) -> tuple[dict[str, int], dict[str, str]]:
    """Start one ``python -c`` per racer, release them together once all are ready.

    Each racer's script touches ``<barrier>/ready-<me>`` and waits for ``<barrier>/go``.
    Returns the exit codes and the outputs, by racer.
    """
    barrier = tmp_path / "barrier"
    barrier.mkdir(exist_ok=True)
    procs = {}
    for me, args in argv.items():
        out = (tmp_path / f"out-{me}.txt").open("w")
        procs[me] = subprocess.Popen(
            [sys.executable, "-c", *args],
            stdout=out, stderr=subprocess.STDOUT,
            env=child_env(cache_dir or tmp_path / f"cache-{me}"),
        )  # fmt: skip
        out.close()
    try:
        wait_for(lambda: all((barrier / f"ready-{me}").exists() for me in procs), 60, "racers")
        (barrier / "go").touch()
        codes = {me: proc.wait(timeout=120) for me, proc in procs.items()}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return codes, {me: (tmp_path / f"out-{me}.txt").read_text() for me in procs}


def race(
    store: RaceStore, tmp_path: Path, statements: dict[str, str], cache_dir: Path | None = None
) -> dict[str, str]:
    """Run each racer's statement in its own process, released together; their last lines."""
    barrier = str(tmp_path / "barrier")
    codes, outputs = run_racers(
        tmp_path,
        {me: [AFTER_BARRIER, store.url, barrier, me, code] for me, code in statements.items()},
        cache_dir,
    )
    assert set(codes.values()) == {0}, outputs
    return {me: text.strip().splitlines()[-1] for me, text in outputs.items()}


def test_two_processes_pulling_into_one_cache_download_each_byte_once(
    race_store: RaceStore, tmp_path: Path
) -> None:
    source = tmp_path / "model"
    source.mkdir()
    files = {"big.bin": os.urandom(40 * 1024 * 1024), "small.txt": b"tokens\n"}
    for name, data in files.items():
        (source / name).write_bytes(data)
    Shelf(race_store.url).push(source, "shared/model")
    cache = tmp_path / "shared-cache"

    pull = "str(shelf.pull('shared/model:1.0', progress=False))"
    paths = race(race_store, tmp_path, {"a": pull, "b": pull}, cache_dir=cache)

    assert paths["a"] == paths["b"]
    for name, data in files.items():
        assert (Path(paths["a"]) / name).read_bytes() == data
    fetched: dict[str, int] = {}
    for log in (tmp_path / "barrier").glob("fetched-*"):
        for line in log.read_text().splitlines():
            key, start, end = line.split()
            fetched[key] = fetched.get(key, 0) + int(end) - int(start)
    big_key = Store.blob_key(hashlib.sha256(files["big.bin"]).hexdigest())
    # The per-blob lock made the second process wait for the first one's download of the
    # large blob; a small one may be fetched by both, which is cheaper than locking it.
    assert fetched[big_key] == len(files["big.bin"])
    assert sum(fetched.values()) <= len(files["big.bin"]) + 2 * len(files["small.txt"])
    assert list(cache.rglob("*.tmp")) == []


def test_racing_alias_moves_each_get_their_own_record(
    race_store: RaceStore, tmp_path: Path
) -> None:
    shelf = Shelf(race_store.url)
    for content in ("one", "two", "three"):
        source = tmp_path / f"src-{content}"
        source.mkdir()
        (source / "f").write_text(content)
        shelf.push(source, "aliased/model")
    statements = {
        me: f"shelf.set_alias('aliased/model@prod', '{version}').seq"
        for me, version in (("a", "1.1"), ("b", "1.2"))
    }
    seqs = race(race_store, tmp_path, statements)

    assert sorted(seqs.values()) == ["1", "2"]  # nobody lost a move, nobody shared a number
    history = shelf.store.alias_history("aliased/model", "prod")
    assert [r.seq for r in history] == [1, 2]
    assert history[1].previous == history[0].version
    assert {r.version for r in history} == {"1.1", "1.2"}
    assert shelf.resolve("aliased/model@prod").version == history[1].version


def test_racing_pushes_without_a_version_both_land(race_store: RaceStore, tmp_path: Path) -> None:
    statements = {}
    for me in ("a", "b"):
        source = tmp_path / f"src-{me}"
        source.mkdir()
        (source / "weights.bin").write_bytes(me.encode() * 1024)
        statements[me] = f"shelf.push({str(source)!r}, 'auto/model', progress=False).version"
    versions = race(race_store, tmp_path, statements)

    assert sorted(versions.values()) == ["1.0", "1.1"]
    shelf = Shelf(race_store.url)
    for me, version in versions.items():
        pulled = shelf.pull(f"auto/model:{version}") / "weights.bin"
        assert pulled.read_bytes() == me.encode() * 1024


# Argv: store URL, source folder, marker file. Stalls just before the commit point, as a
# process killed between uploading its blobs and writing its manifest would.
STALLED_PUSHER = r"""
import sys, time
from pathlib import Path
from modelshelf import Shelf
from modelshelf.store.bucket import Store
def stall(self, manifest):
    Path(sys.argv[3]).touch()
    time.sleep(120)
Store.commit_manifest = stall
Shelf(sys.argv[1]).push(sys.argv[2], "crash/model")
"""


def test_push_killed_before_its_commit_leaves_no_version(
    race_store: RaceStore, tmp_path: Path
) -> None:
    source = tmp_path / "model"
    source.mkdir()
    (source / "weights.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    marker = tmp_path / "uploaded"
    proc = subprocess.Popen(
        [sys.executable, "-c", STALLED_PUSHER, race_store.url, str(source), str(marker)],
        env=child_env(tmp_path / "cache-pusher"),
    )
    try:
        wait_for(lambda: marker.exists() or proc.poll() is not None, 60, "the blobs uploaded")
        assert proc.poll() is None
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    shelf = Shelf(race_store.url)
    assert shelf.assets() == []  # the blobs are there, but no version: nothing half-written
    manifest = shelf.push(source, "crash/model")
    assert manifest.version == "1.0"
    assert (shelf.pull("crash/model") / "weights.bin").read_bytes() == (
        source / "weights.bin"
    ).read_bytes()
