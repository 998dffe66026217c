"""Fixtures for the serve tests: models registered in a file:// store, the real server process.

Every server is `modelshelf serve` of the project's virtualenv, bound to 127.0.0.1 on a free
port, with its own cache folder, stopped by PID at teardown (tests/servers/serve_process.py).
The kserve client runs in its own virtualenv (`.venv-kserve`, built by `make test`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.serve.helpers import (
    KSERVE_PYTHON,
    OIP_ASSET,
    OIP_FACTOR,
    Register,
    StartServer,
    register_in,
)
from tests.serve.runners import OipRunner
from tests.servers.serve_process import ServeProcess

from modelshelf import Runner


@pytest.fixture
def store_url(isolated_env: Any) -> str:
    """This test's file:// store (the one the isolated environment made the default)."""
    url: str = isolated_env.store_url
    return url


@pytest.fixture
def register(store_url: str) -> Register:
    """``register(name, runner_cls, model, version="1")`` -> the exact version registered."""

    def _register(name: str, runner: type[Runner], model: Any, version: str = "1") -> str:
        return register_in(store_url, name, runner, model, version)

    return _register


@pytest.fixture
def start_server(tmp_path: Path, store_url: str) -> Iterator[StartServer]:
    """``start_server(spec, *flags, until=PATH)``: a server on this test's store, once ``until``
    (default ``/v2/health/ready``) answers 200; stopped at teardown."""
    started: list[ServeProcess] = []

    def _start(
        spec: str, *flags: str, until: str = "/v2/health/ready", timeout: float = 90.0
    ) -> ServeProcess:
        workdir = tmp_path / f"serve-{len(started)}"
        server = ServeProcess(spec, workdir=workdir, store=store_url, args=flags)
        started.append(server)
        return server.start(timeout, until=until)

    yield _start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def oip_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """One server of ``team/oip:1.0`` (OipRunner, factor 3), shared by the OIP client tests."""
    base = tmp_path_factory.mktemp("oip-server")
    store = (base / "store").as_uri()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELSHELF_CACHE_DIR", str(base / "register-cache"))
        register_in(store, OIP_ASSET, OipRunner, {"factor": OIP_FACTOR}, "1")
    server = ServeProcess(f"{OIP_ASSET}:1.0", workdir=base / "serve", store=store)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def kserve_python() -> Path:
    """The interpreter of `.venv-kserve`; skipped when missing, except under CI (fails)."""
    if KSERVE_PYTHON.is_file():
        return KSERVE_PYTHON
    reason = f"{KSERVE_PYTHON} is missing; `make test` builds it (kserve==0.16.0 in its own venv)"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and {reason}")
    pytest.skip(reason)
