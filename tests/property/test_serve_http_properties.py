"""Whatever a client sends, the server answers with a status and a JSON body, never a traceback,
and keeps serving."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from modelshelf.serve import create_app

pytestmark = pytest.mark.property


class Echo:
    """Returns its input: every well-formed body has an answer."""

    def predict(self, data: Any) -> Any:
        return data


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(model=Echo(), name="echo")) as test_client:
        yield test_client


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)

tensor_like = st.fixed_dictionaries(
    {
        "inputs": st.lists(
            st.fixed_dictionaries(
                {
                    "name": st.text(max_size=5),
                    "shape": st.lists(st.integers(-2, 5), max_size=3),
                    "datatype": st.sampled_from(["FP32", "INT64", "BYTES", "BOOL", "BF16", "X"]),
                    "data": json_values,
                }
            ),
            max_size=3,
        )
    }
)


def check(response: Any) -> None:
    assert response.status_code in {200, 400, 404, 413, 500}, response.text
    payload = response.json()  # always JSON
    assert "Traceback" not in response.text
    if response.status_code >= 400:
        assert isinstance(payload, dict) and isinstance(payload["error"], str)
        assert payload["error"]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_predict_answers_any_body(client: TestClient, body: bytes) -> None:
    check(client.post("/predict", content=body))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(max_size=200)
    | json_values.map(lambda v: json.dumps(v).encode())
    | tensor_like.map(lambda v: json.dumps(v).encode()),
    header=st.none() | st.integers(-5, 300).map(str) | st.text(max_size=4),
)
def test_infer_answers_any_body(client: TestClient, body: bytes, header: str | None) -> None:
    headers = {}
    if header is not None and header.isascii() and header.isprintable():
        headers["Inference-Header-Content-Length"] = header
    response = client.post("/v2/models/echo/infer", content=body, headers=headers)
    check(response)
    if response.status_code == 200:
        assert response.json()["model_name"] == "echo"
    # Still serving.
    assert client.get("/v2/health/ready").json() == {"ready": True, "version": "memory"}
