"""``modelshelf serve --json``: every line the server writes on stderr is one JSON object, from
start to shutdown, in the parent and in every worker (second review of issue 21)."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import httpx
import pytest
from tests.serve.helpers import Register, StartServer
from tests.serve.review2_g2_runners import LoggingRunner
from tests.servers.serve_process import ServeProcess

pytestmark = pytest.mark.integration


def _records(server: ServeProcess) -> list[dict[str, Any]]:
    """Every line the server wrote, parsed (the first is the command line the fixture logs)."""
    lines = server.log().splitlines()
    assert lines[0].startswith("$ ")
    records = []
    for line in lines[1:]:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}\nall of it:\n{server.log()[-4000:]}")
    return records


def _messages(records: list[dict[str, Any]]) -> str:
    return "\n".join(str(r.get("message", "")) for r in records)


@pytest.mark.parametrize(
    ("workers", "stop"),
    [("1", signal.SIGTERM), ("1", signal.SIGINT), ("2", signal.SIGTERM)],
    ids=["one-sigterm", "one-sigint", "two-workers-sigterm"],
)
def test_serve_json_writes_only_json_lines(
    register: Register, start_server: StartServer, workers: str, stop: signal.Signals
) -> None:
    register("r/logging", LoggingRunner, [0])
    server = start_server("r/logging:1", "--json", "--workers", workers, "--trust")
    for _ in range(2 * int(workers)):
        response = httpx.post(f"{server.url}/predict", json=[1, 2], timeout=60, trust_env=False)
        assert response.status_code == 200 and response.json() == [2, 4]
    os.kill(server.pid, stop)
    # SIGTERM is the service manager's stop (exit 0); Ctrl-C ends as the CLI's interrupt.
    assert server.wait(60) == (130 if stop == signal.SIGINT else 0), server.log()[-3000:]
    records = _records(server)
    text = _messages(records)
    assert "listening on http://127.0.0.1" in text  # start
    assert "Shutting down" in text or "Finished server process" in text  # shutdown
    logged = [r for r in records if r.get("logger") == "some.library"]
    assert logged and logged[0]["level"] == "warning"
    assert logged[0]["message"].startswith("careful \x1b[31mred")
    for record in records:
        if "logger" in record:  # a log record (access lines are JSON objects of their own)
            assert set(record) >= {"time", "level", "logger", "message"}
    if stop == signal.SIGINT:
        assert records[-1] == {"error": "interrupted", "type": "KeyboardInterrupt", "exit": 130}
    raw = server.log()
    assert "\x1b" not in raw and "hunter2" not in raw


def test_serve_text_mode_keeps_plain_lines_and_catches_library_warnings(
    register: Register, start_server: StartServer
) -> None:
    register("r/logging", LoggingRunner, [0])
    server = start_server("r/logging:1", "--trust")
    response = httpx.post(f"{server.url}/predict", json=[1], timeout=60, trust_env=False)
    assert response.status_code == 200
    server.stop()
    raw = server.log()
    assert " INFO modelshelf.serve: listening on http://127.0.0.1" in raw
    assert " WARNING some.library: careful" in raw
