"""Batching and back-pressure of the real server: a poisoned request in a batch, a full queue.

Both are proven by what the runner saw, not by timing: the poison test reads the runner's call
log (a merged call held the poison, then each request ran alone); the queue test holds the one
running request on a gate file until the 429 was seen.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.serve.helpers import Register, StartServer, wait_for_file
from tests.serve.runners import JsonRunner, PoisonRunner

pytestmark = pytest.mark.integration

ROUNDS = 6  # rounds of concurrent requests until one merged the poison with others


def _post(url: str, body: Any, barrier: threading.Barrier | None = None) -> httpx.Response:
    with httpx.Client(timeout=120.0, trust_env=False) as http:
        if barrier is not None:
            barrier.wait()
        return http.post(f"{url}/predict", json=body)


def _pending(future: Future[httpx.Response]) -> str | None:
    if not future.done():
        return None
    if future.exception() is not None:
        return f"the request failed: {future.exception()!r}"
    response = future.result()
    return f"the request ended first: {response.status_code} {response.text[:300]}"


def test_one_poisoned_request_in_a_batch_fails_only_itself(
    tmp_path: Path, register: Register, start_server: StartServer
) -> None:
    log = tmp_path / "calls.jsonl"
    register("shop/poison", PoisonRunner, {"log": log})
    server = start_server("shop/poison:1", "--max-batch-size", "8", "--max-batch-delay-ms", "50")
    merged_with_poison = False
    for round_no in range(ROUNDS):
        # 8 rows in 7 requests: one poisoned row, five single rows, one of two rows.
        bodies: list[list[float]] = [[PoisonRunner.MARKER]]
        bodies += [[100.0 * round_no + i] for i in range(1, 6)]
        bodies.append([100.0 * round_no + 6, 100.0 * round_no + 7])
        barrier = threading.Barrier(len(bodies))
        log.unlink(missing_ok=True)
        with ThreadPoolExecutor(len(bodies)) as pool:
            futures = [pool.submit(_post, server.url, body, barrier) for body in bodies]
            responses = [f.result() for f in futures]
        poisoned, *good = responses
        assert poisoned.status_code == 500, poisoned.text
        assert set(poisoned.json()) >= {"error", "request_id"}
        for body, response in zip(bodies[1:], good, strict=True):
            assert response.status_code == 200, (body, response.text)
            assert response.json() == [2 * v for v in body]
        calls = [json.loads(line) for line in log.read_text().splitlines()]
        if any(c["poisoned"] and c["rows"] > 1 for c in calls):
            merged_with_poison = True
            # ... and then the poison ran alone, so that only it failed.
            assert {"rows": 1, "poisoned": True} in calls, calls
            break
    assert merged_with_poison, (
        f"in {ROUNDS} rounds of 7 concurrent requests the server never merged the poisoned"
        " request with others (--max-batch-size 8 --max-batch-delay-ms 50): no batching seen"
    )


def test_a_full_queue_answers_429_with_retry_after(
    tmp_path: Path, register: Register, start_server: StartServer
) -> None:
    register("shop/gate", JsonRunner, {"factor": 2, "dir": tmp_path})
    server = start_server("shop/gate:1", "--max-queue", "1")
    with ThreadPoolExecutor(1) as pool:
        blocked = pool.submit(_post, server.url, "block")
        wait_for_file(tmp_path / "started", alive=lambda: _pending(blocked))
        # The one request the queue holds is running: the next is refused at once.
        with httpx.Client(base_url=server.url, timeout=60.0, trust_env=False) as http:
            full = http.post("/predict", json=3)
            oip = http.post(
                "/v2/models/gate/infer",
                json={"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [3]}]},
            )
        for response in (full, oip):
            assert response.status_code == 429, response.text
            assert response.headers["retry-after"].isdigit()  # delay-seconds (RFC 9110)
            assert isinstance(response.json()["error"], str)
        assert not blocked.done()
        (tmp_path / "gate").touch()
        done = blocked.result(timeout=120)
    assert done.status_code == 200, done.text
    assert done.json() == "unblocked"
    again = _post(server.url, 4)
    assert again.status_code == 200, again.text
    assert again.json() == 8


def test_a_body_over_the_size_limit_is_413(
    tmp_path: Path, register: Register, start_server: StartServer
) -> None:
    register("shop/gate", JsonRunner, {"factor": 2, "dir": tmp_path})
    server = start_server("shop/gate:1", "--max-body-mb", "1")
    big = b"[" + b",".join([b"1.5"] * 400_000) + b"]"  # ~1.6 MB of valid JSON
    assert len(big) > 1024 * 1024
    with httpx.Client(base_url=server.url, timeout=60.0, trust_env=False) as http:
        for path in ("/predict", "/v2/models/gate/infer"):
            response = http.post(path, content=big)
            assert response.status_code == 413, (path, response.text[:300])
            assert isinstance(response.json()["error"], str)
        small = http.post("/predict", json=[1.5] * 1000)
        assert small.status_code == 200, small.text
        assert small.json() == [3.0] * 1000


def test_a_request_over_the_timeout_is_504_and_the_server_recovers(
    tmp_path: Path, register: Register, start_server: StartServer
) -> None:
    register("shop/gate", JsonRunner, {"factor": 2, "dir": tmp_path})
    server = start_server("shop/gate:1", "--timeout", "2")
    try:
        # The runner holds this request until the gate opens, which happens only after the 504.
        late = _post(server.url, "block")
        assert late.status_code == 504, late.text
        body = late.json()
        assert isinstance(body["error"], str)
        assert body.get("request_id")
    finally:
        (tmp_path / "gate").touch()
    after = _post(server.url, 21)
    assert after.status_code == 200, after.text
    assert after.json() == 42
