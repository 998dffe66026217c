"""``modelshelf repair SPEC [--from DIR ...]``: put back a version's damaged or missing blobs."""

from __future__ import annotations

import click

from modelshelf.cli._common import (
    common_options,
    emit_json,
    examples,
    human_size,
    printable,
    shelf_from,
    show_progress,
    status,
)
from modelshelf.cli._complete import complete_spec

EXAMPLES = [
    "modelshelf repair nlp/sentiment:1.3 --from ./model   # the folder it was pushed from",
    "modelshelf repair nlp/sentiment@production           # from the local cache only",
]


@click.command(epilog=examples(EXAMPLES))
@click.argument("spec", shell_complete=complete_spec)
@click.option(
    "--from",
    "sources",
    multiple=True,
    metavar="DIR",
    type=click.Path(path_type=str),
    help="A folder (or file) that may hold the original files; repeatable. A gc quarantine"
    " and the cache are tried first.",
)
@common_options
@click.pass_context
def repair(
    ctx: click.Context, spec: str, sources: tuple[str, ...], as_json: bool, quiet: bool
) -> None:
    """Re-upload every damaged or missing blob of SPEC from a copy that hashes to it.

    Each blob is hashed in the store (as verify does); one that is missing or does not hash to
    its name is uploaded again from a gc quarantine, the local cache, or the files under each
    --from DIR (the file at its path first, then any file of its size: names are never
    trusted, every copy is hashed). A blob that verifies is never written. Exit 1 when a blob
    is left broken.
    """
    report = shelf_from(ctx).repair(spec, sources, progress=show_progress(quiet, as_json))
    what = f"{report.name}:{report.version}"
    if as_json:
        emit_json(report.to_dict())
    else:
        for done in report.repaired:
            fault = done.fault
            click.echo(
                printable(
                    f"repaired {', '.join(done.paths)} ({fault.problem} fault at {fault.key})"
                    f" from {done.source}"
                )
            )
        for left in report.broken:
            click.echo(f"NOT REPAIRED  {printable(left.fault.describe())}")
            for why in left.tried:
                status(f"  tried {printable(why)}", quiet)
        if not report.repairs:
            status(
                f"{what}: all {report.blobs} blobs ({human_size(report.size)}) are whole;"
                " nothing to repair",
                quiet,
            )
        else:
            status(
                f"{what}: {len(report.repairs)} bad blob(s): {len(report.repaired)} repaired,"
                f" {len(report.broken)} left",
                quiet and report.ok,
            )
        if report.next_step is not None:
            status(f"  next: {report.next_step}")
    if not report.ok:  # with --json, the next step is in the report: stderr stays JSON only
        ctx.exit(1)
