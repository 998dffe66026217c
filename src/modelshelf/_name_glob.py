"""Which asset names a ``ls`` pattern selects: a whole-segment prefix, or a glob (pure, no I/O).

A pattern without ``*``, ``?`` or ``[`` is a prefix of whole segments, as ``ls`` always took it:
``nlp`` selects ``nlp`` and ``nlp/sentiment``, never ``nlp2``. A glob is fnmatch-like, except
that ``/`` separates segments: ``*`` and ``?`` never match a ``/`` (nor does a ``[...]`` class),
``**`` matches across them, and ``**/`` at the start of a segment matches zero or more whole
segments. A glob also selects whole-segment prefixes: ``nl*`` selects ``nlp/sentiment`` (its
first segment matches), as the plain ``nlp`` does, and ``nlp/*sent*`` selects
``nlp/sentiment`` and ``nlp/sentiment/en``.

A glob is matched by walking the name once with the set of places the pattern may be at (a
Thompson simulation, no backtracking): at most one step per pattern part and character of the
name, whatever the pattern. A regular expression would backtrack, and ``**?**?**?...Z``
took minutes per name. A glob holds at most :data:`MAX_WILDCARDS` wildcards.

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
from dataclasses import dataclass

from modelshelf.errors import InvalidInputError

__all__ = ["MAX_WILDCARDS", "is_glob", "listing_prefix", "name_matches"]

_GLOB_CHARS = frozenset("*?[")
MAX_WILDCARDS = 32
"""The most wildcards (``*``, ``**``, ``?``, ``[...]``) one glob holds: far more than anyone
types, and few enough that matching stays cheap on a server that matches every name it lists."""

# How a part of a glob moves on one character of the name.
_CHAR, _NOT_SLASH, _ANY, _CLASS, _SLASH = range(5)


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
    matching its first segments).

    Raises:
        InvalidInputError: a glob with more than :data:`MAX_WILDCARDS` wildcards.
    """
    wanted = pattern.strip("/")
    if not wanted:
        return True
    if not is_glob(wanted):
        return name == wanted or name.startswith(wanted + "/")
    return _compiled(wanted).run(name)[0]


@dataclass(frozen=True)
class _Glob:
    """A glob as a small automaton: state ``i`` is "part ``i`` is next"; the last state
    accepts. ``moves[i]`` are ``(kind, argument, next state)`` on one character, ``free[i]``
    the states reached without one (after a ``*``, or skipping a ``**/``)."""

    moves: tuple[tuple[tuple[int, object, int], ...], ...]
    free: tuple[tuple[int, ...], ...]

    def run(self, name: str) -> tuple[bool, int]:
        """Whether the glob selects ``name`` (matching it whole, or its first segments), and
        the steps it took: at most one per (state, character), so len(states) * len(name)."""
        accept = len(self.moves) - 1
        current = self._closure({0})
        steps = 0
        for char in name:
            if accept in current and char == "/":
                return True, steps  # the glob matched the first segments: the rest may follow
            following: set[int] = set()
            for state in current:
                steps += 1
                for kind, argument, target in self.moves[state]:
                    if _moves_on(kind, argument, char):
                        following.add(target)
            if not following:
                return False, steps
            current = self._closure(following)
        return accept in current, steps

    def _closure(self, states: set[int]) -> set[int]:
        pending = list(states)
        while pending:
            for target in self.free[pending.pop()]:
                if target not in states:
                    states.add(target)
                    pending.append(target)
        return states


def _moves_on(kind: int, argument: object, char: str) -> bool:
    if kind == _CHAR:
        return char == argument
    if kind == _NOT_SLASH:
        return char != "/"
    if kind == _ANY:
        return True
    if kind == _SLASH:
        return char == "/"
    return char != "/" and argument.fullmatch(char) is not None  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=64)
def _compiled(pattern: str) -> _Glob:
    """``pattern`` as an automaton: ``?`` and a class take one character but ``/``, ``*`` any
    run of them, ``**`` any run at all, ``**/`` at a segment's start zero or more whole
    segments; any other character is itself."""
    moves: list[list[tuple[int, object, int]]] = []
    free: list[list[int]] = []
    wildcards = 0

    def state() -> int:
        moves.append([])
        free.append([])
        return len(moves) - 1

    here = state()
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if pattern.startswith("**", i):
            at_segment_start = i == 0 or pattern[i - 1] == "/"
            i += 2
            while i < n and pattern[i] == "*":  # *** is **
                i += 1
            if at_segment_start and pattern.startswith("/", i):
                i += 1  # zero or more whole segments: skip them all, or any run ending in '/'
                inside, after = state(), state()
                free[here] += [inside, after]
                moves[inside] += [(_ANY, None, inside), (_SLASH, None, after)]
                here = after
            else:
                moves[here].append((_ANY, None, here))
                after = state()
                free[here].append(after)
                here = after
        elif char == "*":
            moves[here].append((_NOT_SLASH, None, here))
            after = state()
            free[here].append(after)
            here = after
            i += 1
        else:
            end = _class_end(pattern, i) if char == "[" else None
            if char == "?":
                move: tuple[int, object] = (_NOT_SLASH, None)
                i += 1
            elif end is not None:
                move = (_CLASS, re.compile(_class(pattern[i : end + 1]), re.DOTALL))
                i = end + 1
            else:
                move = (_CHAR, char)  # an unclosed [ is itself, as in fnmatch
                i += 1
            after = state()
            moves[here].append((*move, after))
            here = after
            wildcards += char == "?" or end is not None
            continue
        wildcards += 1
    if wildcards > MAX_WILDCARDS:
        raise InvalidInputError(
            f"the pattern {pattern[:200]!r} holds {wildcards} wildcards, more than the"
            f" {MAX_WILDCARDS} a pattern may hold; use fewer (one * or ** covers many)"
        )
    return _Glob(tuple(map(tuple, moves)), tuple(map(tuple, free)))


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
