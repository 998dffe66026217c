"""The kserve client (kserve==0.16.0, InferenceRESTClient, protocol v2) against the real server.

It runs as a script in its own virtualenv (`.venv-kserve`, built by `make test`) and prints
what it got. The kserve client parses the health bodies (it crashes on an empty one), needs
``model_name`` in infer responses, and sends binary bodies as ``application/octet-stream``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.serve.helpers import OIP_FACTOR, OIP_MODEL, run_client
from tests.servers.serve_process import ServeProcess

pytestmark = pytest.mark.integration

X = [[1.0, 2.0], [3.0, 4.5]]


def test_kserve_client_health_readiness_and_infer(
    kserve_python: Path,
    oip_server: ServeProcess,  # the skip comes before the server starts
) -> None:
    got = run_client(kserve_python, "kserve_client.py", [oip_server.url, OIP_MODEL])
    assert got["live"] is True
    assert got["ready"] is True
    assert got["model_ready"] is True
    assert got["unknown_model_ready"] is False
    expected = [v * OIP_FACTOR for row in X for v in row]
    for kind, request_id in (("infer_json", "kserve-json-1"), ("infer_binary", "kserve-bin-1")):
        answer = got[kind]
        assert answer["model_name"] == OIP_MODEL, kind
        assert answer["id"] == request_id, kind
        [output] = answer["outputs"]
        assert output["datatype"] == "FP32", kind
        assert output["shape"] == [2, 2], kind
        assert output["data"] == expected, kind
    unknown = got["unknown_infer"]
    assert unknown["raised"] is True
    assert unknown["status"] == 404
    assert "no-such-model" in unknown["message"]  # our {"error"} message, read by the client
