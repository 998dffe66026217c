"""Options and output helpers shared by the commands."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from modelshelf.shelf import Shelf

__all__ = [
    "emit_json",
    "format_time",
    "human_size",
    "json_option",
    "printable",
    "quiet_option",
    "shelf_from",
    "status",
]

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


# Characters that move the cursor, change colours, end lines or reorder text on a terminal:
# C0 and C1 controls, DEL, line/paragraph separators and the bidirectional overrides.
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNSAFE = [
    *range(0x00, 0x20),
    *range(0x7F, 0xA0),
    0x061C,
    0x200E,
    0x200F,
    0x2028,
    0x2029,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
    0xFEFF,
]
_ESCAPES = {
    code: _NAMED.get(chr(code)) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    for code in _UNSAFE
}


def printable(text: object) -> str:
    """``text`` with every terminal control character shown as a visible escape.

    Store text (messages, metadata, names, paths, alias records) is written by others: printed
    raw, an escape sequence could recolour or clear a teammate's terminal, and a newline could
    forge a line of ``versions -l`` or ``log``. JSON output needs no such care.

    Example:
        >>> printable("fix\x1b[2J\nbug")
        'fix\\x1b[2J\\nbug'
    """
    return str(text).translate(_ESCAPES)


def format_time(value: object) -> str:
    """An ISO time from a store as ``2026-11-30 16:47:04Z`` (UTC, to the second), everywhere.

    Text that is not an ISO time is shown as it is (escaped), so a forged record still prints.

    Example:
        >>> format_time("2026-11-30T16:47:04.123456Z")
        '2026-11-30 16:47:04Z'
    """
    if isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(str(value))
        except ValueError:
            return printable(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
