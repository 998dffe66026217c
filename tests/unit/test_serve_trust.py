"""Hostile HTTP clients of the serve app (issue 20, items 5-7 and the serve "also look at" items).

Each test failed on the code before the fix (or pins a decision taken with the issue). Bodies
that stall are driven through the ASGI app directly, with a ``receive`` that never answers;
wall-clock bounds are hang guards only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import threading
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("prometheus_client")

import httpx
from starlette.testclient import TestClient
from tests.models_fixtures import LinearRunner

from modelshelf import Shelf, register_model
from modelshelf.serve import ServeOptions, create_app

MiB = 1024 * 1024
HANG_GUARD = 20.0


class Echo:
    """Returns its input."""

    def predict(self, data: Any) -> Any:
        return data


def _scope(path: str, length: int) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-length", str(length).encode())],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


class Client:
    """One request through the ASGI app: ``parts`` are sent, then it stalls (or ends)."""

    def __init__(self, parts: list[bytes], *, stall: bool) -> None:
        self.parts = list(parts)
        self.stall = stall
        self.sent: list[bytes] = []
        self.status: int | None = None
        self.body = b""
        self.delivered = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        if self.parts:
            part = self.parts.pop(0)
            more = bool(self.parts) or self.stall
            if not self.parts:
                self.delivered.set()
            return {"type": "http.request", "body": part, "more_body": more}
        await asyncio.Event().wait()  # the stalled client: never another byte
        raise AssertionError("unreachable")

    async def send(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")


def _budget_app(limit: int, stall: float = 0.2) -> Any:
    app = create_app(model=Echo(), name="echo")
    state = app.state.serve
    state.body_budget = type(state.body_budget)(limit)
    state.body_budget.stall = stall  # seconds idle before a body yields its share
    return app


# ---- item 7: any decode error of a body is a 400, never a 500 -----------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"[" + b"7" * 5000 + b"]",  # past the interpreter's int digit limit: ValueError
        b'{"x": ' + b"9" * 10_000 + b"}",
        b"[-" + b"1" * 4301 + b"]",
    ],
)
def test_predict_a_huge_integer_is_a_400_without_a_traceback(
    body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(create_app(model=Echo(), name="echo")) as client:
        response = client.post("/predict", content=body)
    assert response.status_code == 400, response.text
    assert "digit" in response.json()["error"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def test_infer_a_huge_integer_is_a_400() -> None:
    header = (
        b'{"inputs":[{"name":"x","datatype":"INT64","shape":[1],"data":[' + b"8" * 5000 + b"]}]}"
    )
    with TestClient(create_app(model=Echo(), name="echo")) as client:
        response = client.post("/v2/models/echo/infer", content=header)
    assert response.status_code == 400, response.text


# ---- item 6: what a body decodes to is charged to the budget before it is built -----------------


def test_json_of_empty_objects_is_charged_its_decoded_size() -> None:
    # 2 MiB of `{},` decodes to ~50 MiB of dicts: over a 16 MiB budget, though its bytes fit.
    app = _budget_app(16 * MiB)
    body = b"[" + b"{}," * (2 * MiB // 3) + b"{}]"
    with TestClient(app) as client:
        response = client.post("/predict", content=body)
        assert response.status_code == 413, response.text[:300]
        assert "budget" in response.json()["error"]
        assert app.state.serve.body_budget.held == 0  # given back after the answer
        # The same budget still takes an ordinary body of numbers.
        assert client.post("/predict", content=b"[" + b"1.5," * 100_000 + b"1]").status_code == 200
    assert app.state.serve.body_budget.held == 0


def test_bytes_input_of_millions_of_empty_elements_is_charged() -> None:
    # 2 M empty BYTES elements: 8 MiB of lengths, ~100 MiB of objects once split.
    count = 2_000_000
    tensors = struct.pack("<I", 0) * count
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "t",
                    "datatype": "BYTES",
                    "shape": [count],
                    "parameters": {"binary_data_size": len(tensors)},
                }
            ]
        }
    ).encode()
    app = _budget_app(32 * MiB)
    with TestClient(app) as client:
        response = client.post(
            "/v2/models/echo/infer",
            content=header + tensors,
            headers={"Inference-Header-Content-Length": str(len(header))},
        )
        assert response.status_code == 413, response.text[:300]
        assert app.state.serve.body_budget.held == 0
        few = struct.pack("<I", 0) * 1000
        small = header.replace(str(count).encode(), b"1000").replace(
            str(len(tensors)).encode(), str(len(few)).encode()
        )
        ok = client.post(
            "/v2/models/echo/infer",
            content=small + few,
            headers={"Inference-Header-Content-Length": str(len(small))},
        )
        assert ok.status_code == 200, ok.text[:300]


# ---- item 5: a stalled body is refused with 408 and yields its share of the budget -------------


def test_a_stalled_body_gets_408_after_the_body_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSHELF_SERVE_BODY_TIMEOUT", "0.3")
    app = create_app(model=Echo(), name="echo")
    staller = Client([b"[1,"], stall=True)

    async def scenario() -> None:
        try:
            await asyncio.wait_for(
                app(_scope("/predict", 100), staller.receive, staller.send), HANG_GUARD
            )
        finally:
            await app.state.serve.batcher.aclose()

    asyncio.run(scenario())
    assert staller.status == 408
    assert "no byte" in json.loads(staller.body)["error"]
    assert app.state.serve.body_budget.held == 0


def test_a_trickling_body_gets_408_under_the_minimum_rate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELSHELF_SERVE_BODY_TIMEOUT", "0.3")
    monkeypatch.setenv("MODELSHELF_SERVE_BODY_MIN_RATE", "1000")
    app = create_app(model=Echo(), name="echo")
    status: list[int] = []

    async def scenario() -> None:
        sent = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            await asyncio.sleep(0.05)  # 20 bytes/s: never idle 0.3 s, far under 1000 bytes/s
            sent += 1
            return {"type": "http.request", "body": b" ", "more_body": True}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        try:
            await asyncio.wait_for(app(_scope("/predict", 10_000), receive, send), HANG_GUARD)
        finally:
            await app.state.serve.batcher.aclose()

    asyncio.run(scenario())
    assert status == [408]


def test_a_stalled_body_yields_its_share_to_a_body_that_needs_it() -> None:
    app = _budget_app(1 * MiB, stall=0.2)
    staller = Client([b"[" + b"1," * (MiB // 2 - 2) + b"1"], stall=True)  # 2 bytes left
    normal = Client([b"[1.0, 2.0]"], stall=False)

    async def scenario() -> None:
        try:
            stalled = asyncio.ensure_future(
                app(_scope("/predict", MiB), staller.receive, staller.send)
            )
            await staller.delivered.wait()
            await asyncio.sleep(0.3)  # idle past the stall mark
            assert app.state.serve.body_budget.held == MiB - 2
            await asyncio.wait_for(
                app(_scope("/predict", 10), normal.receive, normal.send), HANG_GUARD
            )
            await asyncio.wait_for(stalled, HANG_GUARD)
        finally:
            await app.state.serve.batcher.aclose()

    asyncio.run(scenario())
    assert normal.status == 200, normal.body
    assert json.loads(normal.body) == [1.0, 2.0]
    assert staller.status == 408
    assert "stalled" in json.loads(staller.body)["error"]
    assert app.state.serve.body_budget.held == 0


def test_a_body_arriving_in_time_is_not_evicted() -> None:
    # The budget is full but its holder is still sending: the newcomer gets 429, not the holder.
    app = _budget_app(1 * MiB, stall=30.0)
    holder = Client([b"[" + b"1," * (MiB // 2 - 2) + b"1"], stall=True)  # 2 bytes left
    newcomer = Client([b"[1.0, 2.0]"], stall=False)

    async def scenario() -> None:
        try:
            held = asyncio.ensure_future(app(_scope("/predict", MiB), holder.receive, holder.send))
            await holder.delivered.wait()
            await asyncio.sleep(0.05)
            await asyncio.wait_for(
                app(_scope("/predict", 10), newcomer.receive, newcomer.send), HANG_GUARD
            )
            held.cancel()
        finally:
            await app.state.serve.batcher.aclose()

    asyncio.run(scenario())
    assert newcomer.status == 429
    assert holder.status is None


# ---- also looked at: what unauthenticated routes show and do ------------------------------------


def _alias_app(tmp_path: Path) -> Any:
    shelf = Shelf((tmp_path / "store").as_uri(), cache_dir=tmp_path / "cache")
    register_model("team/svc", LinearRunner, {"x": 1.0, "bias": 0.0}, store=shelf)
    register_model("team/svc", LinearRunner, {"x": 2.0, "bias": 0.0}, store=shelf)
    register_model("team/other", LinearRunner, {"x": 9.0, "bias": 0.0}, store=shelf)
    shelf.set_alias("team/svc@prod", "1.0")
    return create_app("team/svc@prod", store=shelf, options=ServeOptions(poll_interval=0))


def test_metadata_shows_no_local_path(tmp_path: Path) -> None:
    # Decision: /metadata is unauthenticated; the cache folder (user name, layout) is not the
    # client's business. The store URL stays (which store serves is the operator's question,
    # and Shelf.url never holds a password).
    with TestClient(_alias_app(tmp_path)) as client:
        meta = client.get("/metadata").json()
    assert str(tmp_path / "cache") not in json.dumps(meta)
    assert "path" not in meta["model"]
    assert meta["store"] == (tmp_path / "store").as_uri()


def test_load_takes_nothing_from_the_client(tmp_path: Path) -> None:
    # Decision: the load route only re-checks the spec the server was started with; a body,
    # a query or another model name cannot make it load anything else.
    app = _alias_app(tmp_path)
    with TestClient(app) as client:
        for attempt in (
            client.post("/v2/repository/models/svc/load", json={"spec": "team/other:1"}),
            client.post("/v2/repository/models/svc/load?spec=team/other:1"),
        ):
            assert attempt.status_code == 200 and attempt.json()["version"] == "1.0"
        other = client.post("/v2/repository/models/other/load")
        assert other.status_code == 404
        assert client.post("/predict", json=[{"x": 1}]).json() == [1.0]


def test_concurrent_load_calls_share_one_check(tmp_path: Path) -> None:
    # Every unauthenticated call used to resolve against the store in turn: N callers, N
    # store round trips (and N loads when the alias moves). Callers that arrive while a check
    # runs now share the next one.
    app = _alias_app(tmp_path)
    follower = app.state.serve.follower
    original = follower.check_now
    calls: list[int] = []

    def counted() -> Any:
        calls.append(1)
        time.sleep(0.2)  # a slow store: the other callers arrive meanwhile
        return original()

    follower.check_now = counted

    async def scenario() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answers = await asyncio.gather(
                *(client.post("/v2/repository/models/svc/load") for _ in range(10))
            )
        await app.state.serve.batcher.aclose()
        return [answer.status_code for answer in answers]

    assert asyncio.run(scenario()) == [200] * 10
    assert len(calls) <= 2, f"{len(calls)} store checks for 10 concurrent load calls"


def test_a_failed_load_answers_the_one_line_error_shown_on_metadata(tmp_path: Path) -> None:
    # Decision: the load route is for deploy tools, which need the reason; it answers the
    # same one-line error /metadata shows (the store URL as Shelf.url shows it: never with a
    # password), never a traceback, and the old version keeps serving.
    app = _alias_app(tmp_path)
    shelf = Shelf((tmp_path / "store").as_uri(), cache_dir=tmp_path / "other-cache")
    with TestClient(app) as client:
        shelf.set_alias("team/svc@prod", "1.1")
        for blob in (tmp_path / "store").rglob("*"):
            if blob.is_file() and "blobs" in blob.parts:
                blob.write_bytes(b"junk")  # 1.1's files are damaged in the store
        answer = client.post("/v2/repository/models/svc/load")
        assert answer.status_code == 500
        error = answer.json()["error"]
        assert "1.1 failed to load" in error and "\n" not in error
        assert "Traceback" not in answer.text
        assert client.get("/metadata").json()["last_swap_error"] == error
        assert client.post("/predict", json=[{"x": 1}]).headers["x-model-version"] == "1.0"


def test_a_request_s_decoded_input_is_freed_with_its_answer() -> None:
    # The budget is given back after the answer, so the decoded input must be gone by then:
    # the batcher's collector held the last batch (and its ~60 MiB of lists) until the next.
    import tracemalloc

    class Len:
        def predict(self, data: Any) -> Any:
            return len(data)

    body = b"[" + b"[[]]," * (2 * MiB // 5) + b"[]]"
    with TestClient(create_app(model=Len(), name="len")) as client:
        client.post("/predict", content=b"[1]")
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            assert client.post("/predict", content=body).json() == 2 * MiB // 5 + 1
            # The worker thread drops its last reference to the batch a moment after the
            # answer is handed over (the executor's work item); a collector that keeps the
            # batch until the next one never lets go. So wait a little, never long.
            pause = threading.Event()
            for _ in range(200):
                kept = tracemalloc.get_traced_memory()[0] - before
                if kept < 4 * MiB:
                    break
                pause.wait(0.025)
        finally:
            tracemalloc.stop()
    assert kept < 4 * MiB, f"{kept / MiB:.0f} MiB of the request still held after its answer"
