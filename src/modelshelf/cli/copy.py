"""``modelshelf copy SPEC DEST_STORE``: promote a version (with its manifest) to another store."""

from __future__ import annotations

import click

from modelshelf.cli._common import (
    backend_kwargs_from,
    common_options,
    emit_json,
    examples,
    human_size,
    printable,
    remember_store,
    shelf_from,
    show_progress,
)
from modelshelf.cli._complete import complete_spec
from modelshelf.shelf.shelf import Shelf

EXAMPLES = [
    "modelshelf copy nlp/sentiment@staging s3://prod-models/shelf --store s3://dev-models/shelf",
    "modelshelf copy nlp/sentiment:1.3 file:///mnt/airgap/shelf   # carry a version offline",
]


@click.command(epilog=examples(EXAMPLES))
@click.argument("spec", shell_complete=complete_spec)
@click.argument("destination", metavar="DEST_STORE")
@common_options
@click.pass_context
def copy(ctx: click.Context, spec: str, destination: str, as_json: bool, quiet: bool) -> None:
    """Copy SPEC's version from --store to DEST_STORE, keeping its number and provenance.

    DEST_STORE is a URL, a path (./folder: a file:// store there) or the name of a store in the
    config file, as for --store and export --to.

    Only the blobs DEST_STORE lacks travel, streamed store to store and verified on the way; the
    manifest is committed last. A DEST_STORE that holds a different version of that number
    refuses the copy; one that holds the same version is left as it is.

    A registry DEST_STORE takes its own token (token / token_file of its named store in the
    config file), never MODELSHELF_TOKEN, which is for --store only.
    """
    source = shelf_from(ctx)
    # --ca-file (a registry store's ca_file) counts for a registry destination too.
    ca_file = backend_kwargs_from(ctx).get("ca_file")
    target = Shelf(destination, **({"ca_file": ca_file} if ca_file else {}))
    remember_store(target)
    report = source.copy(spec, target, progress=show_progress(quiet, as_json))
    if as_json:
        emit_json(
            {
                "name": report.manifest.name,
                "version": report.manifest.version,
                "source": report.source,
                "destination": report.destination,
                "blobs_copied": report.blobs_copied,
                "bytes_copied": report.bytes_copied,
                "blobs_present": report.blobs_present,
                "already_there": report.already_there,
            }
        )
        return
    what = printable(f"{report.manifest.name}:{report.manifest.version}")
    if report.already_there:
        repaired = (
            f"{_blobs(report.blobs_copied)} missing ({human_size(report.bytes_copied)}) copied"
            " again"
            if report.blobs_copied
            else "nothing copied"
        )
        click.echo(f"{what} is already in {printable(report.destination)}; {repaired}")
        return
    click.echo(
        f"{what} -> {printable(report.destination)}: {_blobs(report.blobs_copied)}"
        f" ({human_size(report.bytes_copied)}) copied, {report.blobs_present} already there"
    )


def _blobs(count: int) -> str:
    return f"{count} blob" if count == 1 else f"{count} blobs"
