"""``modelshelf serve`` never runs code a store chose: a forged hook fails the load, not a request.

The store's manifest names ``preprocess = modelshelf.shelf.source:subprocess.run`` (reachable before
through the module that imported it); the server must refuse it while loading, so that no
``POST /predict`` can ever hand it a command. ``--allow-hook-package`` reaches the workers.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

import pytest
from tests.servers.serve_process import HOST, ServeError, ServeProcess

from modelshelf import PushSource, Shelf

pytestmark = pytest.mark.integration  # real `modelshelf serve` processes

ECHO = "tests.code_trust_fixtures:EchoRunner"


def forge(store_url: str, tmp_path: Path, section: dict[str, Any]) -> None:
    (tmp_path / "f.txt").write_text("x")
    Shelf(store_url, cache_dir=tmp_path / "writer").push(
        PushSource.from_files({tmp_path / "f.txt": "f.txt"}),
        "demo/forged",
        sections={"model": section},
    )


def post(server: ServeProcess, body: object) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(HOST, server.port, timeout=30)
    try:
        conn.request("POST", "/predict", json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def test_a_forged_hook_stops_the_server_at_load_and_runs_nothing(
    store_url: str, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    hook = "modelshelf.shelf.source:subprocess.run"
    forge(
        store_url,
        tmp_path,
        {"runner": ECHO, "requirements": [], "artifacts": [], "preprocess": hook},
    )
    server = ServeProcess("demo/forged:1.0", workdir=tmp_path / "serve", store=store_url)
    with pytest.raises(ServeError, match="exited") as caught:
        server.start(60.0)
    assert "preprocess" in str(caught.value) and "subprocess.run" in str(caught.value)
    assert not marker.exists()


def test_allow_hook_package_reaches_the_workers(store_url: str, tmp_path: Path) -> None:
    hook = "tests.code_trust_fixtures:public_hook"
    forge(
        store_url,
        tmp_path,
        {"runner": ECHO, "requirements": [], "artifacts": [], "postprocess": hook},
    )
    nobody = {"MODELSHELF_ALLOWED_HOOK_PACKAGES": ""}
    refused = ServeProcess("demo/forged:1.0", workdir=tmp_path / "s1", store=store_url, env=nobody)
    with pytest.raises(ServeError, match="MODELSHELF_ALLOWED_HOOK_PACKAGES=tests"):
        refused.start(60.0)
    allowed = ServeProcess(
        "demo/forged:1.0",
        workdir=tmp_path / "s2",
        store=store_url,
        env=nobody,
        args=["--allow-hook-package", "tests", "--workers", "2"],
    )
    with allowed:
        assert post(allowed, [1, 2]) == (200, [1, 2])
