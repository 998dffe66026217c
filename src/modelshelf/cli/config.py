"""``modelshelf config``: where the config file is; ``config stores``: the named stores."""

from __future__ import annotations

from typing import Any

import click

from modelshelf import constants
from modelshelf._secrets import MASK, without_secrets
from modelshelf.backends.base import without_password
from modelshelf.cli._common import emit_json, examples, json_option, printable
from modelshelf.cli._errors import json_error
from modelshelf.config import StoreConfig, load_config
from modelshelf.errors import ModelshelfError
from modelshelf.store.named import mask_options, resolve_store

__all__ = ["EXAMPLES", "config"]

EXAMPLES = [
    "modelshelf config",
    "modelshelf config stores",
    "modelshelf config stores --json",
    "modelshelf --store prod versions nlp/sentiment",
]

_TEMPLATE = """\
  # e.g.
  default_store = "prod"
  [stores.prod]
  url = "s3://models/shelf"
  endpoint = "https://s3.example.com"   # optional, as are region, profile, anonymous
  [stores.prod.options]                 # optional backend options"""


@click.group(invoke_without_command=True, epilog=examples(EXAMPLES))
@json_option
@click.pass_context
def config(ctx: click.Context, as_json: bool) -> None:
    """Show where the config file is, whether it exists, and its default store.

    MODELSHELF_CONFIG chooses another file. Exits 1 if the file exists but is malformed.
    """
    if ctx.invoked_subcommand is not None:
        return
    path, from_env = constants.config_path()
    problem: str | None = None
    default: str | None = None
    count = 0
    try:
        loaded = load_config(path)
        default, count = loaded.default_store, len(loaded.stores)
    except ModelshelfError as exc:
        problem = str(exc)
    if as_json:
        emit_json(
            {
                "path": str(path),
                "exists": path.exists(),
                "from": "MODELSHELF_CONFIG" if from_env else "user config dir",
                "stores": count,
                "default_store": default,
                "error": problem,
            }
        )
    else:
        state = "exists" if path.exists() else "does not exist"
        source = "MODELSHELF_CONFIG" if from_env else "the user config dir; MODELSHELF_CONFIG"
        click.echo(f"config file: {printable(path)} ({state})")
        click.echo(f"  chosen by {source}" + ("" if from_env else " chooses another"))
        if path.exists() and problem is None:
            click.echo(f"  {count} store(s); default store: {default or 'none'}")
        elif not path.exists():
            click.echo(_TEMPLATE)
    if problem is not None:
        if as_json:  # one format on stderr: the failure line main() would print
            click.echo(json_error(without_secrets(problem), "ConfigError", 1), err=True)
        else:
            click.echo(f"error: {printable(problem)}", err=True)
        ctx.exit(1)


@config.command("stores", epilog=examples(EXAMPLES[1:3]))
@json_option
def stores(as_json: bool) -> None:
    """List the named stores of the config file; secrets are shown as ***.

    A setting that an environment variable overrides says which variable wins.
    """
    loaded = load_config()
    rows = [_row(store, store.name == loaded.default_store) for store in loaded.stores.values()]
    if as_json:
        emit_json({"path": str(loaded.path), "default_store": loaded.default_store, "stores": rows})
        return
    if not rows:
        state = "declares no stores" if loaded.exists else "does not exist"
        click.echo(f"{printable(loaded.path)} {state}; see `modelshelf config`")
        return
    for row in rows:
        mark = " (default)" if row["default"] else ""
        click.echo(f"{printable(row['name'])}{mark}: {printable(row['url'])}")
        for key in ("endpoint", "region", "profile", "anonymous", *_REGISTRY_FIELDS):
            if row[key] is not None:
                beaten = row["overridden_by"].get(key)
                note = f"  (overridden by {beaten})" if beaten else ""
                click.echo(f"  {key} = {printable(row[key])}{note}")
        for key, value in row["options"].items():
            beaten = row["overridden_by"].get(key)
            note = f"  (overridden by {beaten})" if beaten else ""
            click.echo(f"  options.{printable(key)} = {printable(value)}{note}")


_REGISTRY_FIELDS = ("token", "token_file", "ca_file")


def _row(store: StoreConfig, default: bool) -> dict[str, Any]:
    """One store, as listed: URL passwords cut, secret options masked, env overrides named."""
    overridden = dict(resolve_store(store.name, config=_only(store)).overridden)
    return {
        "name": store.name,
        "default": default,
        "url": without_password(store.url),
        "endpoint": without_password(store.endpoint) if store.endpoint else None,
        "region": store.region,
        "profile": store.profile,
        "anonymous": store.anonymous,
        "token": MASK if store.token is not None else None,  # never shown
        "token_file": store.token_file,
        "ca_file": store.ca_file,
        "options": mask_options(store.options),
        "overridden_by": overridden,
    }


def _only(store: StoreConfig) -> Any:
    from modelshelf.config import Config

    return Config(path=constants.config_path()[0], exists=True, stores={store.name: store})
