"""The OIP face's edges over raw HTTP, sent as the clients send them (no Content-Type).

Every error of this face must be a non-2xx status with a JSON ``{"error": ...}`` body, since
tritonclient reads nothing else; never a traceback.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator

import httpx
import pytest
from tests.serve.helpers import OIP_FACTOR, OIP_MODEL, OIP_VERSION
from tests.servers.serve_process import ServeProcess

pytestmark = pytest.mark.integration

INFER = f"/v2/models/{OIP_MODEL}/infer"


@pytest.fixture
def http(oip_server: ServeProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=oip_server.url, timeout=60.0, trust_env=False) as client:
        yield client


def _binary(header: dict[str, object], payload: bytes) -> tuple[bytes, dict[str, str]]:
    head = json.dumps(header).encode()
    return head + payload, {"Inference-Header-Content-Length": str(len(head))}


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["error"], str)
    assert "Traceback" not in response.text
    message: str = body["error"]
    return message


def test_server_metadata_and_health_bodies(http: httpx.Client) -> None:
    assert http.get("/v2/health/live").json()["live"] is True
    assert http.get("/v2/health/ready").json()["ready"] is True
    server = http.get("/v2")
    assert server.status_code == 200
    assert "name" in server.json()
    assert http.get(f"/v2/models/{OIP_MODEL}/versions/{OIP_VERSION}/ready").status_code == 200


def test_json_without_content_type(http: httpx.Client) -> None:
    body = {"inputs": [{"name": "x", "shape": [2], "datatype": "INT32", "data": [1, -2]}]}
    response = http.post(INFER, content=json.dumps(body).encode())
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["model_name"] == OIP_MODEL
    assert doc["model_version"] == OIP_VERSION
    [out] = doc["outputs"]
    expected = ("INT32", [2], [OIP_FACTOR, -2 * OIP_FACTOR])
    assert (out["datatype"], out["shape"], out["data"]) == expected


def test_nested_json_data(http: httpx.Client) -> None:
    tensor = {"name": "x", "shape": [2, 2], "datatype": "FP64", "data": [[1, 2], [3, 4]]}
    body = {"inputs": [tensor]}
    response = http.post(INFER, content=json.dumps(body).encode())
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["data"] == [v * OIP_FACTOR for v in (1.0, 2.0, 3.0, 4.0)]


def test_binary_body_with_octet_stream_content_type(http: httpx.Client) -> None:
    payload = struct.pack("<3f", 1.0, 2.0, 3.5)
    header = {
        "inputs": [
            {"name": "x", "shape": [3], "datatype": "FP32", "parameters": {"binary_data_size": 12}}
        ]
    }
    content, headers = _binary(header, payload)
    headers["Content-Type"] = "application/octet-stream"  # as the kserve client sends it
    response = http.post(INFER, content=content, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["data"] == [3.0, 6.0, 10.5]


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"{not json", {}),
        (b"", {}),
        (b'{"inputs": "x"}', {}),
        (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "BF16", "data": [1]}]}', {}),
        (b'{"inputs": [{"name": "x", "shape": [-1], "datatype": "FP32", "data": []}]}', {}),
        (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "INT8", "data": [300]}]}', {}),
        (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": ["a"]}]}', {}),
        (b'{"inputs": []}', {"Inference-Header-Content-Length": "99999"}),
        (b'{"inputs": []}', {"Inference-Header-Content-Length": "-5"}),
        (b'{"inputs": []}', {"Inference-Header-Content-Length": "abc"}),
    ],
    ids=[
        "not-json", "empty", "inputs-not-list", "bf16", "negative-dim", "int8-range",
        "text-for-fp32", "header-past-end", "negative-header", "header-not-int",
    ],
)  # fmt: skip
def test_malformed_requests_are_400(
    http: httpx.Client, content: bytes, headers: dict[str, str]
) -> None:
    _error(http.post(INFER, content=content, headers=headers), 400)


def test_bf16_error_names_the_supported_datatypes(http: httpx.Client) -> None:
    body = b'{"inputs": [{"name": "x", "shape": [1], "datatype": "BF16", "data": [1]}]}'
    message = _error(http.post(INFER, content=body), 400)
    assert "FP32" in message


def test_binary_sizes_that_do_not_add_up_are_400(http: httpx.Client) -> None:
    header = {
        "inputs": [
            {"name": "x", "shape": [3], "datatype": "FP32", "parameters": {"binary_data_size": 12}}
        ]
    }
    for payload in (b"\x00" * 8, b"\x00" * 16):  # missing bytes, leftover bytes
        content, headers = _binary(header, payload)
        _error(http.post(INFER, content=content, headers=headers), 400)


def test_unknown_requested_output_is_400(http: httpx.Client) -> None:
    body = {
        "inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}],
        "outputs": [{"name": "nope"}],
    }
    assert "nope" in _error(http.post(INFER, content=json.dumps(body).encode()), 400)


def test_unknown_routes_and_methods_answer_json_errors(http: httpx.Client) -> None:
    _error(http.get("/v2/models/no-such-model"), 404)
    _error(http.get("/v2/models/no-such-model/ready"), 404)
    assert http.get("/no/such/path").status_code == 404
    wrong = http.get(INFER)
    assert wrong.status_code == 405
    assert isinstance(wrong.json()["error"], str)
