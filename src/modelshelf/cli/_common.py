"""Options and output helpers shared by the commands."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from modelshelf.shelf import Shelf

__all__ = ["emit_json", "human_size", "json_option", "quiet_option", "shelf_from", "status"]

F = TypeVar("F", bound=Callable[..., Any])


def json_option(fn: F) -> F:
    """``--json``: print one JSON document on stdout instead of text."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(fn)


def quiet_option(fn: F) -> F:
    """``--quiet``: no progress bars and no chatter on stderr."""
    return click.option("--quiet", "-q", is_flag=True, help="No progress bars or notes.")(fn)


def shelf_from(ctx: click.Context) -> Shelf:
    """The Shelf for the store named by ``--store`` / ``MODELSHELF_STORE``."""
    obj: dict[str, Any] = ctx.ensure_object(dict)
    if "shelf" not in obj:
        obj["shelf"] = Shelf(obj.get("store"))
    shelf: Shelf = obj["shelf"]
    return shelf


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def status(message: str, quiet: bool = False) -> None:
    """A note for people, on stderr so that stdout stays clean for pipes."""
    if not quiet:
        click.echo(message, err=True)


def human_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"  # pragma: no cover


def show_progress(quiet: bool, as_json: bool) -> bool | None:
    """Progress bars only for people at a terminal."""
    if quiet or as_json:
        return False
    return None if sys.stderr.isatty() else False
