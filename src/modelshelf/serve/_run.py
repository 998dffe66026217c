"""Running the app on uvicorn for ``modelshelf serve``: workers, logging, metrics folder.

Before uvicorn logs anything the spec is resolved (a local model must exist) and the socket is
bound here (``_bind.bind``), so a spec naming nothing or a port in use is one error line and
exit code 1, not uvicorn's start-up lines and its exit code 3; uvicorn serves that socket.
Before that, everything a load would refuse without loading the model is checked
(requirements, trust, the runner's import, detection: ``models/_preflight.py``), so a spec that
can never load is one error line too. With one worker the port then opens and the model loads
in the background, so ``/health`` answers during a long load and ``/ready`` turns 200 when the
model is in; a first load that still fails stops the server, is logged in the CLI's words, and
becomes one ``error:`` line and exit code 1. With
``--workers N``
the parent loads the model once first (the same error line if it fails, before any worker
starts) and uvicorn starts N processes that each build the app from :func:`app_from_environment`,
loading from the warm cache before they accept connections (settings travel as JSON in
``MODELSHELF_SERVE_CONFIG``). Either way, ``PROMETHEUS_MULTIPROC_DIR`` points every worker at one
fresh metrics folder before prometheus_client is imported, so that each scrape sums all workers.

Python's cyclic garbage collector, once the model and the web stack are loaded, spends 300 ms
and more on each full collection, holding the GIL (measured: p99 259 ms -> 33 ms under wrk with
batching). So the server freezes what is loaded (``gc.freeze``) after each version is
installed: collections then only walk what requests allocate. The cost, accepted: cyclic
garbage left by an unloaded version stays until the process ends (its arrays and tensors, freed
by reference counting, do not). ``create_app`` alone never touches the collector; that is the
embedding app's call.

uvicorn re-raises SIGTERM after its graceful shutdown; a no-op handler takes it, so that a
server stopped by SIGTERM exits 0 and removes its metrics folder.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelshelf import constants
from modelshelf._bind import bind, listening_at
from modelshelf.errors import FOR_CLI, InvalidInputError, ServeError
from modelshelf.serve._log_config import log_config

if TYPE_CHECKING:
    from modelshelf.serve._model import ModelSource

__all__ = ["app_from_environment", "serve"]

_CONFIG_ENV = "MODELSHELF_SERVE_CONFIG"
_METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def serve(
    spec: str,
    *,
    store: str | None,
    host: str,
    port: int,
    workers: int,
    name: str | None,
    options: Any,
    trust: bool,
    ignore_requirements: bool,
    access_log: bool = True,
    allowed_hook_packages: list[str] | None = None,
    as_json: bool = False,
) -> None:
    """Serve ``spec`` until SIGINT/SIGTERM; requests in flight finish first.

    Everything that can be checked is checked before uvicorn logs a line: the spec resolves
    (or the local model exists) and the address is bound here
    (:func:`~modelshelf._bind.bind`), so a bad spec or a port in use is one error, not
    uvicorn's start-up lines and its exit code 3.

    Raises:
        ServeAddressError: the port is in use or reserved, or the host is not here.
        ServeError: uvicorn stopped while starting.
    """
    metrics_dir = Path(tempfile.mkdtemp(prefix="modelshelf-metrics-"))
    os.environ[_METRICS_ENV] = str(metrics_dir)
    sock: socket.socket | None = None
    try:
        settings = {
            "spec": spec,
            "store": store,
            "name": name,
            "options": dataclasses.asdict(options),
            "trust": trust,
            "ignore_requirements": ignore_requirements,
            "allowed_hook_packages": list(allowed_hook_packages or []),
        }
        _check_source(settings)
        sock = bind(host, port)
        common: dict[str, Any] = {
            "host": host,
            "port": port,
            "log_config": log_config(access_log, as_json),  # every worker too
            "access_log": False,  # ours is structured and carries the request id
            "timeout_graceful_shutdown": None,  # in-flight requests always finish
        }
        if workers == 1:
            _serve_one(settings, common, sock)
            return
        _preflight(settings)
        os.environ[_CONFIG_ENV] = json.dumps(settings)
        _serve_many(workers, common, sock)
    finally:
        if sock is not None:
            sock.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _check_source(settings: dict[str, Any]) -> None:
    """Before uvicorn starts, everything a load would refuse without loading the model: the
    spec resolves (or the local model exists), requirements, trust, the runner and hook
    imports, detection (:func:`~modelshelf.models._preflight.check_loadable`). A spec that
    can never load fails here, as one error line; the model itself loads later."""
    from modelshelf.models._preflight import check_loadable

    source = _model_source(settings)
    if source.resolve is None and source.spec is not None and not Path(source.spec).exists():
        raise InvalidInputError(
            f"nothing to serve at {source.spec}: no such file or folder; give a model file or"
            " folder, or a spec such as team/svc@production"
        )
    check_loadable(
        settings["spec"] if source.resolve is not None else Path(str(source.spec)),
        store=settings["store"],
        trust=settings["trust"],
        ignore_requirements=settings["ignore_requirements"],
        allowed_hook_packages=settings.get("allowed_hook_packages"),
    )


def _startup_failed(exc: SystemExit) -> ServeError:
    """uvicorn's ``sys.exit(3)`` at start-up, as our error (its own lines say why)."""
    return ServeError(
        f"the server stopped while starting (uvicorn exit code {exc.code}); the lines above say why"
    )


def _serve_many(workers: int, common: dict[str, Any], sock: socket.socket) -> None:
    """``workers`` processes serving ``sock``, each building its app from the environment."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        "modelshelf.serve._run:app_from_environment", factory=True, workers=workers, **common
    )
    logging.getLogger("modelshelf.serve").info(
        "listening on %s (Ctrl-C to stop)", listening_at(sock)
    )
    previous = signal.signal(signal.SIGTERM, _ignore)
    try:
        Multiprocess(config, sockets=[sock]).run()
    except SystemExit as exc:
        if exc.code:
            raise _startup_failed(exc) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def _ignore(_signum: int, _frame: object) -> None:
    """Takes the SIGTERM uvicorn re-raises after it has shut down gracefully."""


def _serve_one(settings: dict[str, Any], common: dict[str, Any], sock: socket.socket) -> None:
    """One worker in this process; a failed first load stops it and raises here."""
    import uvicorn

    failed: list[BaseException] = []
    server: uvicorn.Server | None = None

    def stop_on_error(exc: BaseException) -> None:
        failed.append(exc)
        if server is not None:
            server.should_exit = True

    class Server(uvicorn.Server):
        """Remembers a Ctrl-C. uvicorn re-raises the signal after its graceful stop, into
        whatever handler asyncio's runner left; once, under load, that was lost and a Ctrl-C
        exited 0. Remembering it here does not depend on that hand-over."""

        interrupted = False

        def handle_exit(self, sig: int, frame: Any) -> None:
            self.interrupted = self.interrupted or sig == signal.SIGINT
            super().handle_exit(sig, frame)

    app = _build(settings, load="background", on_load_error=stop_on_error)
    server = Server(uvicorn.Config(app, **common))
    logging.getLogger("modelshelf.serve").info(
        "listening on %s (Ctrl-C to stop)", listening_at(sock)
    )
    previous = signal.signal(signal.SIGTERM, _ignore)
    try:
        server.run(sockets=[sock])
    except SystemExit as exc:
        if failed:
            raise failed[0] from None
        if exc.code:
            raise _startup_failed(exc) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    if failed:
        raise failed[0]
    if server.interrupted:  # stopped by Ctrl-C: the CLI's interrupt (exit 130), every time
        raise KeyboardInterrupt


def _preflight(settings: dict[str, Any]) -> None:
    """Load the model once here, so that a bad spec fails before any worker starts."""
    _model_source(settings).load_version(None)


def _model_source(settings: dict[str, Any]) -> ModelSource:
    """The versions to serve, as the settings every worker gets describe them."""
    from modelshelf.serve._model import ModelSource

    return ModelSource.from_spec(
        settings["spec"],
        store=settings["store"],
        name=settings["name"],
        trust=settings["trust"],
        ignore_requirements=settings["ignore_requirements"],
        allowed_hook_packages=settings.get("allowed_hook_packages"),
    )


def _build(
    settings: dict[str, Any],
    *,
    load: str = "background",
    on_load_error: Callable[[BaseException], None] | None = None,
) -> Any:
    from modelshelf.serve._app import create_app
    from modelshelf.serve._model import ServeOptions

    app = create_app(
        settings["spec"],
        store=settings["store"],
        name=settings["name"],
        options=ServeOptions(**settings["options"]),
        trust=settings["trust"],
        ignore_requirements=settings["ignore_requirements"],
        allowed_hook_packages=settings.get("allowed_hook_packages"),
        load=load,  # type: ignore[arg-type]
        on_load_error=on_load_error,
    )
    app.state.serve.face = FOR_CLI  # started by `modelshelf serve`: errors name its flags
    _freeze_after_each_install(app.state.serve.slot)
    return app


def _freeze_after_each_install(slot: Any) -> None:
    """``gc.freeze()`` once a version is in (the first time after one full collection)."""
    metrics_hook = slot.on_swap

    def on_swap(old: str | None, new: str) -> None:
        if metrics_hook is not None:
            metrics_hook(old, new)
        _freeze(first=old is None)

    slot.on_swap = on_swap
    if slot.ready:  # loaded before the hook was in place
        _freeze(first=True)


def _freeze(*, first: bool) -> None:
    if first:
        gc.collect()
    gc.freeze()


def app_from_environment() -> Any:
    """The app of one worker process, from the settings its parent put in the environment.

    A worker loads its model before it accepts a connection: the workers share one socket, so a
    worker still loading would otherwise take requests it can only answer with 503. The parent
    has loaded the model once already (errors surfaced there), and the cache is warm.
    """
    raw = constants.serve_config()
    if raw is None:
        raise RuntimeError(f"{_CONFIG_ENV} is not set; start workers with `modelshelf serve`")
    return _build(json.loads(raw), load="now")
