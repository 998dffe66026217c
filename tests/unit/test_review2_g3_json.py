"""``NaN``, ``Infinity`` and ``1e999`` in a request body or ``predict`` input are refused as
not JSON (issue 21, second review, finding 5).

Class of fault: outside JSON decoded by ``json.loads``, which reads these non-JSON literals as
nan/inf; the model then answered and the server failed with a 500 ("output holds NaN or
infinity"). Both faces of the server and the CLI now decode with the store's own reader
(:func:`modelshelf._bounds.loads_json`): a 400 / one error line naming the literal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient
from tests import models_fixtures as mfx

from modelshelf import register_model
from modelshelf._bounds import NonFiniteError, loads_json
from modelshelf.cli.main import main
from modelshelf.serve import create_app

LITERALS = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1" + "0" * 400 + ".0"]


class Echo:
    """Answers what it is given: a nan in the input would be a nan in the answer."""

    def predict(self, data: Any) -> Any:
        return data


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(model=Echo(), name="svc")) as test_client:
        yield test_client


@pytest.mark.parametrize("literal", LITERALS)
def test_the_json_face_refuses_a_non_finite_number_with_400(
    client: TestClient, literal: str
) -> None:
    response = client.post("/predict", content=f"[1.5, {literal}]".encode())
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith("the body is not JSON"), response.text
    assert client.post("/predict", content=b"[1.5, 1e308]").json() == [1.5, 1e308]


@pytest.mark.parametrize("literal", LITERALS)
@pytest.mark.parametrize("binary", [False, True])
def test_the_oip_face_refuses_a_non_finite_number_with_400(
    client: TestClient, literal: str, binary: bool
) -> None:
    header = (
        '{"inputs": [{"name": "x", "shape": [2], "datatype": "FP64", "data": [1.5, '
        + literal
        + "]}]}"
    ).encode()
    headers = {"Inference-Header-Content-Length": str(len(header))} if binary else {}
    response = client.post("/v2/models/svc/infer", content=header, headers=headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error.startswith(("the request body is not JSON: ", "the first ")), error
    assert "is not JSON: " in error and "finite number" in error, error
    # A NaN in a parameter (no tensor at all) is refused as well.
    body = b'{"parameters": {"t": NaN}, "inputs": []}'
    assert client.post("/v2/models/svc/infer", content=body).status_code == 400


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False),
        lambda inner: st.lists(inner, max_size=4),
        max_leaves=10,
    ),
    st.sampled_from(LITERALS),
    st.integers(min_value=0),
)
def test_a_literal_anywhere_is_refused_and_finite_json_is_read(
    value: Any, literal: str, where: int
) -> None:
    text = json.dumps([value])
    assert loads_json(text) == json.loads(text)
    assert loads_json(text.encode()) == json.loads(text)
    # Planted where a value may stand: after '[' or ','.
    spots = [i + 1 for i, c in enumerate(text) if c in "[,"]
    spot = spots[where % len(spots)]
    planted = text[:spot] + literal + ("," if text[spot] not in "]" else "") + text[spot:]
    with pytest.raises(NonFiniteError):
        loads_json(planted)


@pytest.mark.parametrize("literal", LITERALS)
def test_predict_refuses_a_non_finite_number_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], literal: str
) -> None:
    register_model("demo/lin", mfx.LinearRunner, {"x": 2.0, "bias": 1.0})
    source = tmp_path / "x.json"
    source.write_text(f'[{{"x": {literal}}}]')
    code = main(["predict", "demo/lin", "--input", str(source)])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.startswith(f"error: the input {source} is not JSON: ") and err.count("\n") == 1, err
    code = main(["predict", "demo/lin", "--input", str(source), "--json"])
    out, err = capsys.readouterr()
    assert code == 1 and "not JSON" in json.loads(err)["error"]
    source.write_text('[{"x": 1.5}]')
    assert main(["predict", "demo/lin", "--input", str(source)]) == 0
