"""Paths a user typed (flags, environment, config): the one place a ``~`` is expanded.

Only a ``~`` or ``~user`` the user typed first is expanded, judged on the raw text:
:class:`~pathlib.Path` drops a leading ``./``, after which ``expanduser`` would read
``./~root`` (a folder named ``~root`` here) as root's home.

Example:
    >>> str(user_path("./~root"))
    '~root'
    >>> user_path("~") == Path.home()
    True
"""

from __future__ import annotations

import os
from pathlib import Path

from modelshelf.errors import InvalidInputError

__all__ = ["user_path"]


def user_path(text: str | os.PathLike[str], what: str = "folder") -> Path:
    """The path a user typed, with only a leading ``~`` or ``~user`` segment expanded.

    A :class:`~pathlib.Path` passed in is taken as it is, never expanded: its text no longer
    tells a typed ``~`` from ``./~`` (call ``expanduser`` yourself where you mean it).

    Raises:
        InvalidInputError: empty, holds NUL, or ``~user`` of an unknown user (or no home).
    """
    raw = os.fspath(text)
    if not raw or "\x00" in raw:
        raise InvalidInputError(f"the {what} {raw!r} is not a path; name a {what}")
    if isinstance(text, Path) or not raw.startswith("~"):
        return Path(raw)
    first, sep, rest = raw.partition("/")
    try:
        home = str(Path(first).expanduser())
    except RuntimeError:  # ~user of an unknown user, or no home
        home = first
    if home == first:
        shown = repr(first[:61]) if len(first) <= 60 else repr(first[:57]) + "..."
        raise InvalidInputError(
            f"cannot use the {what} {shown}: it names no home folder; write ./{first} for a"
            " folder of that name"
        )
    return Path(home + sep + rest)
