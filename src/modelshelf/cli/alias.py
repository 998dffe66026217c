"""``modelshelf alias set | rm | ls | history``: move, remove and inspect aliases."""

from __future__ import annotations

import click

from modelshelf.cli._common import (
    alias_spec,
    asset_name,
    common_options,
    emit_json,
    examples,
    format_time,
    printable,
    shelf_from,
    status,
)
from modelshelf.cli._complete import complete_alias, complete_name, complete_version

EXAMPLES = [
    "modelshelf alias set nlp/sentiment@production 1.3",
    "modelshelf alias set nlp/sentiment@production 1.4 --expect 1.3   # compare-and-swap",
    "modelshelf alias rm nlp/sentiment@staging",
    "modelshelf alias ls nlp/sentiment",
    "modelshelf alias history nlp/sentiment@production",
]


@click.group(epilog=examples(EXAMPLES))
def alias() -> None:
    """Move and inspect aliases (mutable pointers such as @production)."""


@alias.command(name="set")
@click.argument("spec", shell_complete=complete_alias)
@click.argument("version", shell_complete=complete_version)
@click.option(
    "--expect",
    default=None,
    metavar="VERSION",
    help="Only move if the alias points at VERSION now ('' for unset).",
)
@common_options
@click.pass_context
def set_alias(
    ctx: click.Context, spec: str, version: str, expect: str | None, as_json: bool, quiet: bool
) -> None:
    """Point SPEC (NAME@ALIAS) at VERSION (partial versions resolve to the latest match)."""
    name = alias_spec(spec, "alias set").name
    record = shelf_from(ctx).set_alias(spec, version, expected=expect)
    if as_json:
        emit_json({"name": name, **record.__dict__})
        return
    previous = printable(record.previous or "unset")
    status(f"{name}@{record.alias}: {previous} -> {printable(record.version)}", quiet)
    click.echo(f"{name}:{printable(record.version)}")


@alias.command(name="rm")
@click.argument("spec", shell_complete=complete_alias)
@click.option(
    "--expect",
    default=None,
    metavar="VERSION",
    help="Only remove if the alias points at VERSION now.",
)
@common_options
@click.pass_context
def remove_alias(
    ctx: click.Context, spec: str, expect: str | None, as_json: bool, quiet: bool
) -> None:
    """Remove the alias SPEC (NAME@ALIAS); the removal stays in its history."""
    name = alias_spec(spec, "alias rm").name
    record = shelf_from(ctx).remove_alias(spec, expected=expect)
    if as_json:
        emit_json({"name": name, **record.__dict__})
        return
    click.echo(f"removed {name}@{record.alias} (was {printable(record.previous)})")


@alias.command(name="ls")
@click.argument("name", shell_complete=complete_name)
@common_options
@click.pass_context
def list_aliases(ctx: click.Context, name: str, as_json: bool, quiet: bool) -> None:
    """List the aliases of NAME and where they point."""
    records = shelf_from(ctx).aliases(asset_name(name, "alias ls"))
    if as_json:
        emit_json({a: r.__dict__ for a, r in records.items()})
        return
    for alias_name, record in records.items():
        click.echo(f"@{alias_name}\t{printable(record.version)}\t{format_time(record.when)}"
                   f"\t{printable(f'{record.who}@{record.host}')}")  # fmt: skip


@alias.command(name="history")
@click.argument("spec", shell_complete=complete_alias)
@common_options
@click.pass_context
def history(ctx: click.Context, spec: str, as_json: bool, quiet: bool) -> None:
    """Every move of SPEC (NAME@ALIAS), oldest first."""
    records = shelf_from(ctx).alias_history(alias_spec(spec, "alias history"))
    if as_json:
        emit_json([r.__dict__ for r in records])
        return
    for record in records:
        version = printable(record.version or "(removed)")
        click.echo(f"{record.seq}\t{version}\t{format_time(record.when)}"
                   f"\t{printable(f'{record.who}@{record.host}')}")  # fmt: skip
