"""The batcher: the front of the request queue and the collector that feeds the worker threads.

``submit`` puts a request in the bounded queue (:mod:`modelshelf.serve._queue`: admission and
back-pressure) and awaits its outcome (:mod:`modelshelf.serve._outcomes`). One collector task
forms batches whenever one of ``threads`` worker threads is free (:mod:`modelshelf.serve._assembly`:
by rows and delay; while every thread is busy requests pile up, so batches grow with the load and
cost nothing when it is light), hands each to a thread that runs it under one lease
(:mod:`modelshelf.serve._batch_run`; the lease is :mod:`modelshelf.serve._lease`), and back on
the loop hands every caller its outcome. This module owns the life of all that: start, reset for
a new event loop, and a close that finishes what is queued and running.

No runner code ever runs on the event loop thread.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from modelshelf.serve._assembly import next_batch
from modelshelf.serve._batch_run import run_batch
from modelshelf.serve._lease import Acquire
from modelshelf.serve._outcomes import Answer, Outcome
from modelshelf.serve._queue import Queued, RequestQueue

__all__ = ["Batcher"]


class Batcher:
    """Queue requests, batch them by rows and run them on a thread pool under leases.

    Args:
        acquire: Returns a context manager that pins the active model version for one batch.
        max_batch_size: Most rows per predict call; 1 turns batching off (no waiting).
        max_batch_delay_ms: How long a batch may wait for more requests after its first arrived.
        max_queue: Most requests queued or running; beyond it ``submit`` raises QueueFull.
        threads: Worker threads, so this many batches can run at once.
        on_batch: Called as ``on_batch(rows, requests)`` once per predict call, from a worker.

    Example:
        In the app's lifespan (``slot.acquire`` pins the active version)::

            batcher = Batcher(slot.acquire, max_batch_size=32, max_batch_delay_ms=5)
            await batcher.start()
            answer = await batcher.submit([[1.0, 2.0]], request_id="r1")
            await batcher.aclose()
    """

    def __init__(
        self,
        acquire: Acquire,
        *,
        max_batch_size: int = 1,
        max_batch_delay_ms: float = 0.0,
        max_queue: int = 256,
        threads: int = 2,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> None:
        if max_batch_size < 1 or max_queue < 1 or threads < 1 or max_batch_delay_ms < 0:
            raise ValueError(
                "max_batch_size, max_queue and threads must be at least 1 and "
                f"max_batch_delay_ms at least 0 (got {max_batch_size}, {max_queue}, {threads}, "
                f"{max_batch_delay_ms})"
            )
        self._acquire = acquire
        self._max_rows = max_batch_size
        self._delay = max_batch_delay_ms / 1000.0
        self._threads = threads
        self._on_batch = on_batch
        self._queue = RequestQueue(max_queue)
        self._collector: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._free: asyncio.Semaphore | None = None
        self._running: set[asyncio.Future[list[Outcome]]] = set()

    @property
    def pending(self) -> int:
        """Requests queued or running (a cancelled running request counts until it finishes)."""
        return self._queue.pending

    async def start(self) -> None:
        """Start the worker threads and the collector on the running event loop.

        A batcher closed by :meth:`aclose` starts afresh (an app whose lifespan runs again).
        """
        if self._collector is not None and (self._collector.done() or self._queue.closing):
            self.reset()
        if self._collector is not None:
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                self._threads, thread_name_prefix="modelshelf-serve"
            )
        self._queue.open()
        self._free = asyncio.Semaphore(self._threads)
        self._collector = asyncio.create_task(self._collect(), name="modelshelf-serve-batcher")

    def reset(self) -> None:
        """Forget the state of a previous event loop; its requests went with it."""
        self._queue.reset()
        self._collector = None
        self._free = None
        self._running = set()

    async def submit(self, data: Any, *, request_id: str) -> Answer:
        """Queue one request and wait for its answer.

        Args:
            data: The request body, as the runner's ``preprocess`` takes it.
            request_id: Names the request in the log and in errors.

        Returns:
            The postprocessed prediction and the version that made it.

        Raises:
            QueueFull: The queue is full or the batcher is closing; retry after ``retry_after``.
            RejectedInput: The runner rejected this body.
            RunnerFailed: The runner failed on it otherwise.
            Exception: Whatever ``acquire`` raised (``NotReady`` while no model is loaded).
        """
        request = self._queue.put(data, request_id)  # QueueFull, or RuntimeError before start
        try:
            return await request.future
        except asyncio.CancelledError:
            self._queue.withdraw(request)
            raise

    async def aclose(self) -> None:
        """Refuse new requests, finish every queued and running one, then stop the threads."""
        self._queue.close()
        if self._collector is not None:
            await self._collector
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    # -- the collector (event loop) -----------------------------------------------------------

    async def _collect(self) -> None:
        """Form batches while a worker thread is free and hand them to it, until closed."""
        assert self._free is not None and self._executor is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._free.acquire()
            batch = await next_batch(self._queue, self._max_rows, self._delay)
            if batch is None:
                self._free.release()
                return
            running = loop.run_in_executor(
                self._executor, run_batch, self._acquire, batch, self._on_batch
            )
            self._running.add(running)
            running.add_done_callback(functools.partial(self._settle, batch))
            # Not held while waiting for the next batch: the body budget is given back after
            # the answer, so the last batch's decoded inputs must die with it.
            del batch, running

    def _settle(self, batch: list[Queued], done: asyncio.Future[list[Outcome]]) -> None:
        """Back on the loop: free the thread and hand each caller its outcome."""
        assert self._free is not None
        self._running.discard(done)
        self._free.release()
        outcomes = done.result()  # run_batch never raises
        for request, outcome in zip(batch, outcomes, strict=True):
            self._queue.finish(request)
            if request.future.done():  # the caller gave up: drop the result
                continue
            if isinstance(outcome, BaseException):
                request.future.set_exception(outcome)
            else:
                request.future.set_result(outcome)
