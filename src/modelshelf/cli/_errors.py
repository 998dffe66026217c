"""How the CLI reports errors: one line with the cause, the next step, exit code 1.

Each known error type maps to a formatter; the most specific match wins. ``MODELSHELF_DEBUG=1``
prints the traceback as well.
"""

from __future__ import annotations

from collections.abc import Callable

from modelshelf import errors

__all__ = ["format_error"]

Formatter = Callable[[BaseException], str]


def _versions_hint(exc: BaseException) -> str:
    name = getattr(exc, "name", "") or "NAME"
    return f"{exc}\n  hint: list the versions with `modelshelf versions {name}`"


def _aliases_hint(exc: BaseException) -> str:
    name = getattr(exc, "name", "") or "NAME"
    return f"{exc}\n  hint: list the aliases with `modelshelf alias ls {name}`"


# Errors whose own message does not already say what to run next; subclasses first.
_FORMATTERS: list[tuple[type[BaseException], Formatter]] = [
    (errors.VersionNotFoundError, _versions_hint),
    (errors.AliasNotFoundError, _aliases_hint),
]


def format_error(exc: BaseException) -> str:
    """The message to print for ``exc`` (without the ``error:`` prefix)."""
    for kind, formatter in _FORMATTERS:
        if isinstance(exc, kind):
            return formatter(exc)
    if isinstance(exc, errors.ModelshelfError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
