"""``modelshelf registry serve | token create | token ls | token revoke | webhook ...``: run a
registry in front of a store, manage who may use it, and whom it tells of changes
(:mod:`modelshelf.cli.webhook`).

``serve`` needs the ``registry`` extra (FastAPI, uvicorn); ``token`` needs nothing more. Token
commands work on the store directly (a bucket URL: the admin holds the bucket's credentials) or
through a running registry (an ``http(s)://`` store, with an ``admin:*`` token): the same
records either way (:class:`modelshelf.registry.tokens.TokenBook`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from modelshelf.cli._admin_target import admin_target, not_a_bucket, store_choice
from modelshelf.cli._common import (
    common_options,
    emit_json,
    examples,
    format_time,
    printable,
    require_extra,
    status,
)
from modelshelf.cli.webhook import webhook
from modelshelf.errors import InvalidInputError
from modelshelf.registry.scopes import parse_scope, parse_scopes
from modelshelf.store.bucket import Store
from modelshelf.store.http_protocol import TOKEN_NAME
from modelshelf.store.identity import is_registry_url

# What the registry extra installs; checked before anything is imported from it.
REGISTRY_MODULES = ("fastapi", "uvicorn")

EXAMPLES = [
    "modelshelf registry serve --store s3://models/shelf --host 0.0.0.0 --port 8080",
    "modelshelf registry serve --store prod --certfile cert.pem --keyfile key.pem --workers 4",
    "modelshelf registry serve --store prod --anonymous-read public/   # anyone reads public/",
    "modelshelf registry token create ci-bot --scope write:nlp/ --expires 90d --store prod",
    "modelshelf registry token ls --store https://models.example.com  # with an admin:* token",
    "modelshelf registry token revoke ci-bot --store prod",
    "modelshelf registry webhook add https://ci.example.com/hook --events push,alias --store prod",
]


@click.group(epilog=examples(EXAMPLES))
def registry() -> None:
    """Serve a store to a team over HTTP with tokens, and manage the tokens.

    Clients use the registry as a store: --store https://HOST[:PORT], with the token in
    MODELSHELF_TOKEN or in the store's table of the config file (token / token_file).
    """


registry.add_command(webhook)


@registry.command(name="serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Processes."
)
@click.option(
    "--certfile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TLS certificate (PEM, with its chain); with --keyfile, serve HTTPS.",
)
@click.option(
    "--keyfile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The certificate's private key (PEM).",
)
@click.option(
    "--anonymous-read",
    "anonymous_read",
    multiple=True,
    metavar="PREFIX",
    help="Let requests without a token read names under PREFIX (nlp/, or * for all); repeat.",
)
@click.option(
    "--no-redirect",
    "no_redirect",
    is_flag=True,
    help="Send blob bytes through the server, never a 307 to a presigned URL of the bucket.",
)
@click.option(
    "--spool-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where uploads are spooled while hashed (default: the system's temp folder).",
)
@click.option(
    "--forwarded-allow-ips",
    metavar="IPS",
    help="Believe X-Forwarded-For/-Proto from these proxies (comma-separated; default: none).",
)
@common_options
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    workers: int,
    certfile: Path | None,
    keyfile: Path | None,
    anonymous_read: tuple[str, ...],
    no_redirect: bool,
    spool_dir: Path | None,
    forwarded_allow_ips: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Serve the store (--store) as a registry until SIGTERM or Ctrl-C.

    Every piece of state lives in the store, so several replicas over one bucket behave as one
    registry. Create the first token with `modelshelf registry token create NAME --scope
    admin:*` against the same store. The API is under /api/v1 (OpenAPI: /api/v1/openapi.json).
    """
    require_registry_extra()
    if (certfile is None) != (keyfile is None):
        raise InvalidInputError("give --certfile and --keyfile together, for HTTPS, or neither")
    for prefix in anonymous_read:
        parse_scope(f"read:{prefix}")  # refused here, before the server starts
    choice = store_choice(ctx)
    if is_registry_url(choice.url):
        raise not_a_bucket("registry serve", choice.url)
    if choice.create_on_open:  # the built-in store, as every other command makes it
        choice.open().create()
    from modelshelf.registry.run import serve_registry

    # The URL that opens the store (it may hold a password) and its resolved settings: each
    # worker process opens the store itself.
    serve_registry(
        choice.open_url,
        host=host,
        port=port,
        workers=workers,
        certfile=certfile,
        keyfile=keyfile,
        anonymous_read=anonymous_read,
        redirect=not no_redirect,
        spool_dir=spool_dir,
        backend_options=choice.options,
        forwarded_allow_ips=forwarded_allow_ips,
    )


@registry.group(name="token")
def token() -> None:
    """Create, list and revoke the registry's tokens (on --store: a bucket, or a registry)."""


@token.command(name="create")
@click.argument("token_name", metavar="TOKEN")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    metavar="ACTION:PREFIX",
    help="read, write or admin, on a name prefix (nlp/) or * (repeat): e.g. write:nlp/.",
)
@click.option(
    "--expires",
    default=None,
    metavar="AGE",
    help="Refused after AGE (90d, 12h, 30m); default: never.",
)
@common_options
@click.pass_context
def create_token(
    ctx: click.Context,
    token_name: str,
    scopes: tuple[str, ...],
    expires: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Create the token named TOKEN and print it, once: it is stored only as a hash."""
    name = token_name
    check_token_name(name)
    parse_scopes(scopes)  # refused before the store is opened
    with _tokens(ctx) as tokens:
        answer = tokens.create(name, list(scopes), expires)
    text, row = str(answer["token"]), public_record(answer)
    if as_json:
        emit_json({"token": text, **row})
        return
    click.echo(text)
    status(
        f"created the token {name!r} ({', '.join(printable(s) for s in row.get('scopes', []))});"
        " it will not be shown again: keep it where secrets go (MODELSHELF_TOKEN, or a store's"
        " token_file in the config file)",
        quiet,
    )


@token.command(name="ls")
@common_options
@click.pass_context
def list_tokens(ctx: click.Context, as_json: bool, quiet: bool) -> None:
    """List the tokens: name, scopes, created, expires, last used, revoked (never a secret)."""
    with _tokens(ctx) as tokens:
        rows = [public_record(row) for row in tokens.list()]
    if as_json:
        emit_json({"tokens": rows})
        return
    if not rows:
        status("no tokens yet: create one with `modelshelf registry token create`", quiet)
        return
    for row in rows:
        state = "revoked" if row.get("revoked") else _expiry(row.get("expires"))
        used = format_time(row["last_used"]) if row.get("last_used") else "never used"
        click.echo(
            f"{printable(row.get('name'))}  {printable(' '.join(row.get('scopes', [])))}"
            f"  created {format_time(row.get('created'))}  {state}  {used}"
        )


@token.command(name="revoke")
@click.argument("token_name", metavar="TOKEN")
@common_options
@click.pass_context
def revoke_token(ctx: click.Context, token_name: str, as_json: bool, quiet: bool) -> None:
    """Revoke the token named TOKEN: every replica refuses it from its next request on."""
    name = token_name
    check_token_name(name)
    with _tokens(ctx) as tokens:
        tokens.revoke(name)
    if as_json:
        emit_json({"name": name, "revoked": True})
        return
    click.echo(f"revoked {name}")


def _expiry(expires: object) -> str:
    return f"expires {format_time(expires)}" if expires else "never expires"


def check_token_name(name: str) -> None:
    """Refuse a name that no token can have, before anything is opened."""
    if not TOKEN_NAME.fullmatch(name):
        raise InvalidInputError(
            f"{printable(name[:80])!r} is not a token name: 1 to 63 lowercase letters, digits,"
            " '.' and '-', starting with a letter or digit (no '_'), e.g. ci-bot"
        )


def require_registry_extra() -> None:
    """Refuse ``registry serve`` when FastAPI or uvicorn is not installed, saying how to fix it."""
    require_extra("registry serve", "registry", REGISTRY_MODULES)


class _DirectTokens:
    """Tokens written straight into the store (whoever holds the bucket's credentials)."""

    def __init__(self, store: Store) -> None:
        from modelshelf.registry.tokens import TokenBook

        self.book = TokenBook(store)

    def create(self, name: str, scopes: list[str], expires: str | None) -> dict[str, Any]:
        from modelshelf.store._shared import actor

        who = actor()
        text, record = self.book.create(
            name, scopes, expires, created_by=f"{who['user']}@{who['host']}"
        )
        return {**record, "token": text}

    def list(self) -> list[dict[str, Any]]:
        return list(self.book.list())

    def revoke(self, name: str) -> None:
        self.book.revoke(name)

    def close(self) -> None:
        """Nothing to close: the store's backend lives as long as the command."""


def _tokens(ctx: click.Context) -> contextlib.AbstractContextManager[Any]:
    """Where the token commands act: the store itself, or the registry in front of one."""
    from modelshelf.cli._registry_remote import RemoteTokens

    return admin_target(ctx, "registry token", RemoteTokens, _DirectTokens)


# Fields of a token record that may be shown: never its hash, never a secret.
_SHOWN = ("name", "scopes", "created", "expires", "created_by", "last_used", "revoked")


def public_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a token record that may be shown (never its hash nor its text)."""
    row = {k: record[k] for k in _SHOWN if k in record}
    if isinstance(row.get("scopes"), list):
        row["scopes"] = [str(s) for s in row["scopes"]]
    return row
