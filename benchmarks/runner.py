"""Timing one operation into a row, checking what it produced, and the server it runs against.

Every timed operation starts after ``os.sync()`` (so one tool's write-back is not billed to the
next), into an empty destination. Copies are checked against the source outside the timed
region (sha256 on the first repeat, sizes after), so a fast but wrong tool cannot win.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar

from benchmarks import peers
from benchmarks.dataset import Dataset, check_copy
from benchmarks.measure import process_cpu_seconds
from benchmarks.report import Row

T = TypeVar("T")
P = ParamSpec("P")
BUCKET = "bench"


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def fresh(path: Path) -> Path:
    """``path`` removed and made again, empty."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"[:300]


@dataclass(frozen=True)
class Server:
    """The S3 server a section runs against: where it is, its settings, its process if ours."""

    endpoint: str
    env: dict[str, str]  # AWS_* variables pointing at it
    pid: int | None  # None when the server is not ours (its CPU is not measured)
    prefix: str  # every key of this run starts with it


class Runner:
    """Times operations into rows and checks what they produced."""

    def __init__(self, work: Path, external: dict[str, str] | None = None) -> None:
        self.work = work
        self.failures: list[str] = []
        self.external = external  # AWS_* of a server someone else runs, else None
        self.server_pid: int | None = None

    def timed(
        self, row: Row, action: Callable[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> T | None:
        """Run ``action(*args, **kwargs)`` once, timed; on error mark the row failed, give None.

        A result with a ``peak_rss`` attribute (a child process) adds to the row's peak RSS.
        """
        if row.unavailable:
            return None
        os.sync()
        server_start = process_cpu_seconds(self.server_pid)
        cpu_start, start = peers.cpu_seconds(), time.perf_counter()
        try:
            result = action(*args, **kwargs)
        except Exception as exc:
            self.fail(row, f"failed: {first_line(exc)}")
            return None
        row.seconds.append(time.perf_counter() - start)
        row.cpu_seconds.append(peers.cpu_seconds() - cpu_start)
        server_end = process_cpu_seconds(self.server_pid)
        if server_start is not None and server_end is not None:
            row.server_cpu.append(server_end - server_start)
        rss = getattr(result, "peak_rss", None)
        if isinstance(rss, int):
            row.peak_rss.append(rss)
        log(f"{row.tool:<22} {row.operation:<34} {row.seconds[-1]:8.3f} s")
        return result

    def check(self, row: Row, dataset: Dataset, root: Path | None, *, full: bool) -> None:
        if root is None or row.unavailable:
            return
        try:
            check_copy(dataset, root, full=full)
        except AssertionError as exc:
            self.fail(row, f"wrong copy: {exc}")

    def fail(self, row: Row, why: str) -> None:
        row.unavailable = why
        self.failures.append(f"{row.tool} {row.operation}: {why}")
        log(f"{row.tool} {row.operation}: {why}")

    @contextlib.contextmanager
    def server(self, data_dir: Path) -> Iterator[Server]:
        """A server for one section, with the bucket made and ``AWS_*`` set in os.environ.

        Our own SeaweedFS (data under ``data_dir/seaweed``) is started fresh for each section
        and stopped after it, so no section's objects fill the next one's disk; an external
        server (``--endpoint``) is shared and each run uses its own key prefix.
        """
        from tests.servers.seaweed import SeaweedServer

        saved = dict(os.environ)
        own: SeaweedServer | None = None
        try:
            if self.external is not None:
                env = dict(self.external)
                server = Server(env["AWS_ENDPOINT_URL"], env, None, f"run-{uuid.uuid4().hex[:8]}")
            else:
                base = data_dir / "seaweed"
                base.mkdir(parents=True, exist_ok=True)
                own = SeaweedServer(base_dir=str(base))
                own.start()
                env = own.env()
                server = Server(own.endpoint, env, own.pid, "run")
                log(f"SeaweedFS up in {own.startup_seconds:.1f} s at {own.endpoint}")
            os.environ.update(env)
            _create_bucket()
            self.server_pid = server.pid
            yield server
        finally:
            self.server_pid = None
            if own is not None:
                own.stop()
            os.environ.clear()
            os.environ.update(saved)


def _create_bucket() -> None:
    """The bench bucket (an existing one is fine), and a first write: SeaweedFS grows its
    volumes on the first one, which must not be billed to the first tool."""
    client = peers.s3_client()
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="warm-up", Body=b"x" * peers.MIB)
