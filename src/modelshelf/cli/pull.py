"""``modelshelf pull SPEC``: fetch a version into the verified cache, optionally copy it out."""

from __future__ import annotations

import click

from modelshelf.cli._common import emit_json, json_option, quiet_option, shelf_from, show_progress

EXAMPLES = [
    "modelshelf pull nlp/sentiment:1                 # latest 1.x; prints the cached path",
    "modelshelf pull nlp/sentiment -o ./here         # plain, writable copy in ./here",
    "modelshelf pull nlp/sentiment@production        # whatever the alias points at",
    "modelshelf pull nlp/sentiment:1.0/tokenizer/vocab.txt   # one file only",
    "modelshelf pull --force nlp/sentiment:1.3       # fetch and verify again, relink",
]


@click.command(epilog="Examples:\n\n" + "\n\n".join(EXAMPLES))
@click.argument("spec")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=str),
    default=None,
    help="Also place the files in this folder.",
)
@click.option(
    "--link",
    type=click.Choice(["copy", "hardlink", "symlink"]),
    default="copy",
    show_default=True,
    help="With -o: writable copies, or read-only links into the cache (no extra disk).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Fetch every file again from the store, verify it and relink the cached copy.",
)
@json_option
@quiet_option
@click.pass_context
def pull(
    ctx: click.Context,
    spec: str,
    output: str | None,
    link: str,
    force: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Pull SPEC (NAME[:VERSION|@ALIAS][/SUB/PATH]) and print the local path."""
    shelf = shelf_from(ctx)
    resolved = shelf.resolve(spec)
    path = shelf.pull_resolved(
        resolved,
        output=output,
        link=link,  # type: ignore[arg-type]
        progress=show_progress(quiet, as_json),
        force=force,
    )
    if as_json:
        emit_json(
            {
                "spec": spec,
                "name": resolved.manifest.name,
                "version": resolved.version,
                "path": str(path),
                "offline": resolved.offline,
            }
        )
        return
    click.echo(str(path))
