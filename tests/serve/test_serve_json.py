"""Our JSON face over HTTP (httpx) against the real `modelshelf serve` process.

The model is ``shop/pricer`` (JsonRunner, factor 2): numbers times 2, ``"boom"`` raises
RuntimeError, a string where a number belongs raises ValueError.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.serve.helpers import Register, StartServer
from tests.serve.runners import JsonRunner
from tests.servers.serve_process import ServeProcess

pytestmark = pytest.mark.integration


@pytest.fixture
def server(tmp_path: Path, register: Register, start_server: StartServer) -> ServeProcess:
    register("shop/pricer", JsonRunner, {"factor": 2, "dir": tmp_path})
    return start_server("shop/pricer:1")


@pytest.fixture
def client(server: ServeProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60.0, trust_env=False) as http:
        yield http


def _assert_error(response: httpx.Response, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict)
    assert isinstance(body.get("error"), str)
    assert body["error"]
    assert "Traceback" not in response.text
    return body


def test_predict_one_and_a_list(client: httpx.Client) -> None:
    one = client.post("/predict", json=21)
    assert one.status_code == 200, one.text
    assert one.json() == 42
    assert one.headers["x-model-version"] == "1.0"
    assert one.headers["x-request-id"]
    many = client.post("/predict", json=[1, 2.5, -3])
    assert many.status_code == 200, many.text
    assert many.json() == [2, 5.0, -6]
    assert many.headers["x-request-id"] != one.headers["x-request-id"]


def test_health_ready_and_metadata(client: httpx.Client) -> None:
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code == 200
    meta = client.get("/metadata")
    assert meta.status_code == 200, meta.text
    text = meta.text
    body = meta.json()
    assert "shop/pricer" in text  # the asset
    assert "1.0" in text  # the active version
    assert "tests.serve.runners:JsonRunner" in text  # the runner
    assert "json-test" in text  # the engine
    assert isinstance(body, dict)


def test_openapi_and_docs(client: httpx.Client) -> None:
    spec = client.get("/openapi.json")
    assert spec.status_code == 200, spec.text
    paths = spec.json()["paths"]
    assert "/predict" in paths
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]


@pytest.mark.parametrize(
    "body", [b"{not json", b"", b"[1, 2", b"\xff\xfe"], ids=["brace", "empty", "open", "binary"]
)
def test_invalid_json_is_400_with_a_json_error(client: httpx.Client, body: bytes) -> None:
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    _assert_error(response, 400)


def test_a_body_the_runner_rejects_is_400(client: httpx.Client) -> None:
    body = _assert_error(client.post("/predict", json="forty"), 400)
    assert "forty" in body["error"]


def test_runner_exception_is_500_with_request_id_and_the_server_keeps_serving(
    client: httpx.Client, server: ServeProcess
) -> None:
    failed = client.post("/predict", json="boom")
    body = _assert_error(failed, 500)
    assert body.get("request_id")
    assert failed.headers.get("x-request-id", body["request_id"]) == body["request_id"]
    # The request id is in the server's log, with the failure.
    log = server.log()
    assert body["request_id"] in log
    again = client.post("/predict", json=5)
    assert again.status_code == 200, again.text
    assert again.json() == 10


def _json_lines(text: str) -> list[dict[str, object]]:
    lines = []
    for line in text.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict):
            lines.append(doc)
    return lines


def test_access_log_has_one_json_line_per_request_with_its_id(
    client: httpx.Client, server: ServeProcess
) -> None:
    ids = [client.post("/predict", json=n).headers["x-request-id"] for n in range(3)]
    deadline = time.monotonic() + 30.0
    while True:
        lines = _json_lines(server.log())
        found = [d for d in lines if set(ids) & {str(v) for v in d.values()}]
        if len(found) >= len(ids) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for request_id in ids:
        [line] = [d for d in found if request_id in {str(v) for v in d.values()}]
        values = {str(v) for v in line.values()}
        assert "/predict" in values, line
        assert "200" in values, line
