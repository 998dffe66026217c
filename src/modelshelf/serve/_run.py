"""Running the app on uvicorn for ``modelshelf serve``: workers, logging, metrics folder.

With one worker the app is built in this process, so a spec that cannot be loaded fails before
the port opens, as one error line. With ``--workers N`` uvicorn starts N processes that each build
the app from :func:`app_from_environment` (settings travel as JSON in ``MODELSHELF_SERVE_CONFIG``);
the parent first pulls the spec so that errors still surface here and the workers load from a
warm cache. Either way, ``PROMETHEUS_MULTIPROC_DIR`` points every worker at one fresh metrics
folder before prometheus_client is imported, so that each scrape sums all workers.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from modelshelf import constants

__all__ = ["app_from_environment", "serve"]

_CONFIG_ENV = "MODELSHELF_SERVE_CONFIG"
_METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def log_config(access_log: bool) -> dict[str, Any]:
    """uvicorn's logging: ours and its own to stderr; access lines are JSON objects."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
            "access": {"format": "%(message)s"},
        },
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "plain"},
            "access": {"class": "logging.StreamHandler", "formatter": "access"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "modelshelf.serve": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "modelshelf.serve.access": {
                "handlers": ["access"],
                "level": "INFO" if access_log else "WARNING",
                "propagate": False,
            },
        },
    }


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
) -> None:
    """Serve ``spec`` until SIGINT/SIGTERM; requests in flight finish first."""
    metrics_dir = Path(tempfile.mkdtemp(prefix="modelshelf-metrics-"))
    os.environ[_METRICS_ENV] = str(metrics_dir)
    try:
        import uvicorn

        settings = {
            "spec": spec,
            "store": store,
            "name": name,
            "options": dataclasses.asdict(options),
            "trust": trust,
            "ignore_requirements": ignore_requirements,
        }
        common: dict[str, Any] = {
            "host": host,
            "port": port,
            "log_config": log_config(access_log),
            "access_log": False,  # ours is structured and carries the request id
            "timeout_graceful_shutdown": None,  # in-flight requests always finish
        }
        if workers == 1:
            uvicorn.run(_build(settings), **common)
            return
        _prepare(settings)
        os.environ[_CONFIG_ENV] = json.dumps(settings)
        uvicorn.run(
            "modelshelf.serve._run:app_from_environment", factory=True, workers=workers, **common
        )
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _prepare(settings: dict[str, Any]) -> None:
    """Pull a registry spec once here: errors show as one line, workers find a warm cache."""
    from modelshelf.models.plain import is_local_path
    from modelshelf.shelf import Shelf

    if not is_local_path(settings["spec"]):
        Shelf(settings["store"]).pull(settings["spec"], progress=False)


def _build(settings: dict[str, Any]) -> Any:
    from modelshelf.serve._app import create_app
    from modelshelf.serve._model import ServeOptions

    return create_app(
        settings["spec"],
        store=settings["store"],
        name=settings["name"],
        options=ServeOptions(**settings["options"]),
        trust=settings["trust"],
        ignore_requirements=settings["ignore_requirements"],
    )


def app_from_environment() -> Any:
    """The app of one worker process, from the settings its parent put in the environment."""
    raw = constants.serve_config()
    if raw is None:
        raise RuntimeError(f"{_CONFIG_ENV} is not set; start workers with `modelshelf serve`")
    return _build(json.loads(raw))
