"""Following an alias: a bounded load during a move, the drain of the old version, a bad version.

A bounded load from a second process while the served alias moves: nothing fails, no mix.

``team/scaler`` 1.0 multiplies by 2 and 2.0 by 3, so every answer tells which version made it.
The server follows ``team/scaler@prod`` (polling every 0.5 s); the test moves the alias under
load and calls ``POST /v2/repository/models/scaler/load``, which returns after the swap.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from tests.serve.helpers import CLIENTS, Register, StartServer, client_result, wait_for_file
from tests.serve.runners import BrokenLoadRunner, JsonRunner, ScaleRunner
from tests.servers.serve_process import REPO, clean_env

import modelshelf

pytestmark = pytest.mark.integration

COUNT = 400
CONNECTIONS = 4


def test_alias_move_under_load_fails_nothing_and_never_mixes_versions(
    tmp_path: Path, store_url: str, register: Register, start_server: StartServer
) -> None:
    v1 = register("team/scaler", ScaleRunner, {"factor": 2}, "1")
    v2 = register("team/scaler", ScaleRunner, {"factor": 3}, "2")
    factors = {v1: 2.0, v2: 3.0}
    shelf = modelshelf.Shelf(store_url)
    shelf.set_alias("team/scaler@prod", v1)
    server = start_server("team/scaler@prod", "--poll-interval", "0.5")
    control = tmp_path / "control"
    control.mkdir()
    load = subprocess.Popen(
        [sys.executable, str(CLIENTS / "load_client.py"), server.url, "scaler",
         str(COUNT), str(CONNECTIONS), str(control)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(), cwd=REPO,
    )  # fmt: skip
    try:
        wait_for_file(
            control / "started",
            alive=lambda: None if load.poll() is None else f"the load client exited {load.poll()}",
        )
        shelf.set_alias("team/scaler@prod", v2)
        moved = httpx.post(
            f"{server.url}/v2/repository/models/scaler/load", timeout=120.0, trust_env=False
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["name"] == "scaler"
        assert moved.json()["version"] == v2
        (control / "stop").touch()
        out, err = load.communicate(timeout=300)
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()
    results = client_result("load_client.py", load.returncode, out, err)["results"]

    failed = [r for r in results if r["status"] != 200]
    assert not failed, f"{len(failed)} of {len(results)} failed, e.g. {failed[:3]}"
    assert len(results) >= COUNT
    for r in results:
        assert r["version"] in factors, r
        assert r["output"] == [x * factors[r["version"]] for x in r["x"]], r  # never a mix
    answered = {r["version"] for r in results}
    assert answered == {v1, v2}, f"only {answered} answered"
    by_version = {v: sum(r["version"] == v for r in results) for v in (v1, v2)}
    print(f"alias move under load: {len(results)} requests, 0 failed, by version {by_version}")
    # The load call returned after the swap: everything sent after it is the new version.
    late = [r for r in results if r["after_stop"]]
    assert late
    assert {r["version"] for r in late} == {v2}
    meta = httpx.get(f"{server.url}/metadata", timeout=30.0, trust_env=False)
    assert v2 in meta.text


def _predict(url: str, body: object) -> httpx.Response:
    return httpx.post(f"{url}/predict", json=body, timeout=120.0, trust_env=False)


def test_a_request_on_the_old_version_finishes_on_it_after_the_swap(
    tmp_path: Path, store_url: str, register: Register, start_server: StartServer
) -> None:
    v1 = register("shop/pricer", JsonRunner, {"factor": 2, "dir": tmp_path}, "1")
    v2 = register("shop/pricer", JsonRunner, {"factor": 3, "dir": tmp_path}, "2")
    shelf = modelshelf.Shelf(store_url)
    shelf.set_alias("shop/pricer@prod", v1)
    server = start_server("shop/pricer@prod", "--poll-interval", "600")
    with ThreadPoolExecutor(1) as pool:
        old = pool.submit(_predict, server.url, "block")  # held by v1's runner
        wait_for_file(tmp_path / "started", alive=lambda: None if not old.done() else "ended")
        shelf.set_alias("shop/pricer@prod", v2)
        try:
            moved = httpx.post(
                f"{server.url}/v2/repository/models/pricer/load", timeout=120.0, trust_env=False
            )
            assert moved.status_code == 200, moved.text
            assert moved.json()["version"] == v2
            new = _predict(server.url, 5)
            assert new.status_code == 200, new.text
            assert (new.json(), new.headers["x-model-version"]) == (15, v2)
            assert not old.done()
        finally:
            (tmp_path / "gate").touch()
        finished = old.result(timeout=120)
    assert finished.status_code == 200, finished.text
    assert (finished.json(), finished.headers["x-model-version"]) == ("unblocked", v1)


def test_a_version_that_fails_to_load_is_never_swapped_in(
    store_url: str, register: Register, start_server: StartServer
) -> None:
    good = register("team/scaler", ScaleRunner, {"factor": 2}, "1")
    bad = register("team/scaler", BrokenLoadRunner, {}, "2")
    shelf = modelshelf.Shelf(store_url)
    shelf.set_alias("team/scaler@prod", good)
    server = start_server("team/scaler@prod", "--poll-interval", "600")
    shelf.set_alias("team/scaler@prod", bad)
    with httpx.Client(base_url=server.url, timeout=120.0, trust_env=False) as http:
        http.post("/v2/repository/models/scaler/load")  # its status is the server's choice
        answer = http.post("/predict", json=[1.5])
        assert answer.status_code == 200, answer.text
        assert (answer.json(), answer.headers["x-model-version"]) == ([3.0], good)
        assert http.get("/v2/health/ready").status_code == 200
        meta = http.get("/metadata")
        assert meta.status_code == 200, meta.text
        assert BrokenLoadRunner.MESSAGE in meta.text  # the last swap error
    assert BrokenLoadRunner.MESSAGE in server.log()
