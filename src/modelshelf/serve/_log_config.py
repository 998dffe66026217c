"""How ``modelshelf serve`` writes its log records: the logging config it hands uvicorn.

Every record of the server process and of each worker (uvicorn's, ours, and any library's
warning) goes to stderr through one handler: as ``<time> <LEVEL> <logger>: <message>`` lines
(:class:`TextLines`), or, with ``--json``, as one JSON object per record (:class:`JsonLines`),
so that a log collector parses every line. Either way a message is outside text (a library's,
quoting a store's): control characters are escaped and secrets cut. Access lines are JSON
objects already, in either mode. uvicorn applies this config in each worker process it spawns
(the config travels with it).
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from modelshelf import constants, trust
from modelshelf._secrets import without_secrets

__all__ = ["JsonLines", "TextLines", "log_config"]

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


class TextLines(logging.Formatter):
    """One record as ``<time> <LEVEL> <logger>: <message>``, the message on one line with its
    control characters escaped (:func:`modelshelf.trust.escape_controls`) and secrets cut, as
    :class:`JsonLines` does: outside text cannot drive a terminal or add a line that reads as
    another record. A traceback keeps its lines (each escaped); each exception's own text in it
    is escaped whole, newlines included, for the same reason.
    """

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        # Not logging's format: it would reuse ``record.exc_text`` that another handler (a
        # library's own) may have cached unescaped.
        record.message = trust.escape_controls(without_secrets(record.getMessage()))
        record.asctime = self.formatTime(record, self.datefmt)
        text = self.formatMessage(record)
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        elif record.exc_text:
            text += "\n" + _lines_escaped(without_secrets(record.exc_text))
        if record.stack_info:
            text += "\n" + self.formatStack(record.stack_info)
        return text

    def formatException(self, ei: _ExcInfo) -> str:  # noqa: N802 (logging's name)
        _, exc, _ = ei
        if exc is None:
            return ""
        top = traceback.TracebackException.from_exception(exc)
        # Python's own chunks (frames, "Traceback ...", "The above exception ...") keep their
        # lines; the chunks that carry an exception's text are escaped whole.
        texts: set[str] = set()
        pending = [top]
        while pending:
            one = pending.pop()
            texts.update(one.format_exception_only())
            pending.extend(e for e in (one.__cause__, one.__context__) if e is not None)
        lines = [
            trust.escape_controls(chunk.removesuffix("\n"))
            if chunk in texts
            else _lines_escaped(chunk.removesuffix("\n"))
            for chunk in top.format()
        ]
        return without_secrets("\n".join(lines))

    def formatStack(self, stack_info: str) -> str:  # noqa: N802 (logging's name)
        return _lines_escaped(without_secrets(stack_info))


def _lines_escaped(text: str) -> str:
    """``text`` with its lines kept and every other control character escaped."""
    return "\n".join(map(trust.escape_controls, text.split("\n")))


class JsonLines(logging.Formatter):
    """One record as ``{"time", "level", "logger", "message"[, "exception"]}`` on one line.

    ``json.dumps`` escapes every control character, so a message quoting outside text (a
    path, a request, a library's error) stays one line and cannot drive a terminal; secrets
    in URLs are cut like everywhere else.
    """

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": without_secrets(record.getMessage()),
        }
        if record.exc_info:
            data["exception"] = without_secrets(self.formatException(record.exc_info))
        return json.dumps(data)


def log_config(access_log: bool, as_json: bool = False) -> dict[str, Any]:
    """uvicorn's ``log_config``: ours, uvicorn's and every other logger's records to stderr
    (plain lines, or :class:`JsonLines` with ``as_json``); access lines are JSON objects."""
    ours = "DEBUG" if constants.debug() else "WARNING"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "lines": {"()": f"{__name__}.{'JsonLines' if as_json else 'TextLines'}"},
            "access": {"format": "%(message)s"},
        },
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "lines"},
            "access": {"class": "logging.StreamHandler", "formatter": "access"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            # modelshelf's other records (a load's warnings) and the server's own.
            "modelshelf": {"handlers": ["stderr"], "level": ours, "propagate": False},
            "modelshelf.serve": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "modelshelf.serve.access": {
                "handlers": ["access"],
                "level": "INFO" if access_log else "WARNING",
                "propagate": False,
            },
        },
        # A library's warning (a runner's torch, sklearn...): not Python's bare last-resort line.
        "root": {"handlers": ["stderr"], "level": "WARNING"},
    }
