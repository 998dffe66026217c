"""Run the ``gcp-storage-emulator`` (PyPI) on loopback for the conformance suite.

The emulator listens on 127.0.0.1 on a free port, keeps its data in a temp dir and is stopped by
its PID. Stores opened on it get a static bearer token (``bearer_token`` /
``GOOGLE_BEARER_TOKEN``): obstore then never looks for credentials elsewhere, so it never asks
the cloud metadata address (169.254.169.254). The emulator does not check the token.

What the emulator serves: Google's JSON API (``/storage/v1/b/...``) and, on the XML API that
obstore's GCS client speaks, only GET and PUT of an object, without ``ETag`` or
``Last-Modified`` headers (no HEAD, no listing, no DELETE). See the conformance tests' xfail
reasons for what that means for modelshelf.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from tests.servers import shared
from tests.servers.remote import RemoteStore
from tests.servers.serve_process import free_port

from modelshelf.errors import StoreError

TOKEN = "modelshelf-test-static-token"
BUCKET = "modelshelf"  # alphanumeric: obstore percent-encodes "-" and "." in the path


class GcsEmulatorError(RuntimeError):
    """The emulator could not be found, started or used."""


def find_emulator() -> str:
    """The ``gcp-storage-emulator`` script next to the running interpreter, else on PATH."""
    candidate = Path(sys.executable).parent / "gcp-storage-emulator"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("gcp-storage-emulator")
    if found is None:
        raise GcsEmulatorError("gcp-storage-emulator not found; pip install gcp-storage-emulator")
    return found


class GcsEmulator:
    """A ``gcp-storage-emulator`` process on 127.0.0.1 (the StoreServer contract)."""

    def __init__(self, *, startup_timeout: float = 30.0) -> None:
        self.startup_timeout = startup_timeout
        self.port = 0
        self.endpoint = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def log_path(self) -> Path:
        assert self._workdir is not None
        return self._workdir / "emulator.log"

    def log_tail(self, lines: int = 40) -> str:
        if self._workdir is None or not self.log_path.exists():
            return "<no log>"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def start(self) -> None:
        """Start the emulator and wait until its health check answers."""
        if self._proc is not None:
            return
        shared.refuse_in_no_server_runs("gcp-storage-emulator")
        self._workdir = Path(tempfile.mkdtemp(prefix="modelshelf-gcs-"))
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        command = [
            find_emulator(), "-d", str(self._workdir / "data"), "start",
            "--host", "127.0.0.1", "--port", str(self.port),
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                command, cwd=self._workdir, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        atexit.register(self.stop)
        deadline = time.monotonic() + self.startup_timeout
        while not self._healthy():
            if self._proc.poll() is not None:
                raise GcsEmulatorError(
                    f"gcp-storage-emulator exited with {self._proc.returncode}:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise GcsEmulatorError(f"emulator not ready after {self.startup_timeout}s")
            time.sleep(0.1)
        self.create_bucket(BUCKET)

    def stop(self) -> None:
        """SIGTERM the emulator's process group by PID, SIGKILL if it lingers; remove its data."""
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        if proc is not None:
            for signum in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signum)
                try:
                    proc.wait(5)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def _request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            headers = {"Content-Type": "application/json"} if body else {}
            conn.request(method, path, body=body or None, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def _healthy(self) -> bool:
        try:
            return self._request("GET", "/")[0] == 200
        except OSError:
            return False

    def create_bucket(self, name: str) -> None:
        """Create a bucket through the JSON API; one that exists already is fine."""
        status, body = self._request(
            "POST", "/storage/v1/b?project=modelshelf-test", json.dumps({"name": name}).encode()
        )
        if status not in (200, 409):
            raise GcsEmulatorError(f"create bucket {name!r}: HTTP {status}: {body[:300]!r}")

    def object_names(self, bucket: str = BUCKET, prefix: str = "") -> list[str]:
        """Names of the objects under ``prefix`` (through the JSON API, which lists)."""
        query = f"?prefix={prefix}" if prefix else ""
        status, body = self._request("GET", f"/storage/v1/b/{bucket}/o{query}")
        if status != 200:
            raise GcsEmulatorError(f"list {bucket}: HTTP {status}: {body[:300]!r}")
        return [item["name"] for item in json.loads(body).get("items", [])]

    def options(self) -> dict[str, str]:
        """Backend settings of a store on this emulator (a static token: no metadata lookups)."""
        return {"endpoint": self.endpoint, "bearer_token": TOKEN}

    def env(self) -> dict[str, str]:
        """The same settings as environment variables, for the CLI."""
        return {"GOOGLE_BASE_URL": self.endpoint, "GOOGLE_BEARER_TOKEN": TOKEN}

    def new_store(self, test_name: str) -> RemoteStore:
        """A fresh prefix in the session's bucket."""
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name)[:60]
        return RemoteStore(
            kind="gcs",
            url=f"gs://{BUCKET}/{name}-{uuid.uuid4().hex[:8]}",
            options=self.options(),
            env=self.env(),
            server=self,
        )


# What the emulator cannot do, as seen in its answers to obstore (see the module docstring).
XML_API_GAP = (
    "gcp-storage-emulator serves obstore's GCS XML API only in part: PUT and GET answer without"
    " ETag / Last-Modified headers (obstore refuses them), HEAD, listing and DELETE answer"
    " HTTP 501, and x-goog-if-generation-match: 0 is ignored"
)
AUTH_GAP = (
    "gcp-storage-emulator checks no credentials: a wrong token is accepted (and it answers"
    " obstore's listing with HTTP 501)"
)


def expect_emulator_gap(
    store: RemoteStore,
    request: pytest.FixtureRequest,
    reason: str = XML_API_GAP,
    raises: type[BaseException] | tuple[type[BaseException], ...] = StoreError,
) -> None:
    """On the ``gcs`` kind only, mark the running test ``xfail(strict=True)`` with ``reason``.

    Strict: the day the emulator (or obstore) can do it, the test passes and the mark must go.
    """
    if store.kind == "gcs":
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason, raises=raises))
