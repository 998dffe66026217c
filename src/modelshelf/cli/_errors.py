"""How the CLI reports errors: one line with the cause, the next step, exit code 1.

Each known error type maps to a formatter; the most specific match wins. ``MODELSHELF_DEBUG=1``
prints the traceback as well.
"""

from __future__ import annotations

from collections.abc import Callable

from modelshelf import errors

__all__ = ["format_error"]

Formatter = Callable[[BaseException], str]


def _plain(exc: BaseException) -> str:
    return str(exc)


def _hint(hint: str) -> Formatter:
    def fmt(exc: BaseException) -> str:
        return f"{exc}\n  hint: {hint}"

    return fmt


# Order matters: subclasses before their bases.
_FORMATTERS: list[tuple[type[BaseException], Formatter]] = [
    (errors.InvalidSpecError, _plain),
    (errors.VersionNotFoundError, _hint("list versions with `modelshelf versions NAME`")),
    (errors.AliasNotFoundError, _hint("list aliases with `modelshelf alias ls NAME`")),
    (errors.PathNotInVersionError, _plain),
    (errors.AssetNotFoundError, _plain),
    (errors.VersionExistsError, _plain),
    (errors.IntegrityError, _plain),
    (errors.OfflineError, _plain),
    (errors.StoreAuthError, _plain),
    (errors.StoreUnreachableError, _plain),
    (errors.UnsupportedStoreError, _plain),
    (errors.ModelshelfError, _plain),
]


def format_error(exc: BaseException) -> str:
    """The message to print for ``exc`` (without the ``error:`` prefix)."""
    for kind, formatter in _FORMATTERS:
        if isinstance(exc, kind):
            return formatter(exc)
    return f"{type(exc).__name__}: {exc}"
