"""The serve decoder bounds (issue 20, item 6): what a body is charged before decoding is never
less than what decoding it holds, whatever JSON or BYTES tensors a client builds.

Memory is measured with tracemalloc (the objects the decoded value keeps), so the bound is
checked exactly, not by timing or RSS. Through the app, a body whose estimate passes a small
budget is refused before it is decoded, and every answer gives its reservation back.
"""

from __future__ import annotations

import json
import struct
import tracemalloc
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelshelf.serve._cost import json_cost
from modelshelf.serve._oip import parse_infer_request

pytestmark = pytest.mark.property

SLACK = 4096  # what tracemalloc itself and the decoder's first call allocate, whatever the body

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=4), inner, max_size=6)
    ),
    max_leaves=60,
)
# The cheapest bodies per object: repeated thousands of times they show the worst ratios.
_ASCII_UNITS = ["{}", "[]", '""', '"ab"', "0", "1e5", "-1", '{"a":0}', "[[]]", '{"k":{}}']
# Non-ASCII text: strings of 2 or 4 bytes a character, and a wider decoded text.
_WIDE_UNITS = ['"\u0101"', '"\u4e2d"', '"\U0001f600"', '"\u0101\u0101"', '{"\u0101":[]}']
units = st.sampled_from([*_ASCII_UNITS, '{"a":[]}', "[{}]", *_WIDE_UNITS])


def _held(function: Any, *args: Any) -> int:
    """The most bytes allocated at once while ``function(*args)`` ran (the decoded text and
    the objects), over what was allocated before (a first untraced call warms the caches)."""
    function(*args)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = function(*args)
        held = tracemalloc.get_traced_memory()[1] - before
        del result
        return held
    finally:
        tracemalloc.stop()


def _decode(body: bytes) -> Any:
    return json.loads(body.decode("utf-8"))


@settings(max_examples=150, deadline=None)
@given(value=json_values, compact=st.booleans(), ascii_only=st.booleans())
def test_json_cost_bounds_any_value(value: Any, compact: bool, ascii_only: bool) -> None:
    separators = (",", ":") if compact else None
    body = json.dumps(value, separators=separators, ensure_ascii=ascii_only).encode()
    assert json_cost(body) + SLACK >= _held(_decode, body)


@settings(max_examples=60, deadline=None)
@given(unit=units, count=st.integers(1, 20_000), distinct_keys=st.booleans(), wide=st.booleans())
def test_json_cost_bounds_repeated_cheap_objects(
    unit: str, count: int, distinct_keys: bool, wide: bool
) -> None:
    if distinct_keys:  # keys that the decoder cannot share
        text = "{" + ",".join(f'"k{i}":{unit}' for i in range(count)) + "}"
    else:
        text = "[" + ",".join([unit] * count) + "]"
    if wide:  # one astral character makes the whole decoded text 4 bytes a character
        text = (
            text[:-1] + (',"\U0001f600"' if not distinct_keys else ',"w":"\U0001f600"') + text[-1]
        )
    body = text.encode()
    assert json_cost(body) + SLACK >= _held(_decode, body)


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 3), min_size=1000, max_size=5000))
def test_bytes_tensor_charge_bounds_what_it_builds(sizes: list[int]) -> None:
    tensors = b"".join(struct.pack("<I", size) + b"x" * size for size in sizes)
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "t",
                    "datatype": "BYTES",
                    "shape": [len(sizes)],
                    "parameters": {"binary_data_size": len(tensors)},
                }
            ]
        }
    ).encode()
    charged: list[int] = []
    held = _held(lambda: parse_infer_request(header + tensors, len(header), charge=charged.append))
    assert sum(charged) + SLACK >= held


class _Echo:
    def predict(self, data: Any) -> Any:
        return data


@pytest.fixture(scope="module")
def small_budget_client() -> Any:
    from starlette.testclient import TestClient

    from modelshelf.serve import create_app

    app = create_app(model=_Echo(), name="echo")
    state = app.state.serve
    state.body_budget = type(state.body_budget)(64 * 1024)
    with TestClient(app) as client:
        yield client, state.body_budget


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(unit=units, count=st.integers(0, 6000), route=st.sampled_from(["predict", "infer"]))
def test_a_body_is_answered_within_the_budget_and_gives_it_back(
    small_budget_client: Any, unit: str, count: int, route: str
) -> None:
    client, budget = small_budget_client
    values = "[" + ",".join([unit] * count) + "]"
    if route == "predict":
        response = client.post("/predict", content=values.encode())
    else:
        tensor = f'{{"name":"x","datatype":"BYTES","shape":[{count}],"data":{values}}}'
        body = f'{{"inputs":[{tensor}]}}'
        response = client.post("/v2/models/echo/infer", content=body.encode())
    assert response.status_code in {200, 400, 413}, response.text[:300]
    if response.status_code == 413:
        assert "budget" in response.json()["error"] or "limit" in response.json()["error"]
    if json_cost(values.encode()) + len(values) > budget.limit:
        assert response.status_code in {400, 413}  # never decoded past the budget
    assert budget.held == 0
