"""``modelshelf export SPEC --to WHERE``: pull a version and hand it to a downloader (sink)."""

from __future__ import annotations

import click

from modelshelf.cli._common import (
    common_options,
    emit_json,
    examples,
    printable,
    shelf_from,
    show_progress,
)
from modelshelf.cli._complete import complete_spec
from modelshelf.downloaders import export_resolved, sink_from
from modelshelf.errors import InvalidInputError

EXAMPLES = [
    "modelshelf export nlp/sentiment@production --to ./deploy   # ./deploy/nlp/sentiment.onnx",
    "modelshelf export nlp/sentiment:1 --to s3://serving/models  # .../nlp/sentiment/1.3/...",
    "modelshelf export nlp/sentiment:1 --to my_pkg.sinks:Triton  # your own sink class",
]


@click.command(epilog=examples(EXAMPLES))
@click.argument("spec", shell_complete=complete_spec)
@click.option(
    "--to",
    "to",
    default=".",
    show_default=True,
    help="A folder, a store URL (scheme://...), the name of a store in the config file (a"
    " folder of that name is ./NAME), or package.module:Class (an installed sink class,"
    " created with no arguments).",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace a file, folder or object that holds something else (folder and URL only).",
)
@common_options
@click.pass_context
def export(
    ctx: click.Context, spec: str, to: str, overwrite: bool, as_json: bool, quiet: bool
) -> None:
    """Pull SPEC (NAME[:VERSION|@ALIAS]) into the cache and export it; print where it went.

    A folder gets a plain, writable copy: one file as NAME.EXT (the extension from the model's
    engine), several as the folder NAME/. A store URL or configured store gets
    NAME/VERSION/PATH objects, opened with that store's own settings (--backend-opt and
    --profile apply to --store).
    """
    if not to.strip():
        raise InvalidInputError("--to needs a folder, store URL or package.module:Class")
    sink = sink_from(to, overwrite=overwrite)
    shelf = shelf_from(ctx)
    resolved = shelf.resolve(spec)
    where = export_resolved(shelf, resolved, sink, progress=show_progress(quiet, as_json))
    if as_json:
        emit_json(
            {
                "spec": spec,
                "name": resolved.manifest.name,
                "version": resolved.version,
                "to": where,
            }
        )
        return
    click.echo(printable(where))
