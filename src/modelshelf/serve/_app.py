"""``create_app``: the ASGI app (FastAPI) that serves one model on both faces.

The factory builds the app's parts and wires them: one :class:`~modelshelf.serve._slot.ModelSlot`
(the active version), one :class:`~modelshelf.serve._batcher.Batcher` (the queue in front of the
runner: batching, back-pressure, worker threads) and, for a spec that can move, an
:class:`~modelshelf.serve._slot.AliasFollower`, all held by one
:class:`~modelshelf.serve._state.ServeState`. It then adds the routes
(:mod:`modelshelf.serve._routes`, which get that state as an argument and never import this
module), the error handlers (:mod:`modelshelf.serve._errors`: every error of either face is
``{"error": "...", "request_id": "..."}`` with a non-2xx status) and the access log
(:mod:`modelshelf.serve._access`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Literal

from fastapi import FastAPI

from modelshelf.errors import InvalidInputError
from modelshelf.models.register import StoreArg
from modelshelf.models.runner import Runner
from modelshelf.serve._access import AccessLog
from modelshelf.serve._batcher import Batcher
from modelshelf.serve._errors import install_error_handlers
from modelshelf.serve._metrics import ServeMetrics
from modelshelf.serve._model import ModelSource, ServeOptions
from modelshelf.serve._routes import add_routes
from modelshelf.serve._slot import ModelSlot
from modelshelf.serve._state import ServeState

__all__ = ["create_app"]


def create_app(
    spec: str | os.PathLike[str] | None = None,
    *,
    runner_cls: type[Runner] | None = None,
    model: Any = None,
    store: StoreArg = None,
    name: str | None = None,
    options: ServeOptions | None = None,
    trust: bool = False,
    ignore_requirements: bool = False,
    allowed_hook_packages: Iterable[str] | None = None,
    load: Literal["now", "background"] = "now",
    on_load_error: Callable[[BaseException], None] | None = None,
) -> FastAPI:
    """An ASGI app serving one model: ``/predict`` and the Open Inference Protocol V2.

    By default the model is loaded before this returns. Mount the app in your own, or run it
    with any ASGI server (``uvicorn.run(app)``); ``modelshelf serve`` does the latter with
    workers, loading in the background so that ``/health`` answers during a long load.

    Args:
        spec: a registry spec (``team/svc@production``, ``team/svc:1.2``) or a local model
            file or folder. A spec that can move (an alias, no version, a partial version) is
            followed: checked every ``options.poll_interval`` seconds, and on
            ``POST /v2/repository/models/{name}/load``.
        runner_cls: with ``model`` (or alone, when its ``load_model(None, {})`` builds the
            model), serve an object already in memory through this runner; with ``spec``,
            load and run the version's files with this runner instead of the recorded one.
        model: an object in memory; without ``runner_cls`` its ``predict(data)`` answers.
        store: the store URL or a :class:`~modelshelf.Shelf` for a registry spec.
        name: the model's name on the protocol face; default the last segment of the asset
            name (``svc`` for ``team/svc``), the file's stem, or ``model``.
        options: batching, limits and polling (:class:`ServeOptions`).
        trust: allow formats that run code when loaded (pickle); see ``load_model``.
        ignore_requirements: load even if the recorded requirements are not met here.
        allowed_hook_packages: packages the recorded runner and hooks may come from; see
            ``load_model``.
        load: ``"now"`` loads before returning (errors raise here); ``"background"`` loads
            once the app starts, answering ``/ready`` with 503 until the model is in.
        on_load_error: called with the exception when a background first load fails (the
            error also shows on ``/metadata``).

    Raises:
        InvalidInputError: neither or both of ``spec`` and ``model``.
        ModelshelfError: the model cannot be resolved, pulled or loaded (see ``load_model``).

    Example:
        >>> # app = create_app("team/svc@production", options=ServeOptions(max_batch_size=32))
        >>> # uvicorn.run(app, host="127.0.0.1", port=8000)
    """
    options = options or ServeOptions()
    if spec is not None and model is not None:
        raise InvalidInputError("give either a spec to serve or a model object, not both")
    if spec is not None:
        source = ModelSource.from_spec(
            spec,
            store=store,
            name=name,
            trust=trust,
            ignore_requirements=ignore_requirements,
            runner_cls=runner_cls,
            allowed_hook_packages=allowed_hook_packages,
        )
    elif model is not None or runner_cls is not None:
        source = ModelSource.from_object(model, runner_cls, name=name)
    else:
        raise InvalidInputError(
            "nothing to serve: give a spec (create_app('team/svc@production')) or a model"
            " object (create_app(model=obj, runner_cls=MyRunner))"
        )
    metrics = ServeMetrics()
    slot = ModelSlot(source.name)
    slot.on_swap = lambda old, new: metrics.swapped(source.name, old, new)
    slot.on_swap_error = lambda _message: metrics.swap_failures.labels(source.name).inc()
    batcher = Batcher(
        slot.acquire,
        max_batch_size=options.max_batch_size,
        max_batch_delay_ms=options.max_batch_delay_ms,
        max_queue=options.max_queue,
        threads=options.threads,
        on_batch=metrics.observe_batch,
    )
    state = ServeState(source, slot, batcher, metrics, options, on_load_error)
    if load == "now":
        state.load_now()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await state.start()
        try:
            yield
        finally:
            # Requests in flight have finished by now (uvicorn waits for them); what is queued
            # still runs, then the follower stops.
            await state.stop()

    app = FastAPI(
        title=f"modelshelf: {source.name}",
        description=_describe(source),
        lifespan=lifespan,
    )
    app.state.serve = state
    install_error_handlers(app)
    add_routes(app, state)
    app.add_middleware(AccessLog, metrics=metrics)
    return app


def _describe(source: ModelSource) -> str:
    what = source.spec or "a model object"
    where = f" from {source.store}" if source.store else ""
    return (
        f"Serves `{what}`{where} as `{source.name}`: `POST /predict` (JSON in, JSON out) and the"
        " Open Inference Protocol V2 under `/v2`."
    )
