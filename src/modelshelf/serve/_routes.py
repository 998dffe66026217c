"""The routes of both faces: our JSON (``/predict``, ``/health``, ``/ready``, ``/metadata``) and the
Open Inference Protocol V2 (``/v2/...``), plus ``/metrics``.

Request bodies are read here with the size limit, decoded (large ones off the event loop), queued
on the batcher with the per-request timeout, and every outcome is mapped to one status and the
``{"error": ...}`` body. Clients of the protocol send no Content-Type, so none is required.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

import modelshelf
from modelshelf.models._jsonable import plain
from modelshelf.serve import _oip
from modelshelf.serve._app import ServeState, error_response, request_id_of
from modelshelf.serve._batcher import Answer, QueueFull, RejectedInput, RunnerFailed
from modelshelf.serve._metrics import CONTENT_TYPE
from modelshelf.serve._slot import NotReadyError

__all__ = ["add_routes"]

log = logging.getLogger("modelshelf.serve")

# Bodies above this are decoded and encoded in a thread so the event loop keeps answering.
_OFF_LOOP_BYTES = 256 * 1024


class _RefusedError(Exception):
    """A request refused before it reached the runner: status, message and extra headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def add_routes(app: FastAPI, state: ServeState) -> None:
    """Register every route of both faces on ``app``."""
    name = state.source.name
    started = asyncio.Lock()
    is_started = False

    async def ensure_started() -> None:
        # A mounted sub-app gets no lifespan events: start on first use instead.
        nonlocal is_started
        if is_started:
            return
        async with started:
            if not is_started:
                await state.batcher.start()
                if state.follower is not None:
                    state.follower.start()
                is_started = True

    async def run(
        request: Request, route: str, work: Callable[[], Awaitable[Response]]
    ) -> Response:
        request.scope.setdefault("state", {})["route"] = route
        try:
            await ensure_started()
            return await work()
        except _RefusedError as exc:
            return error_response(exc.status, exc.message, request_id_of(request), exc.headers)

    async def predict_answer(request: Request, data: Any) -> Answer:
        rid = request_id_of(request)
        try:
            answer = await asyncio.wait_for(
                state.batcher.submit(data, request_id=rid), state.options.timeout
            )
        except QueueFull as exc:
            retry = max(1, round(exc.retry_after))
            raise _RefusedError(429, exc.message, {"Retry-After": str(retry)}) from None
        except TimeoutError:
            raise _RefusedError(
                504, f"no prediction within {state.options.timeout:g} s (request id {rid})"
            ) from None
        except RejectedInput as exc:
            raise _RefusedError(400, exc.message) from None
        except RunnerFailed as exc:
            raise _RefusedError(500, f"{exc.message} (request id {rid})") from None
        except NotReadyError as exc:
            raise _RefusedError(503, str(exc)) from None
        request.scope["state"]["model_version"] = answer.version
        return answer

    # ---- our JSON face -------------------------------------------------------------------
    async def predict(request: Request) -> Response:
        async def work() -> Response:
            body = await read_body(request, state.options.max_body_bytes)
            data = await off_loop(body, _parse_json, body)
            answer = await predict_answer(request, data)
            try:
                text = await off_loop(body, _dump_json, answer.output)
            except (TypeError, ValueError) as exc:
                rid = request_id_of(request)
                log.error("request %s: the prediction is not JSON: %s", rid, exc)
                raise _RefusedError(
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
                "model": None if active is None else _safe(active.metadata),
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
            raise _RefusedError(
                404, f"unknown model '{_clip(model_name)}'; this server serves '{name}'"
            )
        if version is not None:
            active = state.slot.active
            current = None if active is None else active.version
            if version != current:
                raise _RefusedError(
                    404,
                    f"version '{_clip(version)}' of {name} is not served; the active version"
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
            return JSONResponse(
                {
                    "name": name,
                    "versions": [] if active is None else [active.version],
                    "platform": str(meta.get("engine") or "modelshelf"),
                    "inputs": [],
                    "outputs": [],
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
            body = await read_body(request, state.options.max_body_bytes)
            header_length = _header_length(request)
            try:
                parsed = await off_loop(body, _oip.parse_infer_request, body, header_length)
            except _oip.InferenceRequestError as exc:
                raise _RefusedError(400, str(exc)) from None
            answer = await predict_answer(request, _oip.runner_input(parsed))
            try:
                payload = await off_loop(
                    body,
                    _encode_response,
                    answer,
                    name,
                    parsed.id,
                    parsed.outputs,
                )
            except _oip.InferenceRequestError as exc:
                raise _RefusedError(400, str(exc)) from None
            except _oip.OutputEncodingError as exc:
                rid = request_id_of(request)
                log.error("request %s: the output cannot be encoded as tensors: %s", rid, exc)
                raise _RefusedError(500, f"{exc} (request id {rid})") from None
            return Response(payload, media_type="application/json")

        return await run(request, "v2_infer", work)

    async def v2_load(request: Request, model_name: str) -> Response:
        async def work() -> Response:
            check_model(model_name, None)
            follower = state.follower
            if follower is None:
                active = state.slot.active
                return JSONResponse(
                    {"name": name, "version": None if active is None else active.version}
                )
            result = await asyncio.to_thread(follower.check_now)
            if result.error is not None:
                raise _RefusedError(500, result.error)
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


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) one larger than ``limit`` before reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise _RefusedError(
                400, f"Content-Length {_clip(declared)!r} is not a number"
            ) from None
        if size > limit:
            raise _RefusedError(413, _too_large(size, limit))
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise _RefusedError(413, _too_large(total, limit))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> str:
    return (
        f"the request body ({size} bytes or more) is over the limit of {limit} bytes; send"
        " smaller batches, or start the server with a larger --max-body-mb"
    )


async def off_loop(body: bytes, function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)``: inline for small bodies, in a thread for large ones."""
    if len(body) < _OFF_LOOP_BYTES:
        return function(*args)
    return await asyncio.to_thread(function, *args)


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))  # JSON on the wire is UTF-8 (RFC 8259)
    except UnicodeDecodeError:
        raise _RefusedError(400, "the body is not UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise _RefusedError(
            400, f"the body is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None


def _dump_json(value: Any) -> str:
    return json.dumps(plain(value), allow_nan=False, separators=(",", ":"))


def _encode_response(
    answer: Answer, model_name: str, request_id: str | None, requested: tuple[str, ...]
) -> str:
    payload = _oip.infer_response(
        answer.output,
        model_name=model_name,
        model_version=answer.version,
        request_id=request_id,
        requested=requested,
    )
    return json.dumps(payload, allow_nan=False, separators=(",", ":"))


def _header_length(request: Request) -> int | None:
    raw = request.headers.get("inference-header-content-length")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise _RefusedError(
            400, f"Inference-Header-Content-Length {_clip(raw)!r} is not a whole number"
        ) from None


def _clip(text: str, limit: int = 80) -> str:
    shown = "".join(c if c.isprintable() else "?" for c in text[:limit])
    return shown + ("..." if len(text) > limit else "")


def _safe(metadata: dict[str, Any]) -> Any:
    """Metadata as JSON can carry it (paths and other objects as text)."""
    return json.loads(json.dumps(metadata, default=str))
