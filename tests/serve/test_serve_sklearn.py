"""A real scikit-learn model served from the registry and from a local file, called by clients.

The answers must equal the estimator's own ``predict`` in this process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.http as httpclient
from tests.serve.helpers import StartServer
from tests.servers.serve_process import ServeProcess

import modelshelf

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fitted() -> tuple[Any, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(7)
    x = rng.normal(size=(80, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    return LogisticRegression().fit(x, y), rng.normal(size=(6, 4))


def _triton_predict(server: ServeProcess, model: str, rows: np.ndarray) -> tuple[np.ndarray, dict]:
    client = httpclient.InferenceServerClient(server.host_port, network_timeout=60.0)
    try:
        tensor = httpclient.InferInput("input-0", list(rows.shape), "FP64")
        tensor.set_data_from_numpy(rows)  # binary, tritonclient's default
        result = client.infer(model, [tensor])
        response = result.get_response()
        return result.as_numpy(response["outputs"][0]["name"]), response
    finally:
        client.close()


def test_registered_sklearn_model(
    fitted: tuple[Any, np.ndarray], store_url: str, start_server: StartServer
) -> None:
    estimator, rows = fitted
    version = modelshelf.register_sklearn_model(
        "team/clf", estimator, version="1", store=store_url, progress=False
    ).version
    server = start_server("team/clf:1")
    got, response = _triton_predict(server, "clf", rows)
    assert response["model_version"] == version
    np.testing.assert_array_equal(got.ravel(), estimator.predict(rows))
    answer = httpx.post(
        f"{server.url}/predict", json=rows.tolist(), timeout=60.0, trust_env=False
    )  # an ndarray prediction comes back as JSON
    assert answer.status_code == 200, answer.text
    assert answer.json() == estimator.predict(rows).tolist()


def test_local_skops_file_with_a_name(
    fitted: tuple[Any, np.ndarray], tmp_path: Path, start_server: StartServer
) -> None:
    import skops.io

    estimator, rows = fitted
    path = tmp_path / "clf.skops"
    skops.io.dump(estimator, path)
    server = start_server(str(path), "--name", "iris")
    got, response = _triton_predict(server, "iris", rows)
    assert response["model_name"] == "iris"
    np.testing.assert_array_equal(got.ravel(), estimator.predict(rows))
