"""The request queue in front of a model: adaptive batching, back-pressure and retry-alone.

``submit`` puts a request in a bounded queue and awaits its :class:`Answer`. One collector task
forms batches whenever one of ``threads`` worker threads is free: it takes the oldest request,
then (with ``max_batch_size > 1``) more, until the rows reach ``max_batch_size`` or
``max_batch_delay_ms`` has passed since the oldest of them was submitted (so a request that
already waited for a thread waits no longer). While every thread is busy requests pile up, so
batches grow with the load and cost nothing when it is light.

A worker runs a batch under ONE lease (one pinned model version)::

    with acquire() as lease:
        prepared = [lease.preprocess(data) for each request]   # a failure fails that request only
        output = lease.predict(merge(prepared))                 # one call for the batchable ones
        answers = [lease.postprocess(part) for part in split(output, rows)]

When the merged call fails, or its output cannot be split, each request runs alone on the same
lease (a request whose postprocess fails on its slice runs alone too; the others keep their
answers), so one poisoned request fails only itself. A failure is classified: the runner's
ValueError/TypeError/KeyError/IndexError (``InvalidInputError`` is a ValueError) means the body
was wrong -> :class:`RejectedInput` (400); anything else -> :class:`RunnerFailed` (500). Both are
logged with their traceback and request id on the ``modelshelf.serve`` logger. An exception
from ``acquire`` itself (``NotReady``: 503) reaches every request of the batch unchanged.

No runner code ever runs on the event loop thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from modelshelf.serve._batching import merge, rows_of, split

__all__ = ["Acquire", "Answer", "Batcher", "Lease", "QueueFull", "RejectedInput", "RunnerFailed"]

logger = logging.getLogger("modelshelf.serve")

# A runner raising one of these rejected the request's body (InvalidInputError is a ValueError).
_REJECTING = (ValueError, TypeError, KeyError, IndexError)


class Lease(Protocol):
    """One pinned model version, held for the duration of a batch (``_slot.py`` hands these out)."""

    @property
    def version(self) -> str:
        """The version that answers (``"1.2"``, or ``"local"`` for a file)."""
        ...

    @property
    def signature(self) -> Any:
        """What the version takes and gives (a ``Signature``), or ``None``: its output names
        name the answer."""
        ...

    def preprocess(self, data: Any) -> Any:
        """Turn one request body into runner input."""
        ...

    def predict(self, prepared: Any) -> Any:
        """Run the model on (possibly merged) prepared input."""
        ...

    def postprocess(self, output: Any) -> Any:
        """Turn one request's slice of the output into its answer."""
        ...


Acquire = Callable[[], contextlib.AbstractContextManager[Lease]]


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


@dataclass(eq=False)
class _Request:
    data: Any
    request_id: str
    rows: int  # raw rows, for the batch size: unknown rows count 1
    arrived: float  # loop.time() at submit
    future: asyncio.Future[Answer]
    finished: bool = field(default=False)


# What a worker hands back per request: an answer or the exception to raise in ``submit``.
_Outcome = Answer | BaseException


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
        self._max_queue = max_queue
        self._threads = threads
        self._on_batch = on_batch
        self._queue: deque[_Request] = deque()
        self._pending = 0
        self._closing = False
        self._collector: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._wakeup: asyncio.Event | None = None
        self._free: asyncio.Semaphore | None = None
        self._running: set[asyncio.Future[list[_Outcome]]] = set()

    @property
    def pending(self) -> int:
        """Requests queued or running (a cancelled running request counts until it finishes)."""
        return self._pending

    async def start(self) -> None:
        """Start the worker threads and the collector on the running event loop.

        A batcher closed by :meth:`aclose` starts afresh (an app whose lifespan runs again).
        """
        if self._collector is not None and (self._collector.done() or self._closing):
            self.reset()
        if self._collector is not None:
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                self._threads, thread_name_prefix="modelshelf-serve"
            )
        self._wakeup = asyncio.Event()
        self._free = asyncio.Semaphore(self._threads)
        self._collector = asyncio.create_task(self._collect(), name="modelshelf-serve-batcher")

    def reset(self) -> None:
        """Forget the state of a previous event loop; its requests went with it."""
        self._queue.clear()
        self._pending = 0
        self._closing = False
        self._collector = None
        self._wakeup = None
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
        if self._closing:
            raise QueueFull("the server is shutting down; retry on another one", retry_after=1.0)
        if self._collector is None or self._wakeup is None:
            raise RuntimeError("Batcher.submit before Batcher.start")
        if self._pending >= self._max_queue:
            raise QueueFull(
                f"{self._pending} requests are already waiting (the limit is {self._max_queue}); "
                "retry shortly",
                retry_after=1.0,
            )
        loop = asyncio.get_running_loop()
        request = _Request(data, request_id, _raw_rows(data), loop.time(), loop.create_future())
        self._queue.append(request)
        self._pending += 1
        self._wakeup.set()
        try:
            return await request.future
        except asyncio.CancelledError:
            if request in self._queue:  # still waiting: it never runs
                self._queue.remove(request)
                self._finish(request)
            self._wakeup.set()  # a forming batch drops it (and need not wait for it)
            raise

    async def aclose(self) -> None:
        """Refuse new requests, finish every queued and running one, then stop the threads."""
        self._closing = True
        if self._wakeup is not None:
            self._wakeup.set()
        if self._collector is not None:
            await self._collector
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    # -- the collector (event loop) -----------------------------------------------------------

    def _finish(self, request: _Request) -> None:
        if not request.finished:
            request.finished = True
            self._pending -= 1

    def _next_waiting(self) -> _Request | None:
        """The oldest queued request whose caller still waits (cancelled ones are dropped)."""
        while self._queue:
            if not self._queue[0].future.done():
                return self._queue[0]
            self._finish(self._queue.popleft())
        return None

    async def _wait(self, timeout: float | None) -> None:
        """Wait for a new request, a cancellation or closing, at most ``timeout`` seconds."""
        assert self._wakeup is not None
        self._wakeup.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wakeup.wait()

    def _live(self, batch: list[_Request]) -> list[_Request]:
        """``batch`` without the requests whose callers gave up while it formed."""
        for request in batch:
            if request.future.done():
                self._finish(request)
        return [request for request in batch if not request.future.done()]

    async def _next_batch(self) -> list[_Request] | None:
        """Take the next batch off the queue; None once closing and nothing is left.

        The batch grows while its rows stay within ``max_batch_size`` and until
        ``max_batch_delay_ms`` after its oldest request arrived (no waiting once closing).
        """
        loop = asyncio.get_running_loop()
        batch: list[_Request] = []
        while True:
            batch = self._live(batch)
            rows = sum(request.rows for request in batch)
            if batch and rows >= self._max_rows:
                return batch
            following = self._next_waiting()
            if following is not None:
                if batch and rows + following.rows > self._max_rows:
                    return batch  # it starts the next batch
                batch.append(self._queue.popleft())
                continue
            if not batch:
                if self._closing:
                    return None
                await self._wait(None)
                continue
            remaining = batch[0].arrived + self._delay - loop.time()
            if self._closing or remaining <= 0:
                return batch
            await self._wait(remaining)

    async def _collect(self) -> None:
        """Form batches while a worker thread is free and hand them to it, until closed."""
        assert self._free is not None and self._executor is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._free.acquire()
            batch = await self._next_batch()
            if batch is None:
                self._free.release()
                return
            running = loop.run_in_executor(self._executor, self._run_batch, batch)
            self._running.add(running)
            running.add_done_callback(functools.partial(self._settle, batch))
            # Not held while waiting for the next batch: the body budget is given back after
            # the answer, so the last batch's decoded inputs must die with it.
            del batch, running

    def _settle(self, batch: list[_Request], done: asyncio.Future[list[_Outcome]]) -> None:
        """Back on the loop: free the thread and hand each caller its outcome."""
        assert self._free is not None
        self._running.discard(done)
        self._free.release()
        outcomes = done.result()  # _run_batch never raises
        for request, outcome in zip(batch, outcomes, strict=True):
            self._finish(request)
            if request.future.done():  # the caller gave up: drop the result
                continue
            if isinstance(outcome, BaseException):
                request.future.set_exception(outcome)
            else:
                request.future.set_result(outcome)

    # -- the workers (threads) ----------------------------------------------------------------

    def _run_batch(self, batch: list[_Request]) -> list[_Outcome]:
        """Run one batch under one lease; every request gets an outcome, nothing raises."""
        outcomes: list[_Outcome | None] = [None] * len(batch)
        try:
            with self._acquire() as lease:
                _BatchRun(lease, batch, outcomes, self._on_batch).run()
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


def _raw_rows(data: Any) -> int:
    """Rows a raw request body counts for the batch size: unknown rows count 1."""
    rows = rows_of(data)
    return 1 if rows is None else max(rows, 1)


def _describe(exc: BaseException, limit: int = 300) -> str:
    """``Type: text``, clipped: the text often quotes the client's own (large) input."""
    text = str(exc)
    if len(text) > limit:
        text = text[:limit] + f"... ({len(text) - limit} more characters)"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _BatchRun:
    """One batch inside its lease (runs on a worker thread)."""

    def __init__(
        self,
        lease: Lease,
        batch: list[_Request],
        outcomes: list[_Outcome | None],
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
                self.outcomes[index] = self._failure(exc, request, "preprocess")
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

    def _run_alone(self, index: int, data: Any) -> _Outcome:
        request = self.batch[index]
        rows = rows_of(data)
        self._count(1 if rows is None else rows, 1)
        stage = "predict"
        try:
            output = self.lease.predict(data)
            stage = "postprocess"
            return Answer(self.lease.postprocess(output), self.lease.version, self.lease.signature)
        except Exception as exc:
            return self._failure(exc, request, stage)

    def _failure(self, exc: Exception, request: _Request, stage: str) -> Exception:
        """Classify and log a runner exception for one request."""
        failure: Exception
        if isinstance(exc, _REJECTING):
            # The client's fault: no traceback, and the text (often its input) clipped.
            described = _describe(exc)
            logger.info(
                "request %s: the model rejected the input in %s: %s",
                request.request_id,
                stage,
                described,
            )
            failure = RejectedInput(
                f"the model rejected the input ({stage}): {described}",
                request_id=request.request_id,
            )
        else:
            logger.error(
                "request %s: the model failed in %s", request.request_id, stage, exc_info=exc
            )
            failure = RunnerFailed(
                f"the model failed in {stage} ({type(exc).__name__}); the server log has the "
                "details under this request id",
                request_id=request.request_id,
            )
        failure.__cause__ = exc
        return failure
