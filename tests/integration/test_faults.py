"""Faults on real servers: a store restarted mid-pull, a replica lost, a full disk.

Each fault runs the real CLI in a child process (``python -c``), so a test sees exactly what a
user sees (the exit code and the lines on stderr) and a hang is cut off by a timeout instead of
hanging the suite. The child pauses at a chosen point (after the first range of a blob, after
the first blob of a push) until the test has broken something and says "go".

After every fault the cache must be consistent: every blob hashes to its name, no temporary
file is left, and no snapshot is marked complete unless all its files are there and right.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import obstore
import pytest
from tests.servers.seaweed import S3Bucket, SeaweedCluster, SeaweedServer

from modelshelf import Shelf
from modelshelf.cache.cache import COMPLETE_MARKER
from modelshelf.manifest import Manifest

# A child never runs longer than this: a pull or push that does not end by then has hung.
CHILD_TIMEOUT = 60.0
MiB = 1024 * 1024

# Runs `modelshelf ARGS...` after installing the pause the test asked for (FAULT_PAUSE):
#   range: the first range of each blob arrives (and "paused" is touched once a blob of
#          several ranges is under way); every later range waits for "go";
#   put:   the first blob upload completes, then "paused", and every later blob waits for "go".
# FAULT_RANGE_SIZE shrinks the ranges so a few MiB make several of them; FAULT_ENOSPC_AFTER
# makes the cache's writes fail with ENOSPC past that many bytes (a full disk, injected).
CHILD = r"""
import errno, os, sys, threading, time
from pathlib import Path
from modelshelf import constants
from modelshelf.backends import _obstore
from modelshelf.cli.main import main

barrier = Path(os.environ["FAULT_BARRIER"])
pause = os.environ.get("FAULT_PAUSE", "")
if os.environ.get("FAULT_RANGE_SIZE"):
    constants.RANGE_SIZE = int(os.environ["FAULT_RANGE_SIZE"])

def wait_for_go():
    deadline = time.monotonic() + 60
    while not (barrier / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.01)

if pause == "range":
    real_range = _obstore.ObstoreBackend.get_range
    def get_range(self, key, start, end):
        if "blobs/" not in key:
            return real_range(self, key, start, end)
        if start == 0:
            data = real_range(self, key, start, end)
            if end - start == constants.RANGE_SIZE:  # a blob of several ranges is under way
                (barrier / "paused").touch()
            return data
        wait_for_go()
        return real_range(self, key, start, end)
    _obstore.ObstoreBackend.get_range = get_range

if pause == "put":
    real_put = _obstore.ObstoreBackend.put
    first = threading.Lock()
    def put(self, key, data, *, mode="overwrite"):
        if "blobs/" not in key:
            return real_put(self, key, data, mode=mode)
        if first.acquire(blocking=False):
            real_put(self, key, data, mode=mode)
            (barrier / "paused").touch()
            return None
        wait_for_go()
        return real_put(self, key, data, mode=mode)
    _obstore.ObstoreBackend.put = put

if os.environ.get("FAULT_ENOSPC_AFTER"):
    budget = [int(os.environ["FAULT_ENOSPC_AFTER"])]
    budget_lock = threading.Lock()
    real_pwrite = os.pwrite
    def pwrite(fd, data, offset):
        with budget_lock:
            if budget[0] < len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            budget[0] -= len(data)
        return real_pwrite(fd, data, offset)
    os.pwrite = pwrite

sys.exit(main(sys.argv[1:]))
"""


@dataclass(frozen=True)
class Outcome:
    """What the user saw: the exit code, stdout and stderr of one CLI run."""

    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


class Child:
    """One CLI run in a child process, paused at the point the test chose."""

    def __init__(self, tmp_path: Path, bucket: S3Bucket, cache: Path, args: list[str],
                 **fault_env: str) -> None:  # fmt: skip
        self.barrier = tmp_path / f"barrier-{time.monotonic_ns()}"
        self.barrier.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MODELSHELF_"))}
        env.update(bucket.env)
        env.update(MODELSHELF_CACHE_DIR=str(cache), MODELSHELF_STORE=bucket.url,
                   FAULT_BARRIER=str(self.barrier), **fault_env)  # fmt: skip
        self._out = tmp_path / f"{self.barrier.name}.out"
        self._err = tmp_path / f"{self.barrier.name}.err"
        with self._out.open("w") as out, self._err.open("w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", CHILD, *args], stdout=out, stderr=err, env=env
            )

    def wait_paused(self) -> None:
        deadline = time.monotonic() + CHILD_TIMEOUT
        while not (self.barrier / "paused").exists():
            if self.proc.poll() is not None:
                raise AssertionError(f"the child ended before its pause:\n{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError("the child never reached its pause")
            time.sleep(0.01)

    def go(self) -> None:
        (self.barrier / "go").touch()

    def output(self) -> str:
        return self._out.read_text() + self._err.read_text()

    def finish(self) -> Outcome:
        """Wait for the end (a hang fails the test), and return what the user saw."""
        self.go()
        try:
            code = self.proc.wait(timeout=CHILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"hang: the CLI did not end within {CHILD_TIMEOUT}s:\n{self.output()}"
            ) from None
        return Outcome(code, self._out.read_text(), self._err.read_text())

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@contextlib.contextmanager
def child(tmp_path: Path, bucket: S3Bucket, cache: Path, args: list[str],
          **fault_env: str) -> Iterator[Child]:  # fmt: skip
    run = Child(tmp_path, bucket, cache, args, **fault_env)
    try:
        yield run
    finally:
        run.kill()


def write_random(path: Path, size: int) -> str:
    """Fill ``path`` with ``size`` random bytes; return their sha256."""
    data = os.urandom(size)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def assert_cache_consistent(cache: Path) -> None:
    """Every blob hashes to its name, no temporary file is left, every complete snapshot is whole.

    A snapshot marked complete must hold every file of its cached manifest, with the bytes
    the manifest records.
    """
    temps = [p for p in cache.rglob("*") if p.name.endswith(".tmp")]
    assert temps == [], f"temporary files left in the cache: {temps}"
    blobs = cache / "blobs" / "sha256"
    for blob in blobs.rglob("*") if blobs.exists() else ():
        if blob.is_file():
            assert sha256_of(blob) == blob.name, f"a blob that fails its hash: {blob}"
    snapshots = cache / "snapshots"
    for marker in snapshots.rglob(f"*{COMPLETE_MARKER}") if snapshots.exists() else ():
        folder = marker.with_name(marker.name.removesuffix(COMPLETE_MARKER))
        relative = folder.relative_to(snapshots)
        manifest_path = cache / "manifests" / relative.parent / f"{folder.name}.json"
        manifest = Manifest.from_json(manifest_path.read_bytes())
        for entry in manifest.files:
            path = folder / entry.path
            assert path.is_file(), f"{marker} says complete, but {path} is missing"
            assert sha256_of(path) == entry.sha256, f"{path} in a complete snapshot is wrong"


def snapshot_markers(cache: Path) -> list[Path]:
    return sorted((cache / "snapshots").rglob(f"*{COMPLETE_MARKER}"))


def push_model(bucket: S3Bucket, source: Path, name: str, cache: Path) -> Manifest:
    """Push ``source`` from this process (with its own cache), through the bucket's settings."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in bucket.env.items():
            mp.setenv(key, value)
        return Shelf(bucket.url, cache_dir=cache).push(source, name, progress=False)


def pull_verified(bucket: S3Bucket, spec: str, cache: Path, expected: dict[str, str]) -> Path:
    """Pull ``spec`` in this process and check every file's sha256 against ``expected``."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in bucket.env.items():
            mp.setenv(key, value)
        folder = Shelf(bucket.url, cache_dir=cache).pull(spec, progress=False)
    for path, digest in expected.items():
        assert sha256_of(folder / path) == digest, path
    return folder


def one_error_line(outcome: Outcome) -> str:
    """The single ``error:`` line a failed command printed (no traceback, nothing else)."""
    assert outcome.code == 1, outcome
    assert "Traceback" not in outcome.err, outcome.err
    lines = outcome.error_lines
    assert len(lines) == 1 and lines[0].startswith("error: "), outcome.err
    return lines[0]


# -- 1. the store restarted in the middle of a pull ---------------------------------------------


@pytest.mark.parametrize("fault", ["down", "stopping", "restarted"])
def test_store_restarted_mid_pull(
    fault_server: SeaweedServer, fault_bucket: S3Bucket, tmp_path: Path, fault: str
) -> None:
    """The server goes away after the first range of a 6-range blob, then comes back.

    down: stopped (SIGTERM, SIGKILL after 5 s) before the pull goes on; stopping: SIGTERM
    sent and the pull goes on once the server stops answering 200 (it answers 500s while it
    stops); restarted: killed (SIGKILL) and started again on the same ports and data before
    the pull goes on. The pull either completes with the right bytes or fails with one clear
    line, in bounded time; the cache is consistent either way; a pull after the restart
    succeeds.
    """
    source = tmp_path / "model"
    expected = {"weights.bin": write_random(source / "weights.bin", 6 * MiB),
                "config.json": write_random(source / "config.json", 300)}  # fmt: skip
    manifest = push_model(fault_bucket, source, "faults/restart", tmp_path / "pusher-cache")
    cache = tmp_path / "cache"

    with child(tmp_path, fault_bucket, cache, ["pull", "-q", "faults/restart:1.0"],
               FAULT_PAUSE="range", FAULT_RANGE_SIZE=str(MiB)) as run:  # fmt: skip
        run.wait_paused()
        if fault == "down":
            fault_server.halt(signal.SIGTERM)
        elif fault == "stopping":
            assert fault_server.pid is not None
            os.kill(fault_server.pid, signal.SIGTERM)
            wait_until_failing(fault_server)
        else:
            fault_server.restart(signal.SIGKILL)  # a crash, and back at once
        outcome = run.finish()
    print(f"{fault}: exit {outcome.code}: {outcome.err.strip() or outcome.out.strip()}")

    if fault == "restarted" and outcome.code == 0:
        folder = Path(outcome.out.strip())
        for path, digest in expected.items():
            assert sha256_of(folder / path) == digest
    else:
        line = one_error_line(outcome)
        assert fault_bucket.url in line, line
        if fault == "down":
            assert "cannot reach the store" in line, line
        else:  # 500s while it stops or starts: unavailable after retries, one line
            assert "cannot reach the store" in line or "is not available" in line, line
        assert snapshot_markers(cache) == []
    assert_cache_consistent(cache)

    if fault != "restarted":
        fault_server.halt(signal.SIGKILL)  # after "stopping" the process may still be exiting
        fault_server.start()  # same ports, same data
    blob = manifest.files[0].sha256
    fault_server.wait_readable(
        fault_bucket.bucket, f"{fault_bucket.prefix}/blobs/sha256/{blob[:2]}/{blob}"
    )
    pull_verified(fault_bucket, "faults/restart:1.0", cache, expected)
    assert_cache_consistent(cache)
    assert len(snapshot_markers(cache)) == 1


def wait_until_failing(server: SeaweedServer, timeout: float = 30.0) -> None:
    """Wait until the S3 port stops answering 200 (a 500, or nobody listening)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if server._request("GET", "/")[0] != 200:
                return
        except OSError:
            return
        time.sleep(0.02)
    raise AssertionError(f"the server still answered 200 {timeout}s after SIGTERM")


# -- 2. a cluster losing one of its two volume servers -----------------------------------------


def test_volume_server_lost_mid_pull_reads_stay_correct(
    seaweed_cluster: SeaweedCluster, cluster_bucket: S3Bucket, tmp_path: Path
) -> None:
    source = tmp_path / "model"
    expected = {"weights.bin": write_random(source / "weights.bin", 6 * MiB),
                "vocab.txt": write_random(source / "vocab.txt", 4000)}  # fmt: skip
    push_model(cluster_bucket, source, "faults/replica", tmp_path / "pusher-cache")
    cache = tmp_path / "cache"

    with child(tmp_path, cluster_bucket, cache, ["pull", "-q", "faults/replica:1.0"],
               FAULT_PAUSE="range", FAULT_RANGE_SIZE=str(MiB)) as run:  # fmt: skip
        run.wait_paused()
        seaweed_cluster.halt("volume2")  # SIGKILL: a crash
        outcome = run.finish()

    assert outcome.code == 0, outcome
    folder = Path(outcome.out.strip())
    for path, digest in expected.items():
        assert sha256_of(folder / path) == digest
    assert_cache_consistent(cache)
    assert len(snapshot_markers(cache)) == 1


def test_volume_server_lost_mid_push_commits_nothing(
    seaweed_cluster: SeaweedCluster, cluster_bucket: S3Bucket, tmp_path: Path
) -> None:
    source = tmp_path / "model"
    first = {"weights.bin": write_random(source / "weights.bin", 2 * MiB)}
    push_model(cluster_bucket, source, "faults/push", tmp_path / "pusher-cache")  # 1.0
    sizes = {"weights.bin": 3 * MiB, "a.bin": 5000, "b.bin": 7000}
    second = {name: write_random(source / name, size) for name, size in sizes.items()}

    with child(tmp_path, cluster_bucket, tmp_path / "cache", ["push", "-q", str(source),
               "faults/push"], FAULT_PAUSE="put") as run:  # fmt: skip
        run.wait_paused()  # one blob of the three is in the store
        seaweed_cluster.halt("volume2")
        outcome = run.finish()
    print(f"push without a replica: exit {outcome.code}: {outcome.err.strip()}")

    line = one_error_line(outcome)
    assert cluster_bucket.url in line, line
    shelf = Shelf(cluster_bucket.url, cache_dir=tmp_path / "reader-cache",
                  **_s3_options(cluster_bucket))  # fmt: skip
    assert shelf.versions("faults/push") == ["1.0"]  # nothing half-committed
    assert not shelf.store.backend.exists("assets/faults/push/versions/1.1.json")
    assert_store_blobs_intact(cluster_bucket)

    seaweed_cluster.resume("volume2")
    manifest = push_model(cluster_bucket, source, "faults/push", tmp_path / "pusher-cache")
    assert manifest.version == "1.1"
    pull_verified(cluster_bucket, "faults/push:1.1", tmp_path / "cache", second)
    pull_verified(cluster_bucket, "faults/push:1.0", tmp_path / "cache", first)
    assert_cache_consistent(tmp_path / "cache")


def _s3_options(bucket: S3Bucket) -> dict[str, str]:
    server = bucket.server
    return {
        "endpoint": server.endpoint,
        "access_key_id": server.access_key,
        "secret_access_key": server.secret_key,
        "region": server.region,
    }


def assert_store_blobs_intact(bucket: S3Bucket) -> None:
    """Every blob key in the store holds bytes whose sha256 is the key."""
    store = bucket.server.store(bucket.bucket)
    for batch in obstore.list(store, f"{bucket.prefix}/blobs/", chunk_size=1000):
        for meta in batch:
            data = bytes(obstore.get(store, meta["path"]).bytes())
            assert hashlib.sha256(data).hexdigest() == meta["path"].rsplit("/", 1)[-1]


# -- 3. a full disk while pulling --------------------------------------------------------------


@contextlib.contextmanager
def small_tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` at ``folder``; skip the test where mounting is refused."""
    folder.mkdir(parents=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); the injected ENOSPC"
                    " test covers a full disk")  # fmt: skip
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _full_disk_model(tmp_path: Path, bucket: S3Bucket) -> dict[str, str]:
    source = tmp_path / "model"
    expected = {"big.bin": write_random(source / "big.bin", 12 * MiB),
                "small.txt": write_random(source / "small.txt", 2000)}  # fmt: skip
    push_model(bucket, source, "faults/disk", tmp_path / "pusher-cache")
    return expected


def _assert_full_disk_error(outcome: Outcome, cache: Path, expected: dict[str, str]) -> None:
    print(f"full disk: exit {outcome.code}: {outcome.err.strip()}")
    line = one_error_line(outcome)
    assert "no space left" in line.lower(), line
    assert "big.bin" in line, line
    assert not (cache / "blobs" / "sha256" / expected["big.bin"][:2] / expected["big.bin"]).exists()
    assert snapshot_markers(cache) == []
    assert_cache_consistent(cache)


def test_full_disk_tmpfs(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    """A real full disk: the cache on an 8 MiB tmpfs, a 12 MiB file to pull; then more room."""
    expected = _full_disk_model(tmp_path, s3_bucket)
    with small_tmpfs(tmp_path / "cache", "8m") as cache:
        # Full before the pull starts: the first write (the manifest) fails.
        filler = cache / "filler"
        with filler.open("wb") as handle, contextlib.suppress(OSError):
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        with child(tmp_path, s3_bucket, cache, ["pull", "-q", "faults/disk:1.0"]) as run:
            outcome = run.finish()
        print(f"full disk before the pull: exit {outcome.code}: {outcome.err.strip()}")
        line = one_error_line(outcome)
        assert "no space left" in line.lower() and "1.0.json" in line, line
        assert_cache_consistent(cache)
        filler.unlink()

        # Room for the small file, not for the big one.
        with child(tmp_path, s3_bucket, cache, ["pull", "-q", "faults/disk:1.0"]) as run:
            outcome = run.finish()
        _assert_full_disk_error(outcome, cache, expected)

        subprocess.run(["mount", "-o", "remount,size=32m", str(cache)], check=True)
        pull_verified(s3_bucket, "faults/disk:1.0", cache, expected)
        assert_cache_consistent(cache)
        assert len(snapshot_markers(cache)) == 1


def test_full_disk_injected(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    """ENOSPC injected at the cache's writes after 5 MiB, for machines that cannot mount."""
    expected = _full_disk_model(tmp_path, s3_bucket)
    cache = tmp_path / "cache"
    with child(tmp_path, s3_bucket, cache, ["pull", "-q", "faults/disk:1.0"],
               FAULT_ENOSPC_AFTER=str(5 * MiB), FAULT_RANGE_SIZE=str(MiB)) as run:  # fmt: skip
        outcome = run.finish()
    _assert_full_disk_error(outcome, cache, expected)

    pull_verified(s3_bucket, "faults/disk:1.0", cache, expected)
    assert_cache_consistent(cache)
    assert len(snapshot_markers(cache)) == 1
