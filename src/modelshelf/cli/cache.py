"""``modelshelf cache info | prune``: look at and trim the local cache."""

from __future__ import annotations

import re

import click

from modelshelf.cache import Cache
from modelshelf.cli._common import emit_json, human_size, json_option
from modelshelf.errors import InvalidInputError
from modelshelf.prune import prune, usage

EXAMPLES = [
    "modelshelf cache info",
    "modelshelf cache prune --max-size 20GiB --dry-run   # show what would go",
    "modelshelf cache prune --max-size 0                 # empty it",
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


@click.group(epilog="Examples:\n\n" + "\n\n".join(EXAMPLES))
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
