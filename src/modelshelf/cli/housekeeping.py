"""``modelshelf verify | rm | gc``: check a version's blobs, take a version back, free space."""

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
    warn,
)
from modelshelf.cli._complete import complete_spec
from modelshelf.store.gc import parse_grace

EXAMPLES = [
    "modelshelf verify nlp/sentiment@production       # re-hash every blob in the store",
    "modelshelf verify nlp/sentiment:1.3 --quick      # sizes only (one HEAD per blob)",
    "modelshelf rm nlp/sentiment:1.3 -m 'leaked a token' --dry-run",
    "modelshelf rm nlp/sentiment:1.3 -m 'leaked a token'",
    "modelshelf gc --dry-run                          # blobs no version uses",
    "modelshelf gc --grace 7d",
]


@click.command(epilog=examples(EXAMPLES[:2]))
@click.argument("spec", shell_complete=complete_spec)
@click.option("--quick", is_flag=True, help="Check sizes only, without reading the bytes.")
@common_options
@click.pass_context
def verify(ctx: click.Context, spec: str, quick: bool, as_json: bool, quiet: bool) -> None:
    """Check that the store holds every file of SPEC whole (exit 1 naming each bad file)."""
    report = shelf_from(ctx).verify(spec, quick=quick, progress=show_progress(quiet, as_json))
    if as_json:
        emit_json(report.to_dict())
    else:
        what = "sizes of" if quick else "sha256 of"
        for fault in report.faults:
            click.echo(f"BAD  {printable(fault.describe())}")
        status(
            f"{report.name}:{report.version}: checked the {what} {report.blobs} blobs"
            f" ({report.files} files, {human_size(report.size)}):"
            f" {len(report.faults)} bad file(s)" + ("" if report.faults else ", all good"),
            quiet and not report.faults,
        )
        if report.faults:  # a push reuses a blob present at its size: it cannot mend one
            status(
                f"  repair: `modelshelf repair {report.name}:{report.version} --from DIR`"
                " (DIR: a folder holding the original files; the cache is tried too)"
            )
    if report.faults:
        ctx.exit(1)


@click.command(name="rm", epilog=examples(EXAMPLES[2:4]))
@click.argument("spec", shell_complete=complete_spec)
@click.option("--message", "-m", default="", help="Why it is removed (kept in the audit log).")
@click.option("--dry-run", is_flag=True, help="Only check and show what would be removed.")
@common_options
@click.pass_context
def remove(
    ctx: click.Context, spec: str, message: str, dry_run: bool, as_json: bool, quiet: bool
) -> None:
    """Remove the version SPEC (NAME:VERSION, exact) for good; its number is never reused.

    Its manifest is replaced by a tombstone at once and its blobs go at the next `gc`.
    Aliases pointing at it then fail until moved. Copies already pulled stay in the caches
    of the machines that pulled them (`modelshelf cache rm` on each).
    """
    shelf = shelf_from(ctx)
    removal = shelf.remove(spec, message=message, dry_run=dry_run)
    # Asked after the removal: an asset with no version left is still known (empty answers).
    aliases = sorted(
        a for a, r in shelf.aliases(removal.name).items() if r.version == removal.version
    )
    left = [v for v in shelf.versions(removal.name) if v != removal.version]  # dry run: would be
    if as_json:
        emit_json(
            {"dry_run": dry_run, **removal.__dict__, "aliases": aliases, "versions_left": left}
        )
        return
    verb = "would remove" if dry_run else "removed"
    none_left = (
        "" if left else f"; {removal.name} {'would have' if dry_run else 'has'} no versions left"
    )
    click.echo(f"{verb} {removal.name}:{removal.version}{none_left}")
    for alias in aliases:
        warn(
            f"@{alias} points at it; move it with"
            f" `modelshelf alias set {removal.name}@{alias} VERSION` or"
            f" `modelshelf alias rm {removal.name}@{alias}`"
        )
    if not dry_run:
        status("its blobs are deleted by the next `modelshelf gc` (`--grace 0` to do it now)")


@click.command(epilog=examples(EXAMPLES[4:]))
@click.option("--dry-run", is_flag=True, help="Only show what would be deleted.")
@click.option(
    "--grace",
    default="24h",
    metavar="AGE",
    help="Keep unused blobs younger than AGE (30m, 24h, 7d; 0 for none): a push in progress"
    " uploads its blobs before its manifest. Default 24h.",
)
@common_options
@click.pass_context
def gc(ctx: click.Context, dry_run: bool, grace: str, as_json: bool, quiet: bool) -> None:
    """Delete the blobs in the store that no version uses (killed pushes, removed versions)."""
    report = shelf_from(ctx).gc(grace=parse_grace(grace), dry_run=dry_run)
    if as_json:
        emit_json(report.to_dict())
        return
    verb = "would delete" if dry_run else "deleted"
    click.echo(
        f"{verb} {len(report.deleted)} blobs, {human_size(report.deleted_bytes)};"
        f" kept {report.referenced} in use by {report.versions} versions"
        f" and {report.young} younger than {grace}"
        + (f", and {report.undated} the store gives no time for" if report.undated else "")
        + (
            f"; put back the blobs gc was deleting that {len(report.restored)} versions use"
            if report.restored
            else ""
        )
    )
    if report.broken:  # each is named in a warning, with the step that repairs it
        ctx.exit(1)
