"""One batch on a worker thread, under one lease: merged where it can be, alone where it must.

A worker runs a batch under ONE lease (one pinned model version)::

    with acquire() as lease:
        prepared = [lease.preprocess(data) for each request]   # a failure fails that request only
        output = lease.predict(merge(prepared))                 # one call for the batchable ones
        answers = [lease.postprocess(part) for part in split(output, rows)]

When the merged call fails, or its output cannot be split, each request runs alone on the same
lease (a request whose postprocess fails on its slice runs alone too; the others keep their
answers), so one poisoned request fails only itself. A runner's exception becomes its request's
outcome through :func:`~modelshelf.serve._outcomes.failure_of`. An exception from ``acquire``
itself (``NotReady``: 503) reaches every request of the batch unchanged. Nothing here raises:
every request gets an outcome, and the event loop hands each to its caller.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from modelshelf.serve._batching import merge, rows_of, split
from modelshelf.serve._lease import Acquire, Lease
from modelshelf.serve._outcomes import Answer, Outcome, RunnerFailed, failure_of
from modelshelf.serve._queue import Queued

__all__ = ["run_batch"]

logger = logging.getLogger("modelshelf.serve")


def run_batch(
    acquire: Acquire, batch: list[Queued], on_batch: Callable[[int, int], None] | None
) -> list[Outcome]:
    """Run one batch under one lease; every request gets an outcome, nothing raises.

    Args:
        acquire: Pins the active model version for the batch.
        batch: The requests, in queue order.
        on_batch: Called as ``on_batch(rows, requests)`` once per predict call.

    Returns:
        One outcome per request of ``batch``, in its order.
    """
    outcomes: list[Outcome | None] = [None] * len(batch)
    try:
        with acquire() as lease:
            _BatchRun(lease, batch, outcomes, on_batch).run()
    except Exception as exc:  # acquire (NotReady) or the lease's release failed
        if any(outcome is not None for outcome in outcomes):
            logger.error("releasing the model lease failed", exc_info=exc)
        outcomes = [exc if outcome is None else outcome for outcome in outcomes]
    except BaseException as exc:  # SystemExit from runner code is a 500, not a dead server
        logger.error("a batch failed", exc_info=exc)
    return [
        RunnerFailed("the model server left this request unanswered", request_id=r.request_id)
        if outcome is None
        else outcome
        for r, outcome in zip(batch, outcomes, strict=True)
    ]


class _BatchRun:
    """One batch inside its lease (runs on a worker thread)."""

    def __init__(
        self,
        lease: Lease,
        batch: list[Queued],
        outcomes: list[Outcome | None],
        on_batch: Callable[[int, int], None] | None,
    ) -> None:
        self.lease = lease
        self.batch = batch
        self.outcomes = outcomes
        self.on_batch = on_batch

    def run(self) -> None:
        """Preprocess each request, predict the batchable ones together, the others alone."""
        prepared: dict[int, Any] = {}
        for index, request in enumerate(self.batch):
            try:
                prepared[index] = self.lease.preprocess(request.data)
            except Exception as exc:
                self.outcomes[index] = failure_of(exc, request.request_id, "preprocess")
        together = {i: p for i, p in prepared.items() if (rows_of(p) or 0) > 0}
        if len(together) < 2 or not self._run_merged(together):
            together = {}
        for index, data in prepared.items():
            if index not in together or self.outcomes[index] is None:
                self.outcomes[index] = self._run_alone(index, data)

    def _count(self, rows: int, requests: int) -> None:
        if self.on_batch is not None:
            try:
                self.on_batch(rows, requests)
            except Exception:
                logger.exception("the on_batch callback failed")

    def _run_merged(self, parts: dict[int, Any]) -> bool:
        """One predict for all ``parts``; False (nothing answered) when it must run alone."""
        rows = [rows_of(data) or 0 for data in parts.values()]
        ids = ", ".join(self.batch[index].request_id for index in parts)
        merged = merge(list(parts.values()))
        if merged is None:
            return False
        self._count(sum(rows), len(parts))
        try:
            pieces = split(self.lease.predict(merged), rows)
        except Exception as exc:
            logger.info(
                "a batch of %d failed (%s); running each alone", len(parts), ids, exc_info=exc
            )
            return False
        if pieces is None:
            logger.info(
                "the output of a batch of %d cannot be split; running each alone", len(parts)
            )
            return False
        for index, piece in zip(parts, pieces, strict=True):
            try:  # a postprocess failure leaves that request unanswered: it then runs alone
                self.outcomes[index] = Answer(
                    self.lease.postprocess(piece), self.lease.version, self.lease.signature
                )
            except Exception:
                self.outcomes[index] = None
        return True

    def _run_alone(self, index: int, data: Any) -> Outcome:
        request = self.batch[index]
        rows = rows_of(data)
        self._count(1 if rows is None else rows, 1)
        stage = "predict"
        try:
            output = self.lease.predict(data)
            stage = "postprocess"
            return Answer(self.lease.postprocess(output), self.lease.version, self.lease.signature)
        except Exception as exc:
            return failure_of(exc, request.request_id, stage)
