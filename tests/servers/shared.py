"""One server of each kind per test session, started on first use, stopped at the session's end.

A `weed server` takes seconds to start and Azurite about one; the integration, conformance and
benchmark tests used to start one each. Now they share one of each (``SeaweedServer.shared()``,
``Azurite.shared()``) and each test gets a bucket, a key prefix or a container of its own. Under
pytest-xdist every worker is its own session, so each worker has its own servers, on free ports
picked at start, in temp folders of their own.

``stop_all()`` runs at the end of the session (``pytest_sessionfinish`` in tests/conftest.py) and
at exit, and stops each server by its PID: no process outlives the run.

``make check`` runs the tests that need no server and sets ``MODELSHELF_TEST_NO_SERVERS=1``: every
server class here then refuses to start (:func:`refuse_in_no_server_runs`), so a test that starts
one and is not marked ``integration`` fails there instead of slowing the inner loop down.
"""

from __future__ import annotations

import atexit
import os
from typing import Any, Protocol, TypeVar


class _Server(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


S = TypeVar("S", bound=_Server)

_running: dict[str, Any] = {}
# Read once, at import (tests/conftest.py imports this module before any test runs): the
# isolated environment of each test removes MODELSHELF_* variables.
NO_SERVERS = os.environ.get("MODELSHELF_TEST_NO_SERVERS", "") not in ("", "0")


def refuse_in_no_server_runs(what: str) -> None:
    """Fail when this run must start no server (``make check``); a no-op otherwise."""
    if NO_SERVERS:
        raise RuntimeError(
            f"{what}: MODELSHELF_TEST_NO_SERVERS is set (make check runs only the tests that"
            " start no server): mark this test `integration` (tests/conftest.py)"
        )


def get(kind: str, factory: type[S]) -> S:
    """The running server of ``kind``, started with ``factory()`` if there is none yet."""
    server: S | None = _running.get(kind)
    if server is None:
        server = factory()
        server.start()
        _running[kind] = server
    return server


def stop_all() -> None:
    """Stop every shared server (last started, first stopped)."""
    while _running:
        _, server = _running.popitem()
        server.stop()


atexit.register(stop_all)
