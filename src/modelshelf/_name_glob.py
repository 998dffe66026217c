"""Which asset names a ``ls`` pattern selects: a whole-segment prefix, or a glob (pure, no I/O).

A pattern without ``*``, ``?`` or ``[`` is a prefix of whole segments, as ``ls`` always took it:
``nlp`` selects ``nlp`` and ``nlp/sentiment``, never ``nlp2``. A glob is fnmatch-like, except
that ``/`` separates segments: ``*`` and ``?`` never match a ``/`` (nor does a ``[...]`` class),
``**`` matches across them, and ``**/`` at the start of a segment matches zero or more whole
segments. A glob also selects whole-segment prefixes: ``nl*`` selects ``nlp/sentiment`` (its
first segment matches), as the plain ``nlp`` does, and ``nlp/*sent*`` selects
``nlp/sentiment`` and ``nlp/sentiment/en``.

Example:
    >>> [n for n in ["nlp/sentiment", "nlp2", "vision/x"] if name_matches("nl*", n)]
    ['nlp/sentiment', 'nlp2']
    >>> listing_prefix("nlp/*sent*"), listing_prefix("nl*")
    ('nlp', '')
"""

from __future__ import annotations

import fnmatch
import functools
import re

__all__ = ["is_glob", "listing_prefix", "name_matches"]

_GLOB_CHARS = frozenset("*?[")


def is_glob(pattern: str) -> bool:
    """True if ``pattern`` holds a wildcard (``*``, ``?`` or ``[``)."""
    return not _GLOB_CHARS.isdisjoint(pattern)


def listing_prefix(pattern: str) -> str:
    """The whole segments before the first one with a wildcard: all a store needs to list."""
    segments = pattern.strip("/").split("/")
    literal: list[str] = []
    for segment in segments:
        if is_glob(segment):
            break
        literal.append(segment)
    return "/".join(literal)


def name_matches(pattern: str, name: str) -> bool:
    """True if ``name`` is selected by ``pattern`` (a plain prefix of whole segments, or a glob
    matching its first segments)."""
    wanted = pattern.strip("/")
    if not wanted:
        return True
    if not is_glob(wanted):
        return name == wanted or name.startswith(wanted + "/")
    return _compiled(wanted).fullmatch(name) is not None


@functools.lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    """``pattern`` as a regular expression over the whole name: the glob, then any further
    segments (``(?:/.*)?``)."""
    return re.compile(_translate(pattern) + r"(?:/.*)?", re.DOTALL)


def _translate(pattern: str) -> str:
    parts: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if pattern.startswith("**", i):
            at_segment_start = i == 0 or pattern[i - 1] == "/"
            i += 2
            while i < n and pattern[i] == "*":  # *** is **
                i += 1
            if at_segment_start and pattern.startswith("/", i):
                parts.append(r"(?:.*/)?")  # zero or more whole segments
                i += 1
            else:
                parts.append(r".*")
        elif char == "*":
            parts.append(r"[^/]*")
            i += 1
        elif char == "?":
            parts.append(r"[^/]")
            i += 1
        elif char == "[":
            end = _class_end(pattern, i)
            if end is None:
                parts.append(re.escape(char))  # an unclosed [ is itself, as in fnmatch
                i += 1
            else:
                parts.append(r"(?!/)" + _class(pattern[i : end + 1]))
                i = end + 1
        else:
            parts.append(re.escape(char))
            i += 1
    return "".join(parts)


def _class_end(pattern: str, start: int) -> int | None:
    """The index of the ``]`` closing the class opened at ``start`` (fnmatch's rule: a ``]``
    right after ``[`` or ``[!`` is a member), or None when it is not closed in its segment."""
    j = start + 1
    if j < len(pattern) and pattern[j] == "!":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        if pattern[j] == "/":  # '/' separates segments, even here: ``[!/]`` is no class
            return None
        j += 1
    return j if j < len(pattern) else None


def _class(text: str) -> str:
    """A ``[...]`` class as fnmatch translates it (ranges, ``!`` negation, empty ranges)."""
    translated = fnmatch.translate(text)  # '(?s:[...])\\Z'
    return translated[len("(?s:") : -len(")\\Z")]
