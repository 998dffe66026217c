"""``modelshelf ui``: the registry's pages over a store, for the one person running it.

Needs the ``registry`` extra. No tokens: every read and write is allowed and recorded as the
local user, so it listens on a loopback address only. A registry (``http(s)://``) serves its own
pages: open its URL instead.
"""

from __future__ import annotations

import json

import click

from modelshelf.cli._common import (
    backend_kwargs_from,
    common_options,
    examples,
    json_mode,
    printable,
    require_extra,
)
from modelshelf.errors import InvalidInputError
from modelshelf.shelf.opening import choose_store

# What the pages need of the registry extra; checked before anything is imported from it.
UI_MODULES = ("fastapi", "uvicorn", "jinja2", "markdown_it", "nh3")

EXAMPLES = [
    "modelshelf ui                                   # the default store, http://127.0.0.1:8090",
    "modelshelf ui --store s3://models/team --port 8091",
    "modelshelf ui --store prod                      # a store named in the config file",
]


@click.command(epilog=examples(EXAMPLES))
@click.option("--host", default="127.0.0.1", show_default=True, help="A loopback address.")
@click.option("--port", default=8090, show_default=True, type=click.IntRange(0, 65535))
@common_options
@click.pass_context
def ui(ctx: click.Context, host: str, port: int, as_json: bool, quiet: bool) -> None:
    """Browse, search and compare the store's versions in a browser; move aliases, edit labels.

    For you alone, without tokens: it listens on this machine only, and every write is
    recorded as you. A team shares a store through `modelshelf registry serve`, which serves
    the same pages with tokens.
    """
    require_extra("ui", "registry", UI_MODULES)
    from modelshelf.registry.run import is_loopback, serve_ui

    if not is_loopback(host):
        raise InvalidInputError(
            f"modelshelf ui listens on this machine only (no tokens guard it): {host} is not a"
            " loopback address; use 127.0.0.1, or `modelshelf registry serve` for a team"
        )
    choice = choose_store((ctx.find_root().obj or {}).get("store"), backend_kwargs_from(ctx), {})
    if choice.open_url.split("://", 1)[0].lower() in ("http", "https"):
        raise InvalidInputError(
            f"{choice.url} is a registry, and it serves these pages itself: open {choice.url}/"
            " in a browser (sign in with your token)"
        )
    if choice.create_on_open:  # the built-in store, as every other command makes it
        choice.open().create()
    serve_ui(
        choice.open_url,
        host=host,
        port=port,
        backend_options=choice.options,
        on_listening=show_entry_url,
    )


def show_entry_url(url: str) -> None:
    """Print the URL to open, once, on stderr (``{"note": ..., "url": ...}`` with ``--json``):
    even with ``--quiet``, and with its ``ui-token`` whole, unlike every other line, whose
    secrets are cut. The ui answers no browser that has not opened it, so the person running
    it must see it, as Jupyter prints its token."""
    note = f"modelshelf ui: open {url} in a browser (Ctrl-C stops)"
    if json_mode():
        click.echo(json.dumps({"note": note, "url": url}), err=True)
    else:
        click.echo(printable(note), err=True)
