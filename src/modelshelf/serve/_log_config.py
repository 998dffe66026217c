"""How ``modelshelf serve`` writes its log records: the logging config it hands uvicorn.

Every record of the server process and of each worker (uvicorn's, ours, and any library's
warning) goes to stderr through one handler: as ``<time> <LEVEL> <logger>: <message>`` lines,
or, with ``--json``, as one JSON object per record (:class:`JsonLines`), so that a log
collector parses every line. Access lines are JSON objects already, in either mode. uvicorn
applies this config in each worker process it spawns (the config travels with it).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from modelshelf import constants
from modelshelf._secrets import without_secrets

__all__ = ["JsonLines", "log_config"]


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
    plain: dict[str, Any] = {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    ours = "DEBUG" if constants.debug() else "WARNING"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "lines": {"()": f"{__name__}.JsonLines"} if as_json else plain,
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
