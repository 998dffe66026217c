"""``modelshelf registry webhook add | ls | rm | test | deliveries``: tell receivers when
something changes in a registry's store.

Like ``registry token``, the commands work through a running registry (an ``http(s)://``
store, with an ``admin:*`` token) or on the bucket store directly (an admin holding the
bucket's credentials): the same records either way
(:class:`modelshelf.registry.webhooks.hooks.HookBook`). On a bucket, ``test`` sends the ping
from this machine; through a registry, the registry sends it.
"""

from __future__ import annotations

import contextlib
from typing import Any

import click

from modelshelf.cli._admin_target import admin_target
from modelshelf.cli._common import (
    common_options,
    emit_json,
    examples,
    format_time,
    printable,
    status,
)
from modelshelf.errors import InvalidInputError
from modelshelf.store.bucket import Store

EXAMPLES = [
    "modelshelf --store https://models.example.com registry webhook add"
    " https://ci.example.com/hooks/modelshelf --events push,alias --prefix nlp/",
    "modelshelf --store prod registry webhook ls",
    "modelshelf --store prod registry webhook test wh-0123456789abcdef",
    "modelshelf --store prod registry webhook deliveries wh-0123456789abcdef --json",
    "modelshelf --store prod registry webhook rm wh-0123456789abcdef",
]
_EVENTS = "push,alias,remove,label"


@click.group(epilog=examples(EXAMPLES))
def webhook() -> None:
    """POST signed JSON to a URL when a version is pushed, an alias moves, a version is removed
    or labels change (admins only; on --store: a bucket, or a registry)."""


class _DirectHooks:
    """Hooks written straight into the bucket store."""

    def __init__(self, store: Store) -> None:
        from modelshelf.registry.webhooks.deliveries import DeliveryLog
        from modelshelf.registry.webhooks.hooks import HookBook
        from modelshelf.store._shared import actor

        self.store = store
        self.book, self.log = HookBook(store), DeliveryLog(store)
        who = actor()
        self.who = f"{who['user']}@{who['host']}"

    def add(self, url: str, events: list[str], prefix: str) -> dict[str, Any]:
        hook, secret = self.book.add(url, events, prefix, who=self.who, registry=self.store.url)
        return {"hook": hook.public(), "secret": secret}

    def hooks(self) -> list[dict[str, Any]]:
        return [hook.public() for hook in self.book.hooks()]

    def remove(self, hook_id: str) -> None:
        self.book.remove(hook_id)

    def test(self, hook_id: str) -> dict[str, Any]:
        from modelshelf.registry.webhooks.sender import ping

        attempt = ping(self.store, self.book.get(hook_id), self.who)
        return {"delivery": attempt.delivery, "status": attempt.status, "error": attempt.error,
                "duration_ms": attempt.duration_ms, "ok": attempt.ok}  # fmt: skip

    def deliveries(self, hook_id: str, limit: int) -> list[dict[str, Any]]:
        self.book.get(hook_id)
        return self.log.newest(hook_id, limit)

    def close(self) -> None:
        """Nothing to close: the store's backend lives as long as the command."""


def _hooks(ctx: click.Context) -> contextlib.AbstractContextManager[Any]:
    """Where the commands act: the store itself, or the registry in front of one."""
    from modelshelf.cli._webhook_remote import RemoteWebhooks

    return admin_target(ctx, "registry webhook", RemoteWebhooks, _DirectHooks)


@webhook.command(name="add")
@click.argument("url")
@click.option(
    "--events",
    default=_EVENTS,
    show_default=True,
    metavar="EVENT,...",
    help="Which changes to send: push, alias, remove, label (comma-separated).",
)
@click.option("--prefix", default="", metavar="PREFIX", help="Only names under PREFIX (nlp/).")
@common_options
@click.pass_context
def add(ctx: click.Context, url: str, events: str, prefix: str, as_json: bool, quiet: bool) -> None:
    """Add a hook that POSTs to URL (http:// or https://) and print its secret, once."""
    from modelshelf.registry.webhooks.hooks import HookBook, hook_url_problem

    problem = hook_url_problem(url)
    if problem is not None:
        raise InvalidInputError(f"{printable(url[:200])!r} cannot be a webhook's URL: {problem}")
    chosen = list(HookBook.check_events([e.strip() for e in events.split(",") if e.strip()]))
    with _hooks(ctx) as hooks:
        answer = hooks.add(url, chosen, prefix)
    hook, secret = answer["hook"], str(answer["secret"])
    if as_json:
        emit_json({"hook": hook, "secret": secret})
        return
    click.echo(secret)
    status(
        f"added the webhook {printable(hook.get('id'))} ({', '.join(chosen)}"
        f"{' under ' + printable(prefix) if prefix else ''}); the secret above will not be"
        " shown again: give it to the receiver, which checks each delivery with it"
        " (modelshelf.registry.verify_webhook)",
        quiet,
    )


@webhook.command(name="ls")
@common_options
@click.pass_context
def list_hooks(ctx: click.Context, as_json: bool, quiet: bool) -> None:
    """List the hooks: id, URL, events, prefix, created, who, secret fingerprint."""
    with _hooks(ctx) as hooks:
        rows = hooks.hooks()
    if as_json:
        emit_json({"hooks": rows})
        return
    if not rows:
        status("no webhooks yet: add one with `modelshelf registry webhook add URL`", quiet)
        return
    for row in rows:
        events = ",".join(str(e) for e in row.get("events", []))
        click.echo(
            f"{printable(row.get('id'))}  {printable(row.get('url'))}  {printable(events)}"
            f"  {printable(row.get('prefix') or '*')}  created {format_time(row.get('created'))}"
            f" by {printable(row.get('who'))}  secret {printable(row.get('fingerprint'))}..."
        )


@webhook.command(name="rm")
@click.argument("hook_id", metavar="ID")
@common_options
@click.pass_context
def remove(ctx: click.Context, hook_id: str, as_json: bool, quiet: bool) -> None:
    """Remove the hook ID and its delivery log."""
    with _hooks(ctx) as hooks:
        hooks.remove(hook_id)
    if as_json:
        emit_json({"id": hook_id, "removed": True})
        return
    click.echo(f"removed {printable(hook_id)}")


@webhook.command(name="test")
@click.argument("hook_id", metavar="ID")
@common_options
@click.pass_context
def test(ctx: click.Context, hook_id: str, as_json: bool, quiet: bool) -> None:
    """Send the hook ID a ping now and print the receiver's answer (exit 1 unless 2xx)."""
    with _hooks(ctx) as hooks:
        answer = hooks.test(hook_id)
    if as_json:
        emit_json(answer)
    else:
        got = (
            f"HTTP {answer.get('status')}"
            if answer.get("status") is not None
            else f"no answer: {printable(answer.get('error'))}"
        )
        click.echo(
            f"{printable(hook_id)}: {got} in {answer.get('duration_ms')} ms"
            f" (delivery {printable(answer.get('delivery'))})"
        )
    if answer.get("ok") is not True:
        ctx.exit(1)


@webhook.command(name="deliveries")
@click.argument("hook_id", metavar="ID")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@common_options
@click.pass_context
def deliveries(ctx: click.Context, hook_id: str, limit: int, as_json: bool, quiet: bool) -> None:
    """The hook's delivery log, newest first: every attempt with its status code or error."""
    with _hooks(ctx) as hooks:
        rows = hooks.deliveries(hook_id, limit)
    if as_json:
        emit_json({"deliveries": rows})
        return
    if not rows:
        status(f"no deliveries to {printable(hook_id)} yet", quiet)
        return
    for row in rows:
        got = f"HTTP {row['status']}" if row.get("status") is not None else row.get("error")
        later = f"  next {format_time(row['next_try'])}" if row.get("next_try") else ""
        click.echo(
            f"{format_time(row.get('at'))}  {printable(row.get('event'))}"
            f"  {printable(row.get('asset') or '-')}  attempt {row.get('attempt')}"
            f"  {printable(got)}  {row.get('duration_ms')} ms  {printable(row.get('outcome'))}"
            f"{later}  {printable(row.get('delivery'))}"
        )
