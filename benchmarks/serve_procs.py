"""Server processes for the serving benchmark: free ports, readiness, stop by PID, one request.

Every server is started in its own session (so its workers share its process group), on
127.0.0.1, with its output in a log file; :func:`running` waits for ``GET /v2/health/ready``
to answer 200 and, whatever happens in its block, stops the group with SIGTERM, then SIGKILL
after a timeout.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Server", "ServerError", "free_port", "post_json", "running"]

HOST = "127.0.0.1"
READY_PATH = "/v2/health/ready"


class ServerError(RuntimeError):
    """A server did not start, did not get ready, or answered wrongly; the log tail is shown."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Server:
    """A started server: its process, port and log file."""

    label: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def _request(
    port: int, method: str, path: str, body: bytes | None = None, timeout: float = 5.0
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def post_json(server: Server, path: str, payload: Any) -> tuple[int, Any]:
    """POST ``payload`` as JSON; the status and the decoded answer (text if it is not JSON)."""
    status, raw = _request(server.port, "POST", path, json.dumps(payload).encode())
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def _wait_ready(server: Server, timeout: float, confirm: int) -> None:
    """Poll until ``confirm`` answers in a row (each on a new connection) are 200."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    in_a_row = 0
    while time.monotonic() < deadline:
        code = server.process.poll()
        if code is not None:
            raise ServerError(
                f"{server.label} exited with {code} before it was ready; its log:\n"
                f"{server.log_tail()}"
            )
        try:
            status, _ = _request(server.port, "GET", READY_PATH, timeout=2.0)
        except OSError as exc:
            last = f"{type(exc).__name__}: {exc}"
            in_a_row = 0
        else:
            in_a_row = in_a_row + 1 if status == 200 else 0
            if in_a_row >= confirm:
                return
            last = f"status {status}"
            if in_a_row:
                continue
        time.sleep(0.2)
    raise ServerError(
        f"{server.label} was not ready ({READY_PATH}) within {timeout:.0f} s ({last}); its log:\n"
        f"{server.log_tail()}"
    )


def _stop(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM to the server's process group, then SIGKILL after ``timeout`` seconds."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    # Workers left behind by a leader that exited on its own share its group id.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _live_members(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _live_members(group: int) -> list[int]:
    """PIDs in process group ``group`` that have not exited (zombies do not count)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            found.append(int(entry.name))
    return found


@contextlib.contextmanager
def running(
    label: str,
    command: Sequence[str],
    *,
    port: int,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    ready_timeout: float = 120.0,
    stop_timeout: float = 15.0,
    confirm: int = 1,
) -> Iterator[Server]:
    """Start ``command``, wait until it is ready on ``port``, stop it when the block ends.

    ``confirm``: answers 200 in a row needed (more than one lets several workers get ready).

    Raises:
        ServerError: it exited or was not ready in time (the log tail is in the message).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(
            list(command),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    server = Server(label, process, port, log)
    try:
        _wait_ready(server, ready_timeout, confirm)
        yield server
    finally:
        _stop(process, stop_timeout)
