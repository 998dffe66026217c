"""``modelshelf pull SPEC``: fetch a version into the verified cache, optionally copy it out."""

from __future__ import annotations

import click

from modelshelf.cli._common import common_options, emit_json, examples, shelf_from, show_progress
from modelshelf.cli._complete import complete_spec, remember_version
from modelshelf.errors import InvalidInputError

EXAMPLES = [
    "modelshelf pull nlp/sentiment:1                 # latest 1.x; prints the cached path",
    "modelshelf pull nlp/sentiment -o ./here         # plain, writable copy in ./here",
    "modelshelf pull nlp/sentiment@production        # whatever the alias points at",
    "modelshelf pull nlp/sentiment:1.0/tokenizer/vocab.txt   # one file only",
    "modelshelf pull --force nlp/sentiment:1.3       # fetch and verify again, relink",
]


@click.command(epilog=examples(EXAMPLES))
@click.argument("spec", shell_complete=complete_spec)
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
    default=None,
    help="With -o: writable copies (the default), or read-only links into the cache"
    " (no extra disk).",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="With -o: replace files and folders there that hold something else (without it,"
    " such a path is refused before anything is written; the same content is kept).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Fetch every file again from the store, verify it and relink the cached copy.",
)
@common_options
@click.pass_context
def pull(
    ctx: click.Context,
    spec: str,
    output: str | None,
    link: str | None,
    overwrite: bool,
    force: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Pull SPEC (NAME[:VERSION|@ALIAS][/SUB/PATH]) and print the local path."""
    if output is not None and not output.strip():
        raise InvalidInputError("-o/--output needs a folder, got an empty name; e.g. -o ./model")
    if link is not None and output is None:
        raise InvalidInputError(
            f"--link {link} places files with -o only; add -o FOLDER, or drop --link to use"
            " the cached path that pull prints"
        )
    if overwrite and output is None:
        raise InvalidInputError("--overwrite applies to -o only; add -o FOLDER or drop it")
    shelf = shelf_from(ctx)
    resolved = shelf.resolve(spec)
    remember_version(shelf, resolved.manifest.name, resolved.version, resolved.spec.alias)
    path = shelf.pull_resolved(
        resolved,
        output=output,
        link=link or "copy",  # type: ignore[arg-type]
        progress=show_progress(quiet, as_json),
        force=force,
        overwrite=overwrite,
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
