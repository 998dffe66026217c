"""The request queue: admission within ``max_queue``, the waiting requests in order, and the
count of those queued or running.

:meth:`RequestQueue.put` admits a request or refuses it with
:class:`~modelshelf.serve._outcomes.QueueFull` (the queue is full, or closing), and wakes the
collector. A request counts as pending from ``put`` until it is finished: answered, or dropped
because its caller gave up (a cancelled request still waiting is withdrawn at once; one already
taken into a batch is finished when that batch lets go of it). Event-loop only; no threads.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from modelshelf.serve._batching import rows_of
from modelshelf.serve._outcomes import Answer, QueueFull

__all__ = ["Queued", "RequestQueue"]


@dataclass(eq=False)
class Queued:
    """One request from ``put`` until it is finished."""

    data: Any
    request_id: str
    rows: int  # raw rows, for the batch size: unknown rows count 1
    arrived: float  # loop.time() at submit
    future: asyncio.Future[Answer]
    finished: bool = field(default=False)


def _raw_rows(data: Any) -> int:
    """Rows a raw request body counts for the batch size: unknown rows count 1."""
    rows = rows_of(data)
    return 1 if rows is None else max(rows, 1)


class RequestQueue:
    """The waiting requests, oldest first, and the admission that bounds them.

    Args:
        max_queue: Most requests queued or running; beyond it ``put`` raises QueueFull.

    ``len()`` is the number still waiting (not yet taken into a batch); :attr:`pending` also
    counts those taken and not yet finished. :meth:`open` (on the running loop) makes the
    wakeup event; :meth:`close` refuses new requests.
    """

    def __init__(self, max_queue: int) -> None:
        self.max_queue = max_queue
        self._waiting: deque[Queued] = deque()
        self.pending = 0
        self.closing = False
        self.wakeup: asyncio.Event | None = None

    def __len__(self) -> int:
        return len(self._waiting)

    def open(self) -> None:
        """Make the event that wakes the collector (a new request, a cancellation, closing)."""
        self.wakeup = asyncio.Event()

    def close(self) -> None:
        """Refuse new requests and wake the collector, so that it drains without waiting."""
        self.closing = True
        if self.wakeup is not None:
            self.wakeup.set()

    def reset(self) -> None:
        """Forget the state of a previous event loop; its requests went with it."""
        self._waiting.clear()
        self.pending = 0
        self.closing = False
        self.wakeup = None

    def put(self, data: Any, request_id: str) -> Queued:
        """Admit one request (on the running loop) and wake the collector.

        Raises:
            QueueFull: The queue is closing, or holds ``max_queue`` requests.
            RuntimeError: The queue was never opened (``Batcher.start`` was not awaited).
        """
        if self.closing:
            raise QueueFull("the server is shutting down; retry on another one", retry_after=1.0)
        if self.wakeup is None:
            raise RuntimeError("Batcher.submit before Batcher.start")
        if self.pending >= self.max_queue:
            raise QueueFull(
                f"{self.pending} requests are already waiting (the limit is {self.max_queue}); "
                "retry shortly",
                retry_after=1.0,
            )
        loop = asyncio.get_running_loop()
        request = Queued(data, request_id, _raw_rows(data), loop.time(), loop.create_future())
        self._waiting.append(request)
        self.pending += 1
        self.wakeup.set()
        return request

    def withdraw(self, request: Queued) -> None:
        """Its caller gave up: still waiting, it never runs; a forming batch drops it."""
        if request in self._waiting:  # still waiting: it never runs
            self._waiting.remove(request)
            self.finish(request)
        if self.wakeup is not None:
            self.wakeup.set()  # a forming batch drops it (and need not wait for it)

    def finish(self, request: Queued) -> None:
        """It no longer counts as pending (answered or dropped); once only."""
        if not request.finished:
            request.finished = True
            self.pending -= 1

    def next_waiting(self) -> Queued | None:
        """The oldest queued request whose caller still waits (cancelled ones are dropped)."""
        while self._waiting:
            if not self._waiting[0].future.done():
                return self._waiting[0]
            self.finish(self._waiting.popleft())
        return None

    def take(self) -> Queued:
        """Take the oldest waiting request off the queue (into a batch)."""
        return self._waiting.popleft()

    def live(self, batch: list[Queued]) -> list[Queued]:
        """``batch`` without the requests whose callers gave up while it formed."""
        for request in batch:
            if request.future.done():
                self.finish(request)
        return [request for request in batch if not request.future.done()]

    async def wait(self, timeout: float | None) -> None:
        """Wait for a new request, a cancellation or closing, at most ``timeout`` seconds."""
        assert self.wakeup is not None
        self.wakeup.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self.wakeup.wait()
