"""Tiny sinks for tests: importable as ``tests.sinks_fixtures:Name`` by ``--to``."""

from __future__ import annotations

from typing import Any

from modelshelf import PulledVersion

RECEIVED: list[PulledVersion] = []


class RecordingSink:
    """Keeps what it receives in ``RECEIVED``; returns a made-up URL."""

    def __call__(self, pulled: PulledVersion) -> str:
        RECEIVED.append(pulled)
        return f"recorded://{pulled.name}/{pulled.version}"


class FailingSink:
    """Always fails, as a real sink whose endpoint refused would."""

    def __call__(self, pulled: PulledVersion) -> str:
        raise ConnectionError("registry at 127.0.0.1:1 refused the upload")


class NotCallable:
    """Instances have no __call__."""


class NeedsArguments:
    """Cannot be created with no arguments."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def __call__(self, pulled: PulledVersion) -> str:
        return self.endpoint


def function_sink(pulled: PulledVersion) -> str:
    """A plain function is a sink too."""
    return f"fn://{pulled.name}"


NOT_A_SINK: Any = 42
