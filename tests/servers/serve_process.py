"""Run the real ``modelshelf serve`` process on a loopback port, for tests and benchmarks.

The server is the console script of the project's virtualenv (the one beside the running
interpreter, else ``<repo>/.venv/bin/modelshelf``), started in its own session with
``PYTHONPATH=<repo>`` (so runner classes under ``tests/`` import), its own cache folder, and its
output in a log file. It binds 127.0.0.1 only, on a free port picked at start. It is ready when
``GET /v2/health/ready`` answers 200; it is stopped by PID: SIGTERM, then SIGKILL after a grace.

Usage::

    with ServeProcess("team/svc@prod", store=url, workdir=tmp, args=["--workers", "2"]) as srv:
        httpx.get(f"{srv.url}/health")
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from tests.servers import shared

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


class ServeError(RuntimeError):
    """The server could not be started, or did not become ready in time."""


def modelshelf_bin() -> Path:
    """The ``modelshelf`` console script of the running virtualenv, else of ``<repo>/.venv``."""
    beside = Path(sys.executable).parent / "modelshelf"
    return beside if beside.is_file() else REPO / ".venv" / "bin" / "modelshelf"


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def clean_env() -> dict[str, str]:
    """Our environment without MODELSHELF_*, AWS_* and proxy variables; loopback unproxied."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MODELSHELF_", "AWS_")) and "proxy" not in k.lower()
    }
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def server_env(cache_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a server: :func:`clean_env`, the repo importable, its own cache."""
    env = clean_env()
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env["MODELSHELF_CACHE_DIR"] = str(cache_dir)
    # The served runners live in the repo's ``tests`` package, which no distribution provides.
    env["MODELSHELF_ALLOWED_HOOK_PACKAGES"] = "tests"
    env.update(extra or {})
    return env


def http_get(url_host: str, port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """A plain GET over a fresh connection: (status, body)."""
    conn = http.client.HTTPConnection(url_host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class ServeProcess:
    """One ``modelshelf serve SPEC`` process; see the module docstring."""

    def __init__(
        self,
        spec: str,
        *,
        workdir: Path,
        store: str | None = None,
        args: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.spec = spec
        self.store = store
        self.args = list(args)
        self.workdir = workdir
        self.extra_env = env or {}
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "serve.log"
        self.tmp_dir = workdir / "tmp"  # the server's TMPDIR: what it leaves there is seen

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{HOST}:{self.port}"

    @property
    def host_port(self) -> str:
        """``127.0.0.1:PORT`` (what tritonclient takes)."""
        return f"{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.proc is not None, "the server is not started"
        return self.proc.pid

    def command(self) -> list[str]:
        """The command line that starts the server on ``self.port``."""
        store = ["--store", self.store] if self.store is not None else []
        return [
            str(modelshelf_bin()), "serve", self.spec, *store,
            "--host", HOST, "--port", str(self.port), *self.args,
        ]  # fmt: skip

    def log(self) -> str:
        """What the server wrote so far (stdout and stderr)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def start(self, ready_timeout: float = 90.0, *, until: str = "/v2/health/ready") -> Self:
        """Start the server and wait until ``until`` (default ``/v2/health/ready``) is 200.

        A port taken between picking and binding is retried with another one.

        Raises:
            ServeError: the process exited, or was not ready within ``ready_timeout``; the
                message holds its output.
        """
        shared.refuse_in_no_server_runs(f"modelshelf serve {self.spec}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(exist_ok=True)
        env = server_env(self.workdir / "cache", {"TMPDIR": str(self.tmp_dir), **self.extra_env})
        for _attempt in range(3):
            self.port = free_port()
            with self.log_path.open("ab") as log:
                log.write(f"$ {' '.join(self.command())}\n".encode())
                log.flush()
                self.proc = subprocess.Popen(
                    self.command(), cwd=self.workdir, env=env, stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                )  # fmt: skip
            try:
                self.wait_until(until, ready_timeout)
                return self
            except ServeError:
                if self.proc.poll() is not None and "address already in use" in self.log().lower():
                    continue
                self.stop()
                raise
        raise ServeError(f"no free port after 3 attempts:\n{self.log()[-4000:]}")

    def wait_until(self, path: str = "/v2/health/ready", timeout: float = 90.0) -> None:
        """Wait until ``GET path`` is 200.

        Raises:
            ServeError: the process exited, or ``path`` was not 200 within ``timeout``.
        """
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                raise ServeError(
                    f"`modelshelf serve {self.spec}` exited with {code} before it was ready;"
                    f" its output:\n{self.log()[-4000:]}"
                )
            try:
                status, body = http_get(HOST, self.port, path, timeout=2.0)
                if status == 200:
                    return
                last = f"{status} {body[:200]!r}"
            except OSError as exc:
                last = repr(exc)
            time.sleep(0.1)
        raise ServeError(
            f"`modelshelf serve {self.spec}`: {path} not 200 within {timeout:.0f} s (last: {last});"
            f" its output:\n{self.log()[-4000:]}"
        )

    def terminate(self) -> None:
        """Send SIGTERM to the server process (not its group): a graceful stop begins."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        """Wait for the process to exit; its return code."""
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self, grace: float = 20.0) -> int | None:
        """SIGTERM by PID, SIGKILL (to its whole session) after ``grace``; the return code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.terminate()
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10.0)
        # Workers left behind by a crashed parent share its session (started with a new one).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        return self.proc.returncode

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
