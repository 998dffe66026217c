"""Hostile clients of the real server (issue 20, items 5 and 6): bodies that stall, trickle or
are too large cannot lock out a normal client.

Eight clients send 64 MiB minus one byte and stop: together they hold the worker's whole body
budget. A normal client must still be answered (200) within 1 s once they have stalled, each
staller gets a 408 and its bytes are released; a trickling client gets a 408 once it falls
under the minimum rate; an oversized body gets a 413 at once. The 1 s bound is the issue's
promise; every other wait is a hang guard.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.serve.helpers import register_in
from tests.serve.runners import JsonRunner
from tests.servers.serve_process import HOST, ServeProcess

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
BODY = 64 * MiB  # the default --max-body-mb
STALLERS = 8  # the default budget is 8 bodies of the largest size
BODY_TIMEOUT = 3.0  # MODELSHELF_SERVE_BODY_TIMEOUT for this server


def _open(port: int, length: int) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=60)
    head = f"POST /predict HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {length}\r\n\r\n"
    sock.sendall(head.encode("ascii"))
    return sock


def _status(sock: socket.socket) -> int:
    """The status code of the answer on ``sock`` (waits for it; the socket's timeout bounds)."""
    data = b""
    while b"\r\n" not in data:
        piece = sock.recv(4096)
        if not piece:
            raise AssertionError(f"the server closed without an answer; read {data!r}")
        data += piece
    return int(data.split(b" ", 2)[1])


@pytest.fixture
def server(tmp_path: Path, store_url: str) -> Iterator[ServeProcess]:
    register_in(store_url, "shop/echo", JsonRunner, {"factor": 2, "dir": str(tmp_path)}, "1")
    env = {
        "MODELSHELF_SERVE_BODY_TIMEOUT": str(BODY_TIMEOUT),
        "MODELSHELF_SERVE_BODY_MIN_RATE": "65536",
    }
    process = ServeProcess("shop/echo:1", workdir=tmp_path / "serve", store=store_url, env=env)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def test_stalled_bodies_do_not_lock_out_a_normal_client(server: ServeProcess) -> None:
    stallers = [_open(server.port, BODY) for _ in range(STALLERS)]
    try:
        filler = b"7" * MiB
        for sock in stallers:
            for _ in range(BODY // MiB - 1):
                sock.sendall(filler)
            sock.sendall(filler[:-1])  # one byte short: the server waits for it
        time.sleep(1.5)  # all of them stalled past the server's 1 s stall mark
        started = time.monotonic()
        with httpx.Client(timeout=30, trust_env=False) as http:
            answer = http.post(f"{server.url}/predict", json=[1.0, 2.0])
        elapsed = time.monotonic() - started
        assert answer.status_code == 200, answer.text
        assert answer.json() == [2.0, 4.0]
        assert elapsed < 1.0, f"a normal client waited {elapsed:.2f} s behind stalled bodies"
        # Each staller is answered 408 (evicted, or past MODELSHELF_SERVE_BODY_TIMEOUT).
        assert [_status(sock) for sock in stallers] == [408] * STALLERS
    finally:
        for sock in stallers:
            sock.close()
    # Their bytes left the budget: a body of the largest size fits again.
    with httpx.Client(timeout=60, trust_env=False) as http:
        big = http.post(f"{server.url}/predict", content=b"[" + b"1," * (8 * MiB) + b"1]")
    assert big.status_code == 200, big.text[:300]


def test_a_trickling_body_is_refused_below_the_minimum_rate(server: ServeProcess) -> None:
    sock = _open(server.port, MiB)
    try:
        sock.settimeout(0.5)
        deadline = time.monotonic() + 30  # hang guard
        status = None
        while status is None and time.monotonic() < deadline:
            try:
                sock.sendall(b"1")  # one byte per half second: far under 64 KiB/s
                status = _status(sock)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                sock.settimeout(5)
                status = _status(sock)
        assert status == 408
    finally:
        sock.close()
    with httpx.Client(timeout=30, trust_env=False) as http:
        assert http.post(f"{server.url}/predict", json=[1.0]).status_code == 200


def test_an_oversized_body_is_refused_at_once(server: ServeProcess) -> None:
    declared = _open(server.port, BODY + 1)
    try:
        assert _status(declared) == 413  # from Content-Length, before any byte of the body
    finally:
        declared.close()
