"""The routes of both faces: our JSON (``/predict``, ``/health``, ``/ready``, ``/metadata``) and the
Open Inference Protocol V2 (``/v2/...``), plus ``/metrics``.

A prediction is admitted only while the queue has room (429 before its body is read), its body
read within the limits (:mod:`modelshelf.serve._http`), decoded, queued on the batcher with the
per-request timeout, and every outcome mapped to one status and the ``{"error": ...}`` body.
Clients of the protocol send no Content-Type, so none is required.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

import modelshelf
from modelshelf.models.signature import Signature
from modelshelf.serve import _oip
from modelshelf.serve._access import request_id_of
from modelshelf.serve._body import Charge, RefusedError, charger, clip, read_body
from modelshelf.serve._errors import error_response
from modelshelf.serve._http import (
    OFF_LOOP_BYTES,
    dump_json,
    header_length,
    in_codec_thread,
    looks_large,
    parse_json,
)
from modelshelf.serve._metrics import CONTENT_TYPE
from modelshelf.serve._outcomes import Answer, QueueFull, RejectedInput, RunnerFailed
from modelshelf.serve._signature_check import checked
from modelshelf.serve._slot import NotReadyError
from modelshelf.serve._state import ServeState
from modelshelf.serve._tensors import InferenceRequestError, OutputEncodingError

__all__ = ["add_routes"]

log = logging.getLogger("modelshelf.serve")


def add_routes(app: FastAPI, state: ServeState) -> None:
    """Register every route of both faces on ``app``."""
    name = state.source.name

    async def run(
        request: Request, route: str, work: Callable[[], Awaitable[Response]]
    ) -> Response:
        scope_state = request.scope.setdefault("state", {})
        scope_state["route"] = route
        try:
            await state.start()
            return await work()
        except RefusedError as exc:
            return error_response(exc.status, exc.message, request_id_of(request), exc.headers)
        except ClientDisconnect:  # nobody to answer; not the server's fault
            return Response(status_code=499)
        finally:
            state.body_budget.give_back(scope_state.pop("body_reserved", 0))

    def admit() -> None:
        """429 before the body is read when the queue is full: a refused body is never held."""
        if state.batcher.pending >= state.options.max_queue:
            raise RefusedError(
                429,
                f"{state.batcher.pending} requests are already waiting (the limit is"
                f" {state.options.max_queue}); retry shortly",
                {"Retry-After": "1"},
            )

    async def predict_answer(request: Request, data: Any) -> Answer:
        rid = request_id_of(request)
        try:
            answer = await asyncio.wait_for(
                state.batcher.submit(data, request_id=rid), state.options.timeout
            )
        except QueueFull as exc:
            retry = max(1, round(exc.retry_after))
            raise RefusedError(429, exc.message, {"Retry-After": str(retry)}) from None
        except TimeoutError:
            raise RefusedError(
                504, f"no prediction within {state.options.timeout:g} s (request id {rid})"
            ) from None
        except RejectedInput as exc:
            raise RefusedError(400, exc.message) from None
        except RunnerFailed as exc:
            raise RefusedError(500, f"{exc.message} (request id {rid})") from None
        except NotReadyError as exc:
            raise RefusedError(503, str(exc)) from None
        request.scope["state"]["model_version"] = answer.version
        return answer

    async def body_of(request: Request) -> bytes:
        return await read_body(
            request,
            state.options.max_body_bytes,
            state.body_budget,
            timeout=state.body_timeout,
            min_rate=state.body_min_rate,
        )

    # ---- our JSON face -------------------------------------------------------------------
    async def predict(request: Request) -> Response:
        async def work() -> Response:
            admit()
            body = await body_of(request)
            charge = charger(request, state.body_budget)
            data = await in_codec_thread(len(body) > OFF_LOOP_BYTES, parse_json, body, charge)
            answer = await predict_answer(request, data)
            try:
                text = await in_codec_thread(looks_large(answer.output), dump_json, answer.output)
            except (TypeError, ValueError) as exc:
                rid = request_id_of(request)
                log.error("request %s: the prediction is not JSON: %s", rid, exc)
                raise RefusedError(
                    500,
                    f"the prediction is not JSON (request id {rid}); postprocess_data should"
                    " return lists, dicts, text and finite numbers",
                ) from None
            headers = {"X-Model-Version": answer.version}
            return Response(text, media_type="application/json", headers=headers)

        return await run(request, "predict", work)

    async def health(request: Request) -> Response:
        request.scope.setdefault("state", {})["route"] = "health"
        return JSONResponse({"live": True})

    async def ready(request: Request) -> Response:
        request.scope.setdefault("state", {})["route"] = "health"
        await state.start()  # a mounted app gets no lifespan: its first probe starts the load
        active = state.slot.active
        if active is None:
            return JSONResponse(
                {"ready": False, "error": f"the model {name} is not loaded yet"}, status_code=503
            )
        return JSONResponse({"ready": True, "version": active.version})

    async def metadata(request: Request) -> Response:
        request.scope.setdefault("state", {})["route"] = "metadata"
        active = state.slot.active
        follower = state.follower
        return JSONResponse(
            {
                "name": name,
                "asset": state.source.asset,
                "spec": state.source.spec,
                "store": state.source.store,
                "version": None if active is None else active.version,
                "model": None if active is None else _public(active.metadata),
                "draining": state.slot.draining,
                "following": follower is not None,
                "poll_interval": None if follower is None else follower.interval,
                "last_swap_error": state.slot.last_swap_error,
                "batching": {
                    "max_batch_size": state.options.max_batch_size,
                    "max_batch_delay_ms": state.options.max_batch_delay_ms,
                },
                "server": {"modelshelf": modelshelf.__version__},
            }
        )

    async def metrics(request: Request) -> Response:
        request.scope.setdefault("state", {})["route"] = "metrics"
        return Response(state.metrics.render(), media_type=CONTENT_TYPE)

    # ---- Open Inference Protocol V2 ------------------------------------------------------
    def check_model(model_name: str, version: str | None) -> None:
        if model_name != name:
            raise RefusedError(
                404, f"unknown model '{clip(model_name)}'; this server serves '{name}'"
            )
        if version is not None:
            active = state.slot.active
            current = None if active is None else active.version
            if version != current:
                raise RefusedError(
                    404,
                    f"version '{clip(version)}' of {name} is not served; the active version"
                    f" is {current}",
                )

    async def v2_server(request: Request) -> Response:
        request.scope.setdefault("state", {})["route"] = "v2"
        return JSONResponse(
            {
                "name": "modelshelf",
                "version": modelshelf.__version__,
                "extensions": ["binary_tensor_data", "model_repository"],
            }
        )

    async def v2_live(request: Request) -> Response:
        request.scope.setdefault("state", {})["route"] = "health"
        return JSONResponse({"live": True})

    async def v2_ready(request: Request) -> Response:
        return await ready(request)

    async def v2_model(request: Request, model_name: str, version: str | None = None) -> Response:
        async def work() -> Response:
            check_model(model_name, version)
            active = state.slot.active
            meta = {} if active is None else active.metadata
            signature = None if active is None else active.signature
            return JSONResponse(
                {
                    "name": name,
                    "versions": [] if active is None else [active.version],
                    "platform": str(meta.get("engine") or "modelshelf"),
                    "inputs": [t.to_dict() for t in signature.inputs] if signature else [],
                    "outputs": [t.to_dict() for t in signature.outputs] if signature else [],
                }
            )

        return await run(request, "v2_model", work)

    async def v2_model_ready(
        request: Request, model_name: str, version: str | None = None
    ) -> Response:
        async def work() -> Response:
            check_model(model_name, version)
            ok = state.slot.active is not None
            body: dict[str, Any] = {"name": name, "ready": ok}
            if not ok:
                body["error"] = f"the model {name} is not loaded yet"
            return JSONResponse(body, status_code=200 if ok else 503)

        return await run(request, "health", work)

    async def v2_infer(request: Request, model_name: str, version: str | None = None) -> Response:
        async def work() -> Response:
            check_model(model_name, version)
            admit()
            body = await body_of(request)
            length = header_length(request)
            charge = charger(request, state.body_budget)
            # Checked against the active version's signature and cast to it before queueing
            # (a swap in between runs it on the new version, whose own errors then apply).
            active = state.slot.active
            signature = None if active is None else active.signature
            try:
                parsed = await in_codec_thread(
                    len(body) > OFF_LOOP_BYTES, _parse_infer, body, length, charge, signature, name
                )
            except InferenceRequestError as exc:
                raise RefusedError(400, str(exc)) from None
            answer = await predict_answer(request, _oip.runner_input(parsed))
            if version is not None and answer.version != version:
                raise RefusedError(
                    404,
                    f"version '{clip(version)}' of {name} was swapped out while the request"
                    f" waited; the active version is {answer.version}",
                )
            try:
                payload = await in_codec_thread(
                    looks_large(answer.output),
                    _encode_response,
                    answer,
                    name,
                    parsed.id,
                    parsed.outputs,
                )
            except InferenceRequestError as exc:
                raise RefusedError(400, str(exc)) from None
            except OutputEncodingError as exc:
                rid = request_id_of(request)
                log.error("request %s: the output cannot be encoded as tensors: %s", rid, exc)
                raise RefusedError(500, f"{exc} (request id {rid})") from None
            return Response(payload, media_type="application/json")

        return await run(request, "v2_infer", work)

    async def v2_load(request: Request, model_name: str) -> Response:
        async def work() -> Response:
            check_model(model_name, None)
            follower = state.follower
            if follower is None or state.slot.active is None:  # not followed, or not loaded yet
                active = state.slot.active
                version = None if active is None else active.version
                return JSONResponse({"name": name, "version": version, "swapped": False})
            # One thread at a time: more callers wait here on the loop, not in threads; and a
            # check that started after a caller arrived answers it too, so that N clients
            # cost one store round trip, not N.
            arrived = time.monotonic()
            async with state.load_lock:
                last = state.last_check
                if last is not None and last[0] >= arrived:
                    result = last[1]
                else:
                    started = time.monotonic()
                    result = await asyncio.to_thread(follower.check_now)
                    state.last_check = (started, result)
            if result.error is not None:
                raise RefusedError(500, result.error)
            return JSONResponse(
                {"name": name, "version": result.version, "swapped": result.swapped}
            )

        return await run(request, "v2_load", work)

    add = app.add_api_route
    add("/predict", predict, methods=["POST"], summary="Predict: JSON in, JSON out")
    add("/health", health, methods=["GET"], summary="Liveness")
    add("/ready", ready, methods=["GET"], summary="Readiness: the model is loaded")
    add("/metadata", metadata, methods=["GET"], summary="The served version and its model")
    add("/metrics", metrics, methods=["GET"], summary="Prometheus metrics of every worker")
    add("/v2", v2_server, methods=["GET"], summary="OIP: server metadata")
    add("/v2/health/live", v2_live, methods=["GET"], summary="OIP: liveness")
    add("/v2/health/ready", v2_ready, methods=["GET"], summary="OIP: readiness")
    for prefix in ("/v2/models/{model_name}", "/v2/models/{model_name}/versions/{version}"):
        add(prefix, v2_model, methods=["GET"], summary="OIP: model metadata")
        add(f"{prefix}/ready", v2_model_ready, methods=["GET"], summary="OIP: model readiness")
        add(f"{prefix}/infer", v2_infer, methods=["POST"], summary="OIP: inference")
    add(
        "/v2/repository/models/{model_name}/load",
        v2_load,
        methods=["POST"],
        summary="Check the followed alias now; load and swap in a new version",
    )


def _parse_infer(
    body: bytes, length: int | None, charge: Charge, signature: Signature | None, name: str
) -> _oip.InferRequest:
    return checked(_oip.parse_infer_request(body, length, charge=charge), signature, charge, name)


def _encode_response(
    answer: Answer, model_name: str, request_id: str | None, requested: tuple[str, ...]
) -> str:
    payload = _oip.infer_response(
        answer.output,
        model_name=model_name,
        model_version=answer.version,
        request_id=request_id,
        requested=requested,
        names=[] if answer.signature is None else [t.name for t in answer.signature.outputs],
    )
    return json.dumps(payload, allow_nan=False, separators=(",", ":"))


def _public(metadata: dict[str, Any]) -> Any:
    """Metadata for any client, as JSON can carry it (objects as text), without local paths:
    where the cache lies on the server is not a client's business."""
    shown = {key: value for key, value in metadata.items() if key != "path"}
    return json.loads(json.dumps(shown, default=str))
