"""Outside text made safe to keep and to show: one line, bounded, control characters escaped.

The smallest layer of the trust boundary (:mod:`modelshelf.trust` re-exports all of it): every
other check quotes what it refuses with :func:`show`, and every record field that must fit on one
line passes :func:`check_text`. Pure: no I/O.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import UTC, datetime

from modelshelf._secrets import without_secrets

__all__ = [
    "FOREIGN_LINE",
    "MAX_LINE",
    "MAX_TEXT",
    "check_text",
    "describe_char",
    "escape_controls",
    "find_hidden",
    "foreign_error",
    "show",
    "show_time",
]

MAX_TEXT = 64 * 1024
"""The longest string an alias or audit record may hold (a push message)."""
MAX_LINE = 1024
"""The longest single-line field: user, host, time, action, version."""


def show(value: object, limit: int = 60) -> str:
    """Quote an untrusted value for a message: one line, at most about ``limit`` characters."""
    if isinstance(value, str):
        text = repr(value[: limit + 1])
    elif isinstance(value, bool | float | type(None)) or (
        isinstance(value, int) and abs(value) < 10**limit
    ):
        text = repr(value)
    else:
        return f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# Characters that move the cursor, change colours, end lines, hide or reorder text on a
# terminal: every code point of the categories Cc (C0, C1, DEL), Cf (format: bidirectional
# controls, zero-width space and joiners, soft hyphen, BOM, tags), Zl and Zp (line and paragraph
# separators) and Cs (lone surrogates, not text at all). Computed from the Unicode database, not
# listed by hand (a list missed ~150 of them).
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
# The planes that hold them: the basic plane, the supplementary one (Egyptian format controls,
# musical symbols' beams) and the tags plane; the rest are letters, symbols or private use (a
# test walks every code point, so a new Unicode version adding one elsewhere is caught).
_PLANES = (0, 1, 14)
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(code: int) -> str:
    if code < 0x100:
        return _NAMED_ESCAPES.get(chr(code)) or f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _char_class(codes: list[int]) -> re.Pattern[str]:
    """A pattern matching any one of ``codes`` (ascending), written as ranges of runs."""
    runs: list[list[int]] = []
    for code in codes:
        if runs and runs[-1][1] == code - 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    pattern = "".join(
        f"\\U{low:08x}" if low == high else f"\\U{low:08x}-\\U{high:08x}" for low, high in runs
    )
    return re.compile(f"[{pattern}]")


@functools.cache
def _tables() -> tuple[dict[int, str], re.Pattern[str], re.Pattern[str]]:
    """The escape table; the one-line check's pattern: the hidden characters that break a line
    or are no text (Cc, Zl, Zp, Cs), a subset of what is escaped, so what
    :func:`escape_controls` writes always passes :func:`check_text` (a format character (Cf) in
    a record is kept and escaped wherever it is shown); and the pattern of every hidden
    character, for names that must not hold one (:func:`find_hidden`). Built on first use, and
    only for text that is not ``isprintable()``: reading the Unicode database takes ~15 ms that
    a command showing only printable text never pays."""
    codes = [
        code
        for plane in _PLANES
        for code in range(plane << 16, (plane + 1) << 16)
        if unicodedata.category(chr(code)) in _HIDDEN_CATEGORIES
    ]
    breaking = [code for code in codes if unicodedata.category(chr(code)) != "Cf"]
    return {code: _escape(code) for code in codes}, _char_class(breaking), _char_class(codes)


def escape_controls(text: str) -> str:
    r"""``text`` with every control character written as a visible escape (``\x1b``, ``\n``).

    One table for both uses: what modelshelf writes from local facts (user and host names), so
    that its own records pass :func:`check_text`, and what the CLI prints of store text.

    Example:
        >>> escape_controls("eve\rmallory\x07")
        'eve\\rmallory\\x07'
    """
    # str.isprintable() is false for every hidden category (and a few more): most text is
    # printable, and then the table (built from the Unicode database) is never needed.
    return text if text.isprintable() else text.translate(_tables()[0])


def find_hidden(text: str) -> str | None:
    r"""The first character of ``text`` that :func:`escape_controls` would escape, or ``None``.

    For names that become something a person reads or a file system stores (a mirrored key,
    which is a local file name): the same computed set as the escapes, so a zero-width space, a
    bidi mark or a soft hyphen cannot make one name look like another.

    Example:
        >>> find_hidden("read\u200bme.txt")
        '\u200b'
    """
    found = None if text.isprintable() else _tables()[2].search(text)
    return found.group() if found else None


def describe_char(char: str) -> str:
    """``U+200B ZERO WIDTH SPACE``: a character named for a message, never the character."""
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


FOREIGN_LINE = 300
"""The most characters of a foreign exception's first line that a message quotes."""

_MORE = " (MODELSHELF_DEBUG=1 shows the rest)"


def foreign_error(exc: BaseException, limit: int = FOREIGN_LINE, *, text: str | None = None) -> str:
    r"""``Type: first line`` of an exception raised by code that is not ours (a runner, a plugin
    backend, a library it calls), fit to quote in one of our one-line messages.

    Such text may span dozens of lines (a TorchScript stack) and hold control characters: only
    its first non-empty line is kept, escaped and cut to ``limit`` characters, and when anything
    was left out the text says where the rest is (the CLI's traceback; in Python, the chained
    exception: raise ours ``from exc``). Secrets are cut from the whole text before it is
    cut to length (``text``: the exception's text already cut of more, e.g. a backend's options).

    Example:
        >>> foreign_error(RuntimeError("failed[2J\n  at line 1"))
        'RuntimeError: failed\\x1b[2J (MODELSHELF_DEBUG=1 shows the rest)'
    """
    whole = without_secrets(str(exc) if text is None else text)
    lines = [line for line in whole.splitlines() if line.strip()]
    first = escape_controls(lines[0].strip()) if lines else ""
    cut = len(lines) > 1 or len(first) > limit
    text = f"{type(exc).__name__}: {first[:limit]}" if first else type(exc).__name__
    return text + ("..." if len(first) > limit else "") + (_MORE if cut else "")


def check_text(value: object, what: str, *, limit: int = MAX_LINE, one_line: bool = True) -> str:
    """``value`` if it is a string of at most ``limit`` characters (one line unless told)."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be text, not {show(value)}")
    if len(value) > limit:
        raise ValueError(f"{what} is longer than {limit} characters")
    if one_line and not value.isprintable() and _tables()[1].search(value):
        raise ValueError(f"{what} {show(value)} holds control characters")
    return value


def show_time(value: object) -> str:
    """A time as people read it everywhere: ``2026-11-30 16:47:04Z`` (UTC, to the second).

    The one format of every text output and message (the CLI's ``format_time`` is this);
    ``--json`` and the records keep the full ISO 8601 time. A value that is not an ISO time
    (a forged record, ``"unknown time"``) is shown as it is, escaped.

    Example:
        >>> show_time("2026-11-30T16:47:04.123456Z")
        '2026-11-30 16:47:04Z'
    """
    try:
        when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        when = when.astimezone(UTC)  # OverflowError at the calendar's edges (year 1, 9999)
    except (ValueError, OverflowError):
        return escape_controls(str(value))
    # Not strftime: its %Y does not pad years below 1000 on every platform.
    return (
        f"{when.year:04d}-{when.month:02d}-{when.day:02d}"
        f" {when.hour:02d}:{when.minute:02d}:{when.second:02d}Z"
    )
