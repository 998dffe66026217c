"""Who may do what: a token's scopes (``read:nlp/``, ``write:*``, ``admin:*``) and the check.

``write`` implies ``read``; ``admin`` implies both. A prefix is ``*`` (every name) or a name
prefix: ``nlp/`` covers the names that start with ``nlp/``, ``nlp`` covers ``nlp`` and every
name under it (whole segments, so never ``nlp2``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from modelshelf.errors import InvalidInputError

__all__ = ["ACTIONS", "Action", "Scope", "parse_scope", "parse_scopes"]

Action = Literal["read", "write", "admin"]
ACTIONS: tuple[Action, ...] = ("read", "write", "admin")
_RANK = {action: rank for rank, action in enumerate(ACTIONS)}
_PREFIX = re.compile(r"\*|[A-Za-z0-9][A-Za-z0-9._/-]{0,199}")


@dataclass(frozen=True)
class Scope:
    """One grant: ``action`` (and the actions below it) on the names ``prefix`` covers."""

    action: Action
    prefix: str

    def __str__(self) -> str:
        return f"{self.action}:{self.prefix}"

    def covers_name(self, name: str) -> bool:
        """True if ``name`` lies under this scope's prefix."""
        if self.prefix == "*":
            return True
        if self.prefix.endswith("/"):
            return name.startswith(self.prefix)
        return name == self.prefix or name.startswith(self.prefix + "/")

    def grants(self, action: Action) -> bool:
        """True if this scope's action is ``action`` or implies it (on some names)."""
        return _RANK[self.action] >= _RANK[action]

    def allows(self, action: Action, name: str | None) -> bool:
        """True if this scope grants ``action`` on ``name`` (``None``: on every name, which
        only a ``*`` scope covers)."""
        if not self.grants(action):
            return False
        return self.prefix == "*" if name is None else self.covers_name(name)


def parse_scope(text: str) -> Scope:
    """``read:nlp/`` -> ``Scope("read", "nlp/")``.

    Raises:
        InvalidInputError: not ``ACTION:PREFIX`` with a known action and a name prefix or ``*``.

    Example:
        >>> parse_scope("write:nlp/")
        Scope(action='write', prefix='nlp/')
    """
    action, sep, prefix = text.partition(":")
    if not sep or action not in _RANK or not _PREFIX.fullmatch(prefix) or "//" in prefix:
        raise InvalidInputError(
            f"the scope {text[:100]!r} is not ACTION:PREFIX; ACTION is read, write or admin,"
            " PREFIX an asset-name prefix (nlp/) or * for every name: e.g. read:nlp/ or write:*"
        )
    return Scope(action, prefix)


def parse_scopes(texts: list[str] | tuple[str, ...]) -> tuple[Scope, ...]:
    """Every scope of a token; at least one.

    Raises:
        InvalidInputError: none given, or one that :func:`parse_scope` refuses.
    """
    if not texts:
        raise InvalidInputError("a token needs at least one scope, e.g. read:* or write:nlp/")
    return tuple(parse_scope(t) for t in texts)
