"""``modelshelf alias set | rm | ls | history``: move, remove and inspect aliases."""

from __future__ import annotations

import click

from modelshelf.cli._common import emit_json, json_option, shelf_from, status
from modelshelf.errors import InvalidInputError
from modelshelf.spec import parse_spec

EXAMPLES = [
    "modelshelf alias set nlp/sentiment@production 1.3",
    "modelshelf alias set nlp/sentiment@production 1.4 --expect 1.3   # compare-and-swap",
    "modelshelf alias rm nlp/sentiment@staging",
    "modelshelf alias ls nlp/sentiment",
    "modelshelf alias history nlp/sentiment@production",
]


@click.group(epilog="Examples:\n\n" + "\n\n".join(EXAMPLES))
def alias() -> None:
    """Move and inspect aliases (mutable pointers such as @production)."""


@alias.command(name="set")
@click.argument("spec")
@click.argument("version")
@click.option(
    "--expect",
    default=None,
    metavar="VERSION",
    help="Only move if the alias points at VERSION now ('' for unset).",
)
@json_option
@click.pass_context
def set_alias(
    ctx: click.Context, spec: str, version: str, expect: str | None, as_json: bool
) -> None:
    """Point SPEC (NAME@ALIAS) at VERSION (partial versions resolve to the latest match)."""
    record = shelf_from(ctx).set_alias(spec, version, expected=expect)
    name = parse_spec(spec).name
    if as_json:
        emit_json({"name": name, **record.__dict__})
        return
    status(f"{name}@{record.alias}: {record.previous or 'unset'} -> {record.version}")
    click.echo(f"{name}:{record.version}")


@alias.command(name="rm")
@click.argument("spec")
@click.option(
    "--expect",
    default=None,
    metavar="VERSION",
    help="Only remove if the alias points at VERSION now.",
)
@json_option
@click.pass_context
def remove_alias(ctx: click.Context, spec: str, expect: str | None, as_json: bool) -> None:
    """Remove the alias SPEC (NAME@ALIAS); the removal stays in its history."""
    record = shelf_from(ctx).remove_alias(spec, expected=expect)
    name = parse_spec(spec).name
    if as_json:
        emit_json({"name": name, **record.__dict__})
        return
    click.echo(f"removed {name}@{record.alias} (was {record.previous})")


@alias.command(name="ls")
@click.argument("name")
@json_option
@click.pass_context
def list_aliases(ctx: click.Context, name: str, as_json: bool) -> None:
    """List the aliases of NAME and where they point."""
    records = shelf_from(ctx).aliases(name)
    if as_json:
        emit_json({a: r.__dict__ for a, r in records.items()})
        return
    for alias_name, record in records.items():
        click.echo(f"@{alias_name}\t{record.version}\t{record.when}\t{record.who}@{record.host}")


@alias.command(name="history")
@click.argument("spec")
@json_option
@click.pass_context
def history(ctx: click.Context, spec: str, as_json: bool) -> None:
    """Every move of SPEC (NAME@ALIAS), oldest first."""
    target = parse_spec(spec)
    if target.alias is None:
        raise InvalidInputError(f"alias history takes NAME@ALIAS, got {spec!r}")
    records = shelf_from(ctx).store.alias_history(target.name, target.alias)
    if as_json:
        emit_json([r.__dict__ for r in records])
        return
    for record in records:
        version = record.version or "(removed)"
        click.echo(f"{record.seq}\t{version}\t{record.when}\t{record.who}@{record.host}")
