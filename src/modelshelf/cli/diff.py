"""``modelshelf diff SPEC SPEC``: what changed between two versions.

Files first, one line each, then each section that differs as a unified diff::

    + path (size)                    only in the second version
    - path                           only in the first
    ~ path (old -> new, +delta)      other bytes at the same path
    > old -> new                     the same bytes at a new path
"""

from __future__ import annotations

import click

from modelshelf.cli._common import (
    common_options,
    emit_json,
    examples,
    human_size,
    printable,
    shelf_from,
    status,
)
from modelshelf.cli._complete import complete_spec
from modelshelf.shelf.diff import VersionDiff

EXAMPLES = [
    "modelshelf diff nlp/sentiment:1.3 nlp/sentiment:1.4",
    "modelshelf diff nlp/sentiment@production nlp/sentiment   # production vs the latest",
    "modelshelf diff nlp/sentiment:1.3 nlp/sentiment:1.4 --json",
]


@click.command(epilog=examples(EXAMPLES))
@click.argument("a", metavar="SPEC", shell_complete=complete_spec)
@click.argument("b", metavar="SPEC", shell_complete=complete_spec)
@common_options
@click.pass_context
def diff(ctx: click.Context, a: str, b: str, as_json: bool, quiet: bool) -> None:
    """Show what changed from the first SPEC's version to the second's: files added, removed,
    changed and moved, then metadata, model, requirements, signature, card and message."""
    found = shelf_from(ctx).diff(a, b)
    if as_json:
        emit_json(found.to_json())
        return
    status(summary(found), quiet)
    for line in diff_lines(found):
        click.echo(line)


def summary(found: VersionDiff) -> str:
    """``nlp/x:1.3 -> nlp/x:1.4: 1 changed, 2 added, ...; 4.0 MiB -> 4.1 MiB`` (or the same)."""
    head = f"{printable(found.a)} -> {printable(found.b)}"
    if found.same:
        return f"{head}: the same files, metadata, model, card and message"
    counts = [
        (len(found.changed), "changed"),
        (len(found.added), "added"),
        (len(found.removed), "removed"),
        (len(found.moved), "moved"),
        (found.unchanged, "unchanged"),
    ]
    files = ", ".join(f"{n} {word}" for n, word in counts if n or word == "unchanged")
    sections = [s.name for s in found.sections if s.lines]
    also = f"; {', '.join(sections)} differ" if sections else ""
    sizes = f"{human_size(found.size_a)} -> {human_size(found.size_b)}"
    return f"{head}: files {files}; {sizes}{also}"


def signed_size(delta: int) -> str:
    """``+2 B``, ``-1.5 KiB``: a size difference with its sign."""
    return ("+" if delta >= 0 else "-") + human_size(abs(delta))


def diff_lines(found: VersionDiff) -> list[str]:
    """The diff as text lines, store text escaped."""
    lines = [f"+ {printable(f.path)} ({human_size(f.size)})" for f in found.added]
    lines += [f"- {printable(f.path)}" for f in found.removed]
    lines += [
        f"~ {printable(c.path)} ({human_size(c.size_a)} -> {human_size(c.size_b)},"
        f" {signed_size(c.size_delta)})"
        for c in found.changed
    ]
    lines += [f"> {printable(m.old_path)} -> {printable(m.new_path)}" for m in found.moved]
    for section in found.sections:
        if section.lines:
            lines.append("")
            lines += [printable(line) for line in section.lines]
    return lines
