"""Process-level behaviour of the real server: graceful SIGTERM, metrics across --workers 2."""

from __future__ import annotations

import http.client
import socket
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import tritonclient.http as httpclient
from prometheus_client.parser import text_string_to_metric_families
from tests.serve.helpers import Register, StartServer, request_counts, wait_for_file
from tests.serve.runners import JsonRunner, SlowLoadRunner
from tests.servers.serve_process import HOST, ServeProcess

pytestmark = pytest.mark.integration

SCRAPES = 8
MAX_REQUESTS = 400  # sent until both workers answered at least once


def _post(url: str, body: object) -> httpx.Response:
    # A fresh connection per request (httpx.post opens and closes its own client).
    return httpx.post(f"{url}/predict", json=body, timeout=120.0, trust_env=False)


def _pending(future: Future[httpx.Response]) -> str | None:
    if not future.done():
        return None
    return f"the request ended first: {future.exception() or future.result().text[:300]}"


def _exited(server: ServeProcess) -> str | None:
    code = server.proc.poll() if server.proc is not None else None
    return None if code is None else f"the server exited with {code}:\n{server.log()[-3000:]}"


def _wait_until_not_accepting(server: ServeProcess, timeout: float = 60.0) -> None:
    """Until a new connection to the server is refused (it began its shutdown)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, server.port), timeout=2.0):
                pass
        except ConnectionRefusedError:
            return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(
        f"the server still accepts connections {timeout:.0f} s after SIGTERM:\n{server.log()}"
    )


def _scrape(server: ServeProcess) -> str:
    """GET /metrics over a fresh connection (so either worker may answer); its text."""
    conn = http.client.HTTPConnection(HOST, server.port, timeout=30)
    try:
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        text = response.read().decode()
    finally:
        conn.close()
    assert response.status == 200, text
    assert response.getheader("content-type", "").startswith("text/plain")
    return text


def test_sigterm_lets_the_request_in_flight_finish_then_exits_0(
    tmp_path: Path, register: Register, start_server: StartServer
) -> None:
    register("shop/gate", JsonRunner, {"factor": 2, "dir": tmp_path})
    server = start_server("shop/gate:1")
    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(_post, server.url, "block")
        wait_for_file(tmp_path / "started", alive=lambda: _pending(in_flight))
        server.terminate()
        _wait_until_not_accepting(server)  # shutting down, with the request still running
        assert not in_flight.done()
        assert server.proc is not None and server.proc.poll() is None
        (tmp_path / "gate").touch()
        response = in_flight.result(timeout=120)
    assert response.status_code == 200, response.text
    assert response.json() == "unblocked"
    code = server.wait(60)
    leftovers = sorted(p.name for p in server.tmp_dir.iterdir())
    assert (code, leftovers) == (0, []), server.log()[-3000:]  # exits 0, leaves no temp files


def test_metrics_count_the_requests_of_both_workers(
    tmp_path: Path, register: Register, start_server: StartServer
) -> None:
    register("shop/pids", JsonRunner, {"factor": 2, "dir": tmp_path})
    server = start_server("shop/pids:1", "--workers", "2")
    pids: list[int] = []
    while len(set(pids)) < 2 and len(pids) < MAX_REQUESTS:
        response = _post(server.url, "pid")
        assert response.status_code == 200, response.text
        pids.append(response.json())
    sent = len(pids)
    assert len(set(pids)) == 2, f"{sent} requests on fresh connections all reached one worker"
    # A worker may count a request just after its response left: allow a moment to settle,
    # then every scrape, whichever worker answers it, must show all of them.
    settle = time.monotonic() + 10.0
    while sent not in request_counts(_scrape(server), "predict").values():
        if time.monotonic() > settle:
            break
        time.sleep(0.2)
    for _ in range(SCRAPES):
        text = _scrape(server)
        counts = request_counts(text, "predict")
        assert sent in counts.values(), (
            f"no request counter of /predict totals the {sent} requests sent: {counts}"
        )
    families = list(text_string_to_metric_families(text))
    assert any(f.type == "histogram" for f in families), "no latency histogram"
    assert any("1.0" in sample.labels.values() for f in families for sample in f.samples), (
        "the active version is not in /metrics"
    )
    server.terminate()
    code = server.wait(60)
    leftovers = sorted(p.name for p in server.tmp_dir.iterdir())
    assert (code, leftovers) == (0, []), server.log()[-3000:]  # exits 0, leaves no temp files


def test_live_but_not_ready_until_the_model_is_loaded(
    tmp_path: Path, register: Register, start_server: StartServer
) -> None:
    register("shop/slow", SlowLoadRunner, {"dir": tmp_path})
    try:
        server = start_server("shop/slow:1", until="/v2/health/live", timeout=60.0)
        wait_for_file(tmp_path / "loading", alive=lambda: _exited(server))  # the load is held
        with httpx.Client(base_url=server.url, timeout=60.0, trust_env=False) as http:
            live = http.get("/v2/health/live")
            assert live.status_code == 200
            assert live.json()["live"] is True
            assert http.get("/health").status_code == 200
            for path in ("/v2/health/ready", "/ready", "/v2/models/slow/ready"):
                assert http.get(path).status_code == 503, path
            refused = [
                http.post("/predict", json=1),
                http.post(
                    "/v2/models/slow/infer",
                    json={"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [1]}]},
                ),
            ]
            for response in refused:
                assert response.status_code == 503, response.text
                assert isinstance(response.json()["error"], str)
        triton = httpclient.InferenceServerClient(server.host_port, network_timeout=60.0)
        try:
            assert triton.is_server_live()
            assert not triton.is_server_ready()
            assert not triton.is_model_ready("slow")
        finally:
            triton.close()
    finally:
        (tmp_path / "loaded").touch()
    server.wait_until("/v2/health/ready")
    answer = httpx.post(f"{server.url}/predict", json=[1, 2], timeout=60.0, trust_env=False)
    assert answer.status_code == 200, answer.text
    assert answer.json() == [1, 2]
