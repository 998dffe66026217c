"""Call a running server with the kserve client (InferenceRESTClient, protocol v2); print JSON.

Runs in `.venv-kserve` (kserve==0.16.0), never in the project's venv. Usage:

    kserve_client.py URL MODEL

Prints one JSON line: the answers of is_server_live, is_server_ready, is_model_ready (of MODEL
and of a model that does not exist), an infer with JSON data, an infer with binary data
(kserve's ``application/octet-stream`` body), and the error of an infer on an unknown model.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import httpx
import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig


def _response(res: Any, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "model_name": res.model_name,
        "id": res.id,
        "model_version_header": headers.get("x-model-version"),
        "outputs": [
            {
                "name": out.name,
                "datatype": out.datatype,
                "shape": list(out.shape),
                "data": np.asarray(out.as_numpy()).ravel().tolist(),
            }
            for out in res.outputs
        ],
    }


async def main(url: str, model: str) -> dict[str, Any]:
    x = np.array([[1.0, 2.0], [3.0, 4.5]], dtype=np.float32)
    client = InferenceRESTClient(RESTConfig(protocol="v2", retries=0, timeout=60))
    result: dict[str, Any] = {}
    try:
        result["live"] = await client.is_server_live(url)
        result["ready"] = await client.is_server_ready(url)
        result["model_ready"] = await client.is_model_ready(url, model)
        result["unknown_model_ready"] = await client.is_model_ready(url, "no-such-model")

        tensor = InferInput("x", list(x.shape), "FP32")
        tensor.set_data_from_numpy(x, binary_data=False)
        headers: dict[str, str] = {}
        res = await client.infer(
            url, InferRequest(model, [tensor], request_id="kserve-json-1"),
            model_name=model, response_headers=headers,
        )  # fmt: skip
        result["infer_json"] = _response(res, headers)

        tensor = InferInput("x", list(x.shape), "FP32")
        tensor.set_data_from_numpy(x, binary_data=True)
        headers = {}
        res = await client.infer(
            url, InferRequest(model, [tensor], request_id="kserve-bin-1"),
            model_name=model, response_headers=headers,
        )  # fmt: skip
        result["infer_binary"] = _response(res, headers)

        tensor = InferInput("x", list(x.shape), "FP32")
        tensor.set_data_from_numpy(x, binary_data=False)
        try:
            await client.infer(
                url, InferRequest("no-such-model", [tensor]), model_name="no-such-model"
            )
            result["unknown_infer"] = {"raised": False}
        except httpx.HTTPStatusError as exc:
            result["unknown_infer"] = {
                "raised": True,
                "status": exc.response.status_code,
                "message": str(exc),
            }
    finally:
        await client.close()
    return result


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2]))))
