"""``modelshelf ls | versions | show | log``: what the store holds.

Everything printed as text that came from the store goes through :func:`printable`; times go
through :func:`format_time`. ``--json`` prints the store's values exactly.
"""

from __future__ import annotations

import json
import shlex

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from modelshelf._name_glob import is_glob
from modelshelf.cli._common import (
    asset_name,
    common_options,
    emit_json,
    examples,
    format_time,
    human_size,
    printable,
    shelf_from,
    status,
)
from modelshelf.cli._complete import (
    complete_name,
    complete_spec,
    remember_names,
    remember_version,
    remember_versions,
)
from modelshelf.cli._log_lines import log_event, log_line
from modelshelf.cli._model_section import model_lines, source_lines
from modelshelf.shelf.pull import select_entries
from modelshelf.transfer.download import run_concurrently

EXAMPLES = [
    "modelshelf ls                       # every asset",
    "modelshelf ls nlp                   # assets under nlp/",
    "modelshelf versions nlp/sentiment   # newest first, with aliases",
    "modelshelf show nlp/sentiment@production",
    "modelshelf log nlp/sentiment        # pushes, copies, alias moves, removals: who, when",
]


_LS_GLOBS = [
    "modelshelf ls 'nl*'                 # a glob: nlp/..., nlu/...",
    "modelshelf ls 'nlp/*sent*'          # '*' stops at '/'; '**' crosses it",
]


@click.command(name="ls", epilog=examples(EXAMPLES[:2] + _LS_GLOBS))
@click.argument(
    "prefix", required=False, default="", metavar="[PREFIX|GLOB]", shell_complete=complete_name
)
@common_options
@click.pass_context
def list_assets(ctx: click.Context, prefix: str, as_json: bool, quiet: bool) -> None:
    """List assets, optionally under PREFIX or matching GLOB.

    PREFIX is whole segments: nlp lists nlp/sentiment, not nlp2. A GLOB (quote it for the
    shell) has * and ? (never matching '/'), [abc], and ** (matching across '/'); it selects a
    name when it matches the name or its first segments, so 'nl*' lists nlp/sentiment.
    """
    shelf = shelf_from(ctx)
    names = shelf.assets(prefix)
    remember_names(shelf, names, prefix)  # for shell completion
    if not names and prefix.strip("/") and not is_glob(prefix):
        # Nothing under the whole segment: would the glob of the word find something?
        wider = prefix.strip("/") + "*"
        if shelf.assets(wider):
            status(
                f"no asset under {printable(json.dumps(prefix, ensure_ascii=False))}; did you mean"
                f" ls {printable(shlex.quote(wider))}?",
                quiet,
            )
    if as_json:
        emit_json(names)
        return
    for name in names:
        click.echo(printable(name))


@click.command(epilog=examples([EXAMPLES[2]]))
@click.argument("name", shell_complete=complete_name)
@click.option("--long", "-l", "long_format", is_flag=True,
              help="Also show when, by whom, size and message (reads each manifest).")  # fmt: skip
@common_options
@click.pass_context
def versions(ctx: click.Context, name: str, long_format: bool, as_json: bool, quiet: bool) -> None:
    """List the versions of NAME, newest first, with the aliases that point at them."""
    shelf = shelf_from(ctx)
    asset = asset_name(name, "versions")
    found = shelf.versions(asset)
    aliases = shelf.aliases(asset)
    if not found:  # every version was removed: the asset and its log remain
        status(f"{asset} has no versions left (`modelshelf log {asset}` shows the removals)", quiet)
    remember_versions(shelf, asset, found, aliases)  # for shell completion
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
            fields = [version, format_time(m.created), printable(m.author), human_size(m.size),
                      tags, printable(m.message)]  # fmt: skip
        else:
            fields = [version, tags]
        # One version per line, whatever the pusher wrote: its text is escaped, tabs too.
        click.echo("\t".join(fields).rstrip())


@click.command(epilog=examples([EXAMPLES[3]]))
@click.argument("spec", shell_complete=complete_spec)
@common_options
@click.pass_context
def show(ctx: click.Context, spec: str, as_json: bool, quiet: bool) -> None:
    """Show the manifest of the version SPEC resolves to (only the files under a /SUB/PATH)."""
    shelf = shelf_from(ctx)
    resolved = shelf.resolve(spec)
    manifest = resolved.manifest
    remember_version(shelf, manifest.name, manifest.version, resolved.spec.alias)
    files = select_entries(resolved.spec, manifest)  # fails as pull does on a missing sub path
    if as_json:
        emit_json(manifest.to_dict())
        return
    console = Console(highlight=False, soft_wrap=True)
    console.print(
        f"[bold]{escape(printable(f'{manifest.name}:{manifest.version}'))}[/bold]"
        f"  {len(manifest.files)} files, {human_size(manifest.size)}",
        markup=True,
    )
    # Everything below is user text: escaped, and printed as is, never read as rich markup.
    lines = [f"pushed   {format_time(manifest.created)} by {printable(manifest.author)}"]
    if manifest.message:
        lines.append(f"message  {printable(manifest.message)}")
    lines += source_lines(manifest.source)
    for key, value in manifest.metadata.items():
        lines.append(f"meta     {printable(key)}={printable(value)}")
    lines += model_lines(manifest)
    for line in lines:
        console.print(line, markup=False)
    table = Table("path", "size", "sha256", box=None, pad_edge=False)
    for entry in files:
        table.add_row(Text(printable(entry.path)), human_size(entry.size), entry.sha256[:16])
    console.print(table)


@click.command(epilog=examples([EXAMPLES[4]]))
@click.argument("name", shell_complete=complete_name)
@common_options
@click.pass_context
def log(ctx: click.Context, name: str, as_json: bool, quiet: bool) -> None:
    """Show the audit log of NAME: every push, copy, repair, alias move and removal, oldest first.

    --json prints the records as the store holds them, each with its "event" (its action;
    "alias-set" or "alias-remove" for an alias record).
    """
    records = shelf_from(ctx).log(asset_name(name, "log"))
    if as_json:
        emit_json([{**record, "event": log_event(record)} for record in records])
        return
    for record in records:
        click.echo(log_line(record))
