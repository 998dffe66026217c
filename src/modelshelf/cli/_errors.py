"""How the CLI reports errors: one line with the cause, the next step, exit code 1; with
``--json``, one JSON object on one line (:func:`json_error`).

Each known error type maps to a formatter; the most specific match wins. ``MODELSHELF_DEBUG=1``
prints the traceback as well. Every line is escaped (:func:`printable`): messages quote store
text, which must not reach a terminal raw.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from modelshelf import errors
from modelshelf._secrets import without_secrets
from modelshelf.cli._common import printable

__all__ = ["error_hint", "error_line", "error_text", "format_error", "json_error"]

Formatter = Callable[[BaseException], str]


def _text(exc: BaseException) -> str:
    """The message of ``exc`` with the arguments it names as flags (``--trust``, not
    ``trust=True``): :data:`modelshelf.errors.OPTIONS`."""
    return exc.render(errors.FOR_CLI) if isinstance(exc, errors.ModelshelfError) else str(exc)


def _versions_hint(exc: BaseException) -> str:
    name = getattr(exc, "name", "") or "NAME"
    return f"list the versions with `modelshelf versions {name}`"


def _aliases_hint(exc: BaseException) -> str:
    name = getattr(exc, "name", "") or "NAME"
    return f"list the aliases with `modelshelf alias ls {name}`"


# Errors whose own message does not already say what to run next; subclasses first.
_HINTS: list[tuple[type[BaseException], Formatter]] = [
    (errors.VersionNotFoundError, _versions_hint),
    (errors.AliasNotFoundError, _aliases_hint),
]


def error_hint(exc: BaseException) -> str | None:
    """The next step for ``exc`` when its message does not say it, apart from the message:
    printed as ``  hint: ...`` under the error line, or as ``--json``'s ``"hint"`` field."""
    for kind, hint in _HINTS:
        if isinstance(exc, kind):
            return without_secrets(hint(exc))
    return None


def format_error(exc: BaseException) -> str:
    """The message to print for ``exc`` (without the ``error:`` prefix or the hint)."""
    if isinstance(exc, errors.ModelshelfError):
        return _text(exc)
    return f"{type(exc).__name__}: {exc}"


def error_text(exc: BaseException) -> str:
    """What to say of ``exc``, with secrets cut but not yet escaped (``--json`` escapes it).

    Our own messages may span lines on purpose (a caret under a spec). Anything that
    is not a modelshelf or OS error is a bug: one line, and how to see the traceback.
    """
    if isinstance(exc, errors.ModelshelfError):
        text = format_error(exc)
    elif isinstance(exc, OSError):  # e.g. an -o folder we may not write to
        where = f": {exc.filename}" if exc.filename else ""
        text = f"{exc.strerror or exc}{where}"
    else:
        lines = str(exc).strip().splitlines()
        detail = f": {lines[0]}" if lines else ""
        text = (
            f"unexpected {type(exc).__name__}{detail}. This is a bug; run again with"
            " MODELSHELF_DEBUG=1 to see the traceback, and report it"
        )
    # Formatters build text from the error's fields (URLs among them): cut again, as a whole.
    return without_secrets(text)


def error_line(exc: BaseException) -> str:
    """What ``main`` prints after ``error: `` for any exception, escaped for the terminal.

    Each line of :func:`error_text` is escaped on its own.
    """
    return "\n".join(printable(line) for line in error_text(exc).split("\n"))


def json_error(message: str, kind: str, code: int, hint: str | None = None) -> str:
    """The one line ``--json`` prints on stderr for a failure: ``{"error", "type", "exit"}``.

    ``json.dumps`` escapes every control character, so store text in a message cannot reach
    a terminal raw, and a message of several lines stays one line.
    """
    data: dict[str, object] = {"error": message, "type": kind, "exit": code}
    if hint:
        data["hint"] = without_secrets(hint)
    return json.dumps(data)
