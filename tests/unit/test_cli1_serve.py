"""`modelshelf serve` fails as the README promises (issue 21, CLI 4): one `error:` line and exit
1, nothing from uvicorn, for a port in use and for a spec that does not resolve; the spec and the
address are checked before uvicorn starts. Run as the real command (a subprocess)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.models_fixtures import LinearRunner
from tests.servers.serve_process import REPO, free_port, server_env

from modelshelf import Shelf, register_model
from modelshelf._bind import bind
from modelshelf.errors import ServeAddressError

SRC = Path(__import__("modelshelf").__file__).parents[1]


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = (tmp_path / "store").as_uri()
    shelf = Shelf(url, cache_dir=tmp_path / "cache")
    register_model("team/svc", LinearRunner, {"x": 1.0, "bias": 0.0}, store=shelf)
    return url


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def serve(tmp_path: Path, store: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = server_env(tmp_path / "cache")
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(REPO)])
    return subprocess.run(
        [sys.executable, "-m", "modelshelf", "--store", store, "serve", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_in_use_is_one_error_line_and_exit_1(
    tmp_path: Path, store: str, taken_port: int, workers: str
) -> None:
    done = serve(tmp_path, store, "team/svc:1", "--port", str(taken_port), "--workers", workers)
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        f"error: port {taken_port} on 127.0.0.1 is in use: pass --port N (another port), or"
        " stop what listens there"
    ]
    assert done.stdout == ""


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_spec_that_does_not_resolve_fails_before_uvicorn_says_anything(
    tmp_path: Path, store: str, workers: str
) -> None:
    done = serve(tmp_path, store, "team/nope", "--port", str(free_port()), "--workers", workers)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no asset named 'team/nope'"), lines
    done = serve(tmp_path, store, "team/svc:7", "--port", str(free_port()))
    lines = done.stderr.splitlines()
    assert done.returncode == 1 and lines[0].startswith("error: team/svc has no version")
    assert "uvicorn" not in done.stderr and len(lines) <= 2  # the error and its hint


def test_a_missing_local_model_fails_before_uvicorn(tmp_path: Path, store: str) -> None:
    done = serve(tmp_path, store, str(tmp_path / "nothing.onnx"), "--port", str(free_port()))
    assert done.returncode == 1 and "uvicorn" not in done.stderr
    assert done.stderr.startswith("error: ") and len(done.stderr.splitlines()) == 1, done.stderr


def test_a_host_that_is_not_here_is_one_error_line(tmp_path: Path, store: str) -> None:
    done = serve(tmp_path, store, "team/svc:1", "--host", "no-such-host.invalid")
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("error: cannot listen on no-such-host.invalid")
    assert "--host" in done.stderr


def test_a_port_in_use_with_json_is_one_json_line(
    tmp_path: Path, store: str, taken_port: int
) -> None:
    done = serve(tmp_path, store, "team/svc:1", "--port", str(taken_port), "--json")
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1, done.stderr
    error = json.loads(done.stderr)
    assert (error["type"], error["exit"]) == ("ServeAddressError", 1)
    assert f"port {taken_port} on 127.0.0.1 is in use" in error["error"]


def test_bind_names_the_flag_to_change(taken_port: int) -> None:
    with pytest.raises(ServeAddressError, match=rf"^port {taken_port} on 127.0.0.1 is in use"):
        bind("127.0.0.1", taken_port)
    with pytest.raises(
        ServeAddressError, match="not an address of this machine; pass host=ADDRESS"
    ):
        bind("192.0.2.1", 0)  # TEST-NET-1: documentation only, never a local address
    sock = bind("localhost", 0)  # as uvicorn did: IPv4 unless the host is written with ':'
    try:
        assert sock.family == socket.AF_INET and sock.getsockname()[0] == "127.0.0.1"
        assert sock.get_inheritable()  # the workers of --workers N serve it
    finally:
        sock.close()
