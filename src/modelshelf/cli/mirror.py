"""``modelshelf mirror URL DEST``: copy every object under a bucket prefix to a folder."""

from __future__ import annotations

import click

from modelshelf.cli._common import (
    backend_kwargs_from,
    common_options,
    emit_json,
    examples,
    human_size,
    printable,
    show_progress,
)
from modelshelf.errors import InvalidInputError
from modelshelf.mirror.result import MirrorResult
from modelshelf.mirror.run import mirror as run_mirror
from modelshelf.store.named import configured_store, normalize_url

EXAMPLES = [
    "modelshelf mirror s3://models/conduct/secrecy/en/version_1.2 ./ptms"
    "   # -> ./ptms/conduct/secrecy/en/version_1.2/...",
    "modelshelf mirror s3://models/team/ ./here --include '*.json' --exclude 'tmp/*'",
    "modelshelf mirror s3://models/team/config.json ./here     # one object, same tree path",
    "modelshelf mirror s3://models/team ./here --dry-run       # what would be fetched or skipped",
]


@click.command(epilog=examples(EXAMPLES))
@click.argument("url")
@click.argument("dest", type=click.Path(path_type=str))
@click.option(
    "--include",
    multiple=True,
    metavar="GLOB",
    help="Fetch only paths (below the URL's prefix) matching a glob; '*' also matches '/'."
    " Repeatable.",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Leave out paths (below the URL's prefix) matching a glob. Repeatable.",
)
@click.option(
    "--dry-run", is_flag=True, help="List what would be fetched and skipped; write nothing."
)
@click.option(
    "--verify",
    is_flag=True,
    help="Also re-hash local files that look unchanged against the sha256 recorded when fetched.",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace files in DEST that this mirror did not write (or that changed since) when"
    " they hold other content; without it they are refused before anything is written.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1, max=64),
    default=None,
    help="Objects in flight at once (default $MODELSHELF_MAX_CONCURRENCY or 8).",
)
@click.option(
    "--include-git",
    is_flag=True,
    help="Also mirror keys inside .git folders (refused by default: git obeys the config it"
    " finds there). Only for buckets you trust.",
)
@common_options
@click.pass_context
def mirror(
    ctx: click.Context,
    url: str,
    dest: str,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    dry_run: bool,
    verify: bool,
    overwrite: bool,
    jobs: int | None,
    include_git: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Copy every object under URL (scheme://bucket/prefix, or a configured store's name) to
    DEST, keeping the key tree.

    The path below DEST is the key below the bucket, prefix included; a prefix stops at a
    folder boundary, and a URL naming one object fetches that object. Files already there and
    unchanged (size and ETag recorded in DEST/.modelshelf-mirror.json) are skipped. Any key
    that could leave DEST refuses the whole mirror before anything is written.
    """
    if not dest.strip():
        raise InvalidInputError("DEST needs a folder, got an empty name; e.g. ./mirror")
    options = backend_kwargs_from(ctx)  # --backend-opt, --profile, --anonymous
    named = configured_store(url, options)  # a word the config file declares: that store
    if named is not None:
        url, options = normalize_url(named.url), dict(named.options)
    result = run_mirror(
        url,
        dest,
        include=include,
        exclude=exclude,
        dry_run=dry_run,
        verify=verify,
        max_workers=jobs,
        overwrite=overwrite,
        progress=show_progress(quiet, as_json),
        include_git=include_git,
        **options,
    )
    if as_json:
        emit_json(result.to_json())
        return
    if dry_run:
        for item in result.plan:
            click.echo(
                f"{item.action:5}  {human_size(item.size):>10}  {printable(item.key)}"
                f"  ({item.reason})"
            )
    click.echo(_summary(result))


def _summary(result: MirrorResult) -> str:
    verb = "would fetch" if result.dry_run else "fetched"
    return (
        f"{verb} {result.fetched} object(s), {human_size(result.fetched_bytes)};"
        f" skipped {result.skipped} unchanged, {human_size(result.skipped_bytes)};"
        f" into {printable(result.dest)}"
    )
