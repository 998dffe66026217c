"""``modelshelf serve SPEC|PATH``: answer predictions over HTTP (our JSON and the OIP V2)."""

from __future__ import annotations

import click

from modelshelf.cli._common import (
    backend_kwargs_from,
    common_options,
    examples,
    model_trust_options,
    require_extra,
    shelf_from,
)
from modelshelf.cli._complete import complete_spec_or_path
from modelshelf.errors import InvalidInputError

# What the serve extra installs; checked before anything is imported from it.
SERVE_MODULES = ("fastapi", "uvicorn", "numpy", "prometheus_client")

EXAMPLES = [
    "modelshelf serve team/svc@production                 # follows the alias as it moves",
    "modelshelf serve team/svc:1.2 --port 9000 --workers 2",
    "modelshelf serve ./model.onnx --name scorer          # a plain model file",
    "modelshelf serve team/svc@prod --max-batch-size 32 --max-batch-delay-ms 5",
    "curl -s localhost:8000/predict -d '[[5.1, 3.5, 1.4, 0.2]]'",
]


@click.command(epilog=examples(EXAMPLES))
@click.argument("spec", metavar="SPEC|PATH", shell_complete=complete_spec_or_path)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Processes."
)
@click.option("--name", help="The name in /v2/models/NAME (default: the asset's last part).")
@click.option(
    "--max-batch-size",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="Rows merged into one call of the runner; 1 turns adaptive batching off.",
)
@click.option(
    "--max-batch-delay-ms",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0),
    help="How long the first request of a batch waits for more.",
)
@click.option(
    "--max-queue",
    default=256,
    show_default=True,
    type=click.IntRange(1),
    help="Requests queued or running per worker before new ones get 429.",
)
@click.option(
    "--max-body-mb",
    default=64.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Largest request body (413 above it).",
)
@click.option(
    "--timeout",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds a request may wait for its prediction (504 after).",
)
@click.option(
    "--poll-interval",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds between checks of a followed alias; 0 checks only on"
    " POST /v2/repository/models/NAME/load.",
)
@click.option(
    "--threads",
    default=2,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Batches that run at once in each worker.",
)
@click.option("--access-log/--no-access-log", default=True, help="One JSON line per request.")
@click.option("--ignore-requirements", is_flag=True, help="Load even if requirements mismatch.")
@model_trust_options
@common_options
@click.pass_context
def serve(
    ctx: click.Context,
    spec: str,
    host: str,
    port: int,
    workers: int,
    name: str | None,
    max_batch_size: int,
    max_batch_delay_ms: float,
    max_queue: int,
    max_body_mb: float,
    timeout: float,
    poll_interval: float,
    threads: int,
    access_log: bool,
    ignore_requirements: bool,
    trust: bool,
    allow_hook_packages: tuple[str, ...],
    as_json: bool,
    quiet: bool,
) -> None:
    """Serve SPEC|PATH over HTTP until SIGTERM or Ctrl-C; requests in flight finish first.

    SPEC is a registered model (NAME@ALIAS, NAME:VERSION) or a plain model file or folder. A spec
    that can move (an alias, or no full version) is followed: a new version is loaded beside the
    old one, swapped in, and the old one unloaded once its requests are done.

    Routes: POST /predict (JSON in, JSON out), /health, /ready, /metadata, /metrics, /docs, and
    the Open Inference Protocol V2 under /v2 (tritonclient and the kserve client work unchanged).
    """
    require_extra("serve", "serve", SERVE_MODULES)
    from modelshelf.serve._model import ServeOptions
    from modelshelf.serve._run import serve as run_server

    options = ServeOptions(
        max_batch_size=max_batch_size,
        max_batch_delay_ms=max_batch_delay_ms,
        max_queue=max_queue,
        max_body_bytes=max(1, int(max_body_mb * 1024 * 1024)),
        timeout=timeout,
        poll_interval=poll_interval,
        threads=threads,
    )
    if backend_kwargs_from(ctx):
        raise InvalidInputError(
            "serve does not hand --backend-opt, --profile or --anonymous to its workers; declare"
            " the store with its settings in the config file and pass --store NAME"
        )
    shelf = shelf_from(ctx)
    run_server(
        spec,
        # A name: workers read its settings from the file. A URL as given (with any password it
        # carries: Shelf.url is the shown form, without).
        store=shelf.store_name or (ctx.find_root().obj or {}).get("store") or shelf.url,
        host=host,
        port=port,
        workers=workers,
        name=name,
        options=options,
        trust=trust,
        ignore_requirements=ignore_requirements,
        access_log=access_log,
        allowed_hook_packages=list(allow_hook_packages),
        as_json=as_json,  # log records as JSON lines
    )
