"""``modelshelf label set | rm | ls``: the labels and description of an asset or a version.

SPEC ``NAME`` names the asset's own notes; ``NAME:VERSION`` or ``NAME@ALIAS`` the notes of the
version it resolves to. Labels are ``KEY=VALUE`` (``team=nlp``) or a bare ``KEY`` (``gpu``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from modelshelf import trust
from modelshelf.cli._common import (
    common_options,
    emit_json,
    examples,
    format_time,
    printable,
    shelf_from,
    status,
)
from modelshelf.cli._complete import complete_spec
from modelshelf.errors import InvalidInputError
from modelshelf.shelf.labels import parse_labels
from modelshelf.store.notes import Notes

EXAMPLES = [
    "modelshelf label set nlp/sentiment team=nlp stage=candidate",
    "modelshelf label set nlp/sentiment:1.3 gpu --description 'Distilled; needs a GPU.'",
    "modelshelf label set nlp/sentiment --description-file ABOUT.md",
    "modelshelf label rm nlp/sentiment@production stage",
    "modelshelf label ls nlp/sentiment:1.3 --history",
]


@click.group(epilog=examples(EXAMPLES))
def label() -> None:
    """Set, remove and list labels (team=nlp, gpu) and the description of an asset or version.

    SPEC NAME is the asset itself; NAME:VERSION or NAME@ALIAS is that version.
    """


@label.command(name="set", epilog=examples(EXAMPLES[:3]))
@click.argument("spec", shell_complete=complete_spec)
@click.argument("labels", nargs=-1, metavar="KEY[=VALUE]...")
@click.option("--description", default=None, metavar="TEXT", help="Replace the description.")
@click.option(
    "--description-file",
    default=None,
    metavar="FILE",
    help="Replace the description with this file's text (Markdown; - reads stdin).",
)
@common_options
@click.pass_context
def set_labels(
    ctx: click.Context,
    spec: str,
    labels: tuple[str, ...],
    description: str | None,
    description_file: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Set labels of SPEC (others stay) and, if given, replace its description."""
    if description is not None and description_file is not None:
        raise InvalidInputError("give --description or --description-file, not both")
    if description_file is not None:
        description = _read_description(description_file)
    if not labels and description is None:
        raise InvalidInputError(
            f"label set {spec} has nothing to set: give KEY=VALUE or KEY labels, or --description"
        )
    wanted = parse_labels(labels)
    shelf = shelf_from(ctx)
    before = shelf.notes(spec).seq
    notes = shelf.set_notes(spec, set=wanted, description=description)
    _changed(spec, before, notes, as_json, quiet)


@label.command(name="rm", epilog=examples([EXAMPLES[3]]))
@click.argument("spec", shell_complete=complete_spec)
@click.argument("keys", nargs=-1, required=True, metavar="KEY...")
@common_options
@click.pass_context
def remove_labels(
    ctx: click.Context, spec: str, keys: tuple[str, ...], as_json: bool, quiet: bool
) -> None:
    """Remove the labels KEY... of SPEC (each must be there)."""
    shelf = shelf_from(ctx)
    before = shelf.notes(spec).seq
    notes = shelf.set_notes(spec, remove=list(keys))
    _changed(spec, before, notes, as_json, quiet)


@label.command(name="ls", epilog=examples([EXAMPLES[4]]))
@click.argument("spec", shell_complete=complete_spec)
@click.option("--history", is_flag=True, help="Every record of the notes, oldest first.")
@common_options
@click.pass_context
def list_labels(ctx: click.Context, spec: str, history: bool, as_json: bool, quiet: bool) -> None:
    """List the labels of SPEC, then its description; --history lists every record."""
    shelf = shelf_from(ctx)
    if history:
        records = shelf.notes_history(spec)
        if as_json:
            emit_json([r.to_dict() for r in records])
            return
        if not records:
            status(f"{spec} has no notes yet", quiet)
        for record in records:
            click.echo(_history_line(record))
        return
    notes = shelf.notes(spec)
    if as_json:
        emit_json(notes.to_dict())
        return
    _print_notes(spec, notes, quiet)


def _changed(spec: str, before: int, notes: Notes, as_json: bool, quiet: bool) -> None:
    if as_json:
        emit_json(notes.to_dict())
        return
    if notes.seq == before:
        status(f"{spec}: nothing changed", quiet)
    _print_notes(spec, notes, quiet)


def _print_notes(spec: str, notes: Notes, quiet: bool) -> None:
    """The labels one per line (``KEY=VALUE`` or ``KEY``), then the description; who wrote
    them on stderr."""
    if notes.seq == 0:
        status(f"{spec} has no notes yet", quiet)
        return
    status(f"{spec}: record {notes.seq}, {_who(notes)}", quiet)
    for key, value in notes.labels.items():
        click.echo(printable(f"{key}={value}" if value else key))
    if notes.description:
        if notes.labels:
            click.echo("")
        # Only line feeds end lines: any other separator (U+2028, \x1c) is shown escaped.
        for line in notes.description.rstrip("\n").split("\n"):
            click.echo(printable(line))


def _history_line(notes: Notes) -> str:
    labels = notes.labels_text() or "(no labels)"
    described = f"  description: {len(notes.description)} characters" if notes.description else ""
    return f"{notes.seq}  {format_time(notes.when)}  {printable(f'{notes.who}@{notes.host}')}" + (
        f"  {printable(labels)}{described}"
    )


def _who(notes: Notes) -> str:
    return f"{format_time(notes.when)} by {printable(f'{notes.who}@{notes.host}')}"


def _read_description(source: str) -> str:
    """The text of ``--description-file`` (``-``: stdin), read up to the bound and UTF-8."""
    limit = trust.MAX_DESCRIPTION_BYTES
    raw: bytes
    try:
        if source == "-":
            raw = sys.stdin.buffer.read(limit + 1)
        else:
            with Path(source).open("rb") as handle:
                raw = handle.read(limit + 1)
    except OSError as exc:
        raise InvalidInputError(
            f"cannot read the description file {source}: {exc.strerror or exc}"
        ) from None
    if len(raw) > limit:
        raise InvalidInputError(
            f"the description file {source} is over {limit // 1024} KiB, more than a"
            " description may hold; shorten it (a model card goes in the version as README.md)"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"the description file {source} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
