"""``modelshelf cache info | ls | prune | rm | verify``: look at, trim and check the local cache."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import click

from modelshelf.cache.admin import remove_snapshots, verify_cache
from modelshelf.cache.cache import Cache
from modelshelf.cache.prune import prune, usage
from modelshelf.cache.scan import SnapshotInfo
from modelshelf.cli._common import (
    emit_json,
    examples,
    format_time,
    human_size,
    json_option,
    printable,
    shelf_from,
    status,
)
from modelshelf.cli._complete import complete_spec
from modelshelf.errors import FOR_CLI, InvalidInputError, ModelshelfError
from modelshelf.spec import parse_spec

EXAMPLES = [
    "modelshelf cache info",
    "modelshelf cache ls                                  # every cached version",
    "modelshelf cache prune --max-size 20GiB --dry-run   # show what would go",
    "modelshelf cache prune --max-size 0                 # empty it",
    "modelshelf cache rm nlp/sentiment:1                 # drop the cached 1.x versions",
    "modelshelf cache verify                             # re-hash everything, repair",
]

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2,
          "mib": 1024**2, "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "t": 1000**4,
          "tb": 1000**4, "tib": 1024**4}  # fmt: skip


def parse_size(text: str) -> int:
    """``"20GiB"`` -> bytes; decimal (GB) and binary (GiB) units, case-insensitive."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _UNITS:
        raise InvalidInputError(f"size {text!r} is not understood; write e.g. 500MB or 20GiB")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


@click.group(epilog=examples(EXAMPLES))
def cache() -> None:
    """Inspect and prune the local cache (MODELSHELF_CACHE_DIR)."""


@cache.command()
@json_option
def info(as_json: bool) -> None:
    """Show where the cache is and how much it holds."""
    local = Cache()
    found = usage(local)
    if as_json:
        emit_json({"path": str(local.root), "size": found.size,
                   "snapshots": len(found.snapshots), "temp_files": found.temp_files,
                   "temp_size": found.temp_size})  # fmt: skip
        return
    click.echo(f"{local.root}\n{human_size(found.size)} in blobs, {len(found.snapshots)} snapshots")
    if found.temp_files:
        click.echo(f"{human_size(found.temp_size)} in {found.temp_files} temporary download"
                   " file(s) (downloads in progress, or left by killed pulls: `cache prune`"
                   " removes those whose process is gone)")  # fmt: skip


@cache.command(name="prune")
@click.option("--max-size", required=True, help="Keep the cache at most this big, e.g. 20GiB.")
@click.option("--dry-run", is_flag=True, help="Only show what would be deleted.")
@json_option
def prune_command(max_size: str, dry_run: bool, as_json: bool) -> None:
    """Delete least recently used snapshots and unneeded blobs until under --max-size."""
    plan = prune(Cache(), parse_size(max_size), dry_run=dry_run)
    if as_json:
        emit_json({"dry_run": dry_run, "size_before": plan.size_before,
                   "size_after": plan.size_after,
                   "snapshots": [f"{s.name}:{s.version}" for s in plan.snapshots],
                   "blobs": len(plan.blobs), "temp_files": len(plan.temp_files)})  # fmt: skip
        return
    verb = "would delete" if dry_run else "deleted"
    for snap in plan.snapshots:
        click.echo(f"{verb} {snap.name}:{snap.version}")
    temps = f" and {len(plan.temp_files)} leftover temp files" if plan.temp_files else ""
    now = "would be" if dry_run else "now"
    click.echo(f"{verb} {len(plan.blobs)} blobs{temps}, {human_size(plan.freed)};"
               f" cache {now} {human_size(plan.size_after)}")  # fmt: skip


def _when(timestamp: float) -> str:
    """A time for ``--json``: ISO 8601 in UTC, to the second (text output uses format_time)."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _label(snap: SnapshotInfo) -> str:
    return f"{snap.name}:{snap.version}"


@cache.command(name="ls")
@json_option
def list_command(as_json: bool) -> None:
    """List cached versions: name, version, store, size and last use (oldest use first)."""
    local = Cache()
    found = usage(local).snapshots
    rows = [
        {
            "name": snap.name,
            "version": snap.version,
            "store": local.store_url(snap.store_id) or snap.store_id,
            "size": snap.size,
            "last_used": _when(snap.last_used),
            "complete": snap.complete,
            "path": str(snap.path),
        }
        for snap in sorted(found, key=lambda s: (s.name, s.version, s.store_id))
    ]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        partial = "" if row["complete"] else "\t(partial)"
        click.echo(f"{row['name']}:{row['version']}\t{row['store']}\t"
                   f"{human_size(row['size'])}\t{format_time(row['last_used'])}{partial}")  # type: ignore[arg-type]  # fmt: skip


@cache.command(name="rm")
@click.argument("spec", shell_complete=complete_spec)
@click.option("--dry-run", is_flag=True, help="Only show what would be removed.")
@json_option
def rm_command(spec: str, dry_run: bool, as_json: bool) -> None:
    """Remove the cached snapshots of SPEC (NAME or NAME:VERSION, from every store).

    Blobs that no other cached version needs are removed with them. The store is untouched.
    """
    target = parse_spec(spec)
    if target.alias is not None or target.path is not None:
        raise InvalidInputError(
            f"cache rm takes NAME or NAME:VERSION, not {spec!r}; see `modelshelf cache ls`"
        )
    version = str(target.version) if target.version is not None else None
    plan = remove_snapshots(Cache(), target.name, version, dry_run=dry_run)
    if not plan.snapshots and not plan.in_use:
        raise InvalidInputError(f"no cached version matches {spec!r}; see `modelshelf cache ls`")
    if as_json:
        emit_json({"dry_run": dry_run, "snapshots": [_label(s) for s in plan.snapshots],
                   "blobs": len(plan.blobs),
                   "in_use": [_label(s) for s in plan.in_use]})  # fmt: skip
        return
    verb = "would remove" if dry_run else "removed"
    for snap in plan.snapshots:
        click.echo(f"{verb} {_label(snap)}")
    for snap in plan.in_use:
        status(f"kept {_label(snap)}: a pull is writing it now")
    click.echo(f"{verb} {len(plan.blobs)} blobs no other cached version needs")


@cache.command(name="verify")
@json_option
@click.pass_context
def verify_command(ctx: click.Context, as_json: bool) -> None:
    """Re-hash every cached blob and file; remove bad ones, fetch them again, relink.

    Snapshot files are hard links to the blobs, so a write to one changes every snapshot that
    shares it. Versions of the current store (--store) are fetched again at once; those of
    other stores are left without the bad files, and their next pull fetches them.
    Exits 1 if a version is left incomplete.
    """
    local = Cache()
    report = verify_cache(local)
    shelf = shelf_from(ctx)
    repaired = list(report.repaired)
    left: list[tuple[SnapshotInfo, str]] = []
    for snap in report.damaged:
        if snap.store_id != shelf.store_id or shelf.cache.root != local.root:
            store = local.store_url(snap.store_id) or snap.store_id
            left.append((snap, f"its next pull from {store} fetches the missing files"))
            continue
        try:
            shelf.pull(f"{snap.name}:{snap.version}", progress=False)
            repaired.append(snap)
        except ModelshelfError as exc:
            # In the CLI's words (flags), and escaped below: a message may quote store text.
            left.append((snap, f"{exc.render(FOR_CLI)}; its next pull fetches the missing files"))
    if as_json:
        emit_json({"blobs_checked": report.blobs_checked, "bytes_hashed": report.bytes_hashed,
                   "bad_blobs": report.bad_blobs,
                   "bad_files": [str(p) for p in report.bad_files],
                   "restored_blobs": report.restored_blobs, "deferred": report.deferred,
                   "temp_files": [str(p) for p in report.temp_files],
                   "repaired": [_label(s) for s in repaired],
                   "incomplete": [_label(s) for s, _ in left]})  # fmt: skip
    else:
        removed = len(set(report.bad_blobs) - set(report.deferred))
        click.echo(f"checked {report.blobs_checked} blobs ({human_size(report.bytes_hashed)}"
                   f" hashed): {removed} bad blob(s) removed,"
                   f" {len(report.bad_files)} bad file(s) removed")  # fmt: skip
        if report.temp_files:
            click.echo(f"removed {len(report.temp_files)} temp file(s) left by dead processes")
        if report.deferred:
            click.echo(f"left {len(report.deferred)} bad blob(s) in place: in use by a running"
                       " pull; run `modelshelf cache verify` again when it is over")  # fmt: skip
        for snap in repaired:
            click.echo(f"repaired {_label(snap)}")
        for snap, why in left:
            click.echo(f"incomplete {_label(snap)}: {printable(why)}")
    if report.deferred and not left:
        raise ModelshelfError(
            f"{len(report.deferred)} bad blob(s) are in use by a running pull and were left;"
            " run `modelshelf cache verify` again when it is over"
        )
    if left:
        raise ModelshelfError(
            f"{len(left)} cached version(s) left incomplete; pull them again (or run"
            " `modelshelf --store URL cache verify` for their store) while it is reachable"
        )
