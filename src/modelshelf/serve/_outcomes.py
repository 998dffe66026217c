"""What a queued request ends with, and which runner failures are the client's fault.

A request queued on the :class:`~modelshelf.serve._batcher.Batcher` ends with an :class:`Answer`
or one of three errors, each one status on both faces: :class:`QueueFull` (429 with
Retry-After: the queue is full or closing), :class:`RejectedInput` (400) and
:class:`RunnerFailed` (500). :func:`failure_of` is the one rule that classifies an exception of
the runner: ValueError/TypeError/KeyError/IndexError (``InvalidInputError`` is a ValueError)
means the body was wrong -> :class:`RejectedInput`; anything else -> :class:`RunnerFailed`. Both
are logged with the request id on the ``modelshelf.serve`` logger (a runner failure with its
traceback).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

__all__ = ["Answer", "Outcome", "QueueFull", "RejectedInput", "RunnerFailed", "failure_of"]

logger = logging.getLogger("modelshelf.serve")

# A runner raising one of these rejected the request's body (InvalidInputError is a ValueError).
_REJECTING = (ValueError, TypeError, KeyError, IndexError)


class QueueFull(Exception):  # noqa: N818 (the names SERVE.md gives)
    """The queue holds ``max_queue`` requests, or the batcher is closing (429 + Retry-After)."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class RejectedInput(Exception):  # noqa: N818 (the names SERVE.md gives)
    """The runner rejected this request's body (400); ``message`` tells the client why."""

    def __init__(self, message: str, *, request_id: str) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id


class RunnerFailed(Exception):  # noqa: N818 (the names SERVE.md gives)
    """The runner failed on this request for a reason of its own (500); the log has details."""

    def __init__(self, message: str, *, request_id: str) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id


@dataclass(frozen=True)
class Answer:
    """One request's prediction (after postprocess), the model version that made it and that
    version's signature (``None`` if it has none), so that the answer is named by it."""

    output: Any
    version: str
    signature: Any = None


# What a worker hands back per request: an answer or the exception to raise in ``submit``.
Outcome = Answer | BaseException


def _describe(exc: BaseException, limit: int = 300) -> str:
    """``Type: text``, clipped: the text often quotes the client's own (large) input."""
    text = str(exc)
    if len(text) > limit:
        text = text[:limit] + f"... ({len(text) - limit} more characters)"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def failure_of(exc: Exception, request_id: str, stage: str) -> Exception:
    """Classify and log a runner exception for one request.

    Args:
        exc: What the runner raised.
        request_id: The request it failed on.
        stage: ``"preprocess"``, ``"predict"`` or ``"postprocess"``.

    Returns:
        :class:`RejectedInput` or :class:`RunnerFailed`, caused by ``exc``.
    """
    failure: Exception
    if isinstance(exc, _REJECTING):
        # The client's fault: no traceback, and the text (often its input) clipped.
        described = _describe(exc)
        logger.info(
            "request %s: the model rejected the input in %s: %s",
            request_id,
            stage,
            described,
        )
        failure = RejectedInput(
            f"the model rejected the input ({stage}): {described}",
            request_id=request_id,
        )
    else:
        logger.error("request %s: the model failed in %s", request_id, stage, exc_info=exc)
        failure = RunnerFailed(
            f"the model failed in {stage} ({type(exc).__name__}); the server log has the "
            "details under this request id",
            request_id=request_id,
        )
    failure.__cause__ = exc
    return failure
