"""``modelshelf ls | versions | show | log``: what the store holds."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from modelshelf.cli._common import emit_json, human_size, json_option, shelf_from
from modelshelf.spec import parse_spec
from modelshelf.transfer import run_concurrently

EXAMPLES = [
    "modelshelf ls                       # every asset",
    "modelshelf ls nlp                   # assets under nlp/",
    "modelshelf versions nlp/sentiment   # newest first, with aliases",
    "modelshelf show nlp/sentiment@production",
    "modelshelf log nlp/sentiment        # pushes and alias moves: who, when, from where",
]


@click.command(name="ls", epilog="Examples:\n\n" + "\n\n".join(EXAMPLES[:2]))
@click.argument("prefix", required=False, default="")
@json_option
@click.pass_context
def list_assets(ctx: click.Context, prefix: str, as_json: bool) -> None:
    """List assets, optionally under PREFIX."""
    names = shelf_from(ctx).assets(prefix)
    if as_json:
        emit_json(names)
        return
    for name in names:
        click.echo(name)


@click.command(epilog="Examples:\n\n" + EXAMPLES[2])
@click.argument("name")
@click.option("--long", "-l", "long_format", is_flag=True,
              help="Also show when, by whom, size and message (reads each manifest).")  # fmt: skip
@json_option
@click.pass_context
def versions(ctx: click.Context, name: str, long_format: bool, as_json: bool) -> None:
    """List the versions of NAME, newest first, with the aliases that point at them."""
    shelf = shelf_from(ctx)
    asset = parse_spec(name).name
    found = shelf.versions(asset)
    aliases = shelf.aliases(asset)
    manifests = (
        run_concurrently(lambda v: shelf.manifest(f"{asset}:{v}"), found) if long_format else []
    )
    if as_json:
        listing: dict[str, object] = {
            "name": asset,
            "versions": found,
            "aliases": {a: r.version for a, r in aliases.items()},
        }
        if long_format:
            listing["manifests"] = [m.to_dict() for m in manifests]
        emit_json(listing)
        return
    marks: dict[str, list[str]] = {}
    for alias, record in aliases.items():
        marks.setdefault(str(record.version), []).append(f"@{alias}")
    for index, version in enumerate(found):
        tags = " ".join((["@latest"] if index == 0 else []) + marks.get(version, []))
        if long_format:
            m = manifests[index]
            when = m.created[:19].replace("T", " ")
            click.echo(f"{version}\t{when}\t{m.author}\t{human_size(m.size)}\t{tags}"
                       f"\t{m.message}".rstrip())  # fmt: skip
        else:
            click.echo(f"{version}\t{tags}".rstrip())


@click.command(epilog="Examples:\n\n" + EXAMPLES[3])
@click.argument("spec")
@json_option
@click.pass_context
def show(ctx: click.Context, spec: str, as_json: bool) -> None:
    """Show the manifest of the version SPEC resolves to."""
    resolved = shelf_from(ctx).resolve(spec)
    manifest = resolved.manifest
    if as_json:
        emit_json(manifest.to_dict())
        return
    console = Console(highlight=False, soft_wrap=True)
    console.print(
        f"[bold]{manifest.name}:{manifest.version}[/bold]"
        f"  {len(manifest.files)} files, {human_size(manifest.size)}"
    )
    # Everything below is user text: printed as is, never read as rich markup.
    console.print(f"pushed   {manifest.created} by {manifest.author}", markup=False)
    if manifest.message:
        console.print(f"message  {manifest.message}", markup=False)
    for key in ("git_commit", "git_remote", "path"):
        if key in manifest.source:
            console.print(f"{key.replace('_', ' '):<8} {manifest.source[key]}", markup=False)
    for key, value in manifest.metadata.items():
        console.print(f"meta     {key}={value}", markup=False)
    table = Table("path", "size", "sha256", box=None, pad_edge=False)
    for entry in manifest.files:
        table.add_row(Text(entry.path), human_size(entry.size), entry.sha256[:16])
    console.print(table)


@click.command(epilog="Examples:\n\n" + EXAMPLES[4])
@click.argument("name")
@json_option
@click.pass_context
def log(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show the audit log of NAME: every push and alias move, oldest first."""
    records = shelf_from(ctx).store.log(parse_spec(name).name)
    if as_json:
        emit_json(records)
        return
    for record in records:
        what = (
            f"{record.get('action')} {record.get('version')}"
            if record.get("action") in ("push", "remove")
            else f"alias @{record.get('alias')} -> {record.get('version') or 'removed'}"
            f" (was {record.get('previous') or 'unset'})"
        )
        note = f"  {record['message']}" if record.get("message") else ""
        click.echo(f"{record.get('when')}  {record.get('user')}@{record.get('host')}  {what}{note}")
