"""Server processes of the serving benchmark are stopped by PID whatever happens.

Run: ``.venv/bin/python -m pytest benchmarks/test_serve_procs.py -q -p no:cacheprovider``.
The fake server is a few lines of Python answering ``/v2/health/ready``; it starts a child
(as uvicorn and MLServer start workers) whose PID it writes to a file.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.serve_procs import ServerError, free_port, running

FAKE = """
import http.server, signal, subprocess, sys
port, child_file, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
if mode == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import signal, time\\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\\nwhile True: time.sleep(1)"])
open(child_file, "w").write(str(child.pid))
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ready = mode != "never-ready" and self.path == "/v2/health/ready"
        self.send_response(200 if ready else 503)
        self.end_headers()
    def log_message(self, *a):
        pass
if mode == "exit":
    sys.exit(3)
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not reaped by its dead parent yet) counts as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start(tmp_path: Path, mode: str, **kwargs: float):  # type: ignore[no-untyped-def]
    port = free_port()
    script = tmp_path / "fake.py"
    script.write_text(FAKE)
    child_file = tmp_path / "child.pid"
    command = [sys.executable, str(script), str(port), str(child_file), mode]
    return running(mode, command, port=port, log=tmp_path / "log", **kwargs), child_file


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    # Under the project folder: creating files under /tmp is slow on this machine.
    base = Path(__file__).resolve().parent / ".data" / "test-procs"
    base.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=base))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("mode", ["plain", "ignore-term"])
def test_a_failing_block_still_stops_the_server_and_its_workers(tmp_path: Path, mode: str) -> None:
    context, child_file = _start(tmp_path, mode, stop_timeout=1.0)
    with pytest.raises(RuntimeError, match="the bench failed"), context as server:
        leader, child = server.process.pid, int(child_file.read_text())
        assert _alive(leader) and _alive(child)
        raise RuntimeError("the bench failed")
    assert server.process.returncode is not None
    assert not _alive(child)


def test_a_server_that_exits_is_reported_with_its_log(tmp_path: Path) -> None:
    context, child_file = _start(tmp_path, "exit")
    with pytest.raises(ServerError, match="exited with 3"), context:
        pass
    assert not _alive(int(child_file.read_text()))


def test_a_server_never_ready_is_stopped(tmp_path: Path) -> None:
    context, child_file = _start(tmp_path, "never-ready", ready_timeout=1.0)
    with pytest.raises(ServerError, match="status 503"), context:
        pass
    assert not _alive(int(child_file.read_text()))
