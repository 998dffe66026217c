"""modelshelf.serve._batcher: batching by rows, back-pressure, retry-alone, cancellation, close.

Every test drives a real Batcher on its own event loop (``asyncio.run``) against a fake lease.
Ordering is forced with threading events, never with sleeps: a request whose body is ``"hold"``
blocks the worker thread inside ``predict`` until the test releases it, so the requests that
follow queue up deterministically and then form one batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import numpy as np
import pytest

from modelshelf.serve._batcher import Batcher
from modelshelf.serve._lease import Lease
from modelshelf.serve._outcomes import Answer, QueueFull, RejectedInput, RunnerFailed

WAIT = 10.0  # seconds; only a safety net so a broken batcher fails instead of hanging


class NotReadyError(Exception):
    """Stands in for the slot's NotReady."""


class FakeModel:
    """Hands out leases; records every predict call, its rows and its thread.

    A body is a list of rows. ``predict`` multiplies int rows by 10 and keeps str rows, except:
    "hold" blocks until ``release`` is set; "bad" raises ValueError; "boom" raises RuntimeError;
    "sync2" waits at a two-party barrier. ``postprocess`` fails on an output holding "pp";
    ``preprocess`` raises KeyError on the body "reject-me". With ``summing`` predict returns one
    number for the whole call (an output that cannot be split).
    """

    def __init__(self, *, summing: bool = False) -> None:
        self.summing = summing
        self.calls: list[Any] = []
        self.threads: set[int] = set()
        self.leases = 0
        self.version = "1.2"
        self.entered = threading.Event()
        self.release = threading.Event()
        self.barrier = threading.Barrier(2, timeout=WAIT)
        self.not_ready = False
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def acquire(self) -> Iterator[Lease]:
        if self.not_ready:
            raise NotReadyError("no model loaded yet")
        with self._lock:
            self.leases += 1
            lease = FakeLease(self, f"{self.version}#{self.leases}")
        yield lease

    @property
    def rows_per_call(self) -> list[int]:
        return [len(call) if isinstance(call, list) else 1 for call in self.calls]


class FakeLease:
    signature = None  # the batcher hands it on with each answer

    def __init__(self, model: FakeModel, version: str) -> None:
        self.model = model
        self.version = version

    def _record_thread(self) -> None:
        with self.model._lock:
            self.model.threads.add(threading.get_ident())

    def preprocess(self, data: Any) -> Any:
        self._record_thread()
        if data == "reject-me":
            raise KeyError("features")
        return data

    def predict(self, prepared: Any) -> Any:
        self._record_thread()
        with self.model._lock:
            self.model.calls.append(prepared)
        rows = prepared if isinstance(prepared, list) else [prepared]
        if "hold" in rows:
            self.model.entered.set()
            assert self.model.release.wait(WAIT)
        if "sync2" in rows:
            self.model.barrier.wait()
        if "bad" in rows:
            raise ValueError("bad is not a number")
        if "boom" in rows:
            raise RuntimeError("the model broke")
        if "exit" in rows:
            raise SystemExit(3)
        if self.model.summing:
            return sum(row for row in rows if isinstance(row, int))
        return [row * 10 if isinstance(row, int) else row for row in rows]

    def postprocess(self, output: Any) -> Any:
        self._record_thread()
        if isinstance(output, list) and "pp" in output:
            raise RuntimeError("postprocess broke")
        return output


Scenario = Callable[[Batcher, FakeModel], Awaitable[None]]


def run(scenario: Scenario, model: FakeModel | None = None, **options: Any) -> FakeModel:
    """Run ``scenario`` against a started Batcher on a fresh loop, then close the batcher."""
    model = model or FakeModel()

    async def main() -> None:
        batcher = Batcher(model.acquire, **options)
        await batcher.start()
        try:
            await asyncio.wait_for(scenario(batcher, model), WAIT)
        finally:
            model.release.set()
            await asyncio.wait_for(batcher.aclose(), WAIT)
        assert batcher.pending == 0

    asyncio.run(main())
    return model


async def hold_worker(batcher: Batcher, model: FakeModel) -> asyncio.Task[Answer]:
    """Occupy a worker thread with a "hold" request and return once it is inside predict."""
    task = asyncio.ensure_future(batcher.submit(["hold"], request_id="hold"))
    assert await asyncio.to_thread(model.entered.wait, WAIT)
    return task


async def queue_behind_hold(
    batcher: Batcher, model: FakeModel, bodies: list[Any]
) -> tuple[asyncio.Task[Answer], list[asyncio.Task[Answer]]]:
    """Queue ``bodies`` while the only thread is held, so they are all waiting together."""
    hold = await hold_worker(batcher, model)
    tasks = [
        asyncio.ensure_future(batcher.submit(body, request_id=f"r{index}"))
        for index, body in enumerate(bodies)
    ]
    while batcher.pending < len(bodies) + 1:
        await asyncio.sleep(0)  # let every submit reach the queue
    return hold, tasks


async def outcomes(tasks: list[asyncio.Task[Answer]]) -> list[Any]:
    return list(await asyncio.gather(*tasks, return_exceptions=True))


# -- batching -------------------------------------------------------------------------------------


def test_requests_waiting_together_run_as_one_predict_call_each_gets_its_slice() -> None:
    got: list[Any] = []

    async def scenario(batcher: Batcher, model: FakeModel) -> None:
        hold, tasks = await queue_behind_hold(batcher, model, [[1], [2, 3], [4]])
        model.release.set()
        await hold
        got.extend(await outcomes(tasks))

    model = run(scenario, max_batch_size=8, threads=1)
    assert model.rows_per_call == [1, 4]  # the hold alone, then ONE call for the three
    assert model.calls[1] == [1, 2, 3, 4]
    assert [answer.output for answer in got] == [[10], [20, 30], [40]]


def test_batch_waits_for_more_until_the_rows_reach_max_batch_size() -> None:
    # A delay far longer than the test: the batch can only start because the rows reached 3.
    got: list[Any] = []

    async def scenario(batcher: Batcher, model: FakeModel) -> None:
        first = asyncio.ensure_future(batcher.submit([1], request_id="a"))
        await asyncio.sleep(0)
        rest = [asyncio.ensure_future(batcher.submit([n], request_id=str(n))) for n in (2, 3)]
        got.extend(await outcomes([first, *rest]))

    model = run(scenario, max_batch_size=3, max_batch_delay_ms=600_000, threads=1)
    assert model.rows_per_call == [3]
    assert [answer.output for answer in got] == [[10], [20], [30]]


def test_max_batch_size_counts_rows_not_requests() -> None:
    async def scenario(batcher: Batcher, model: FakeModel) -> None:
        hold, tasks = await queue_behind_hold(batcher, model, [[1] * 5, [2], [3] * 3])
        model.release.set()
        await hold
        await outcomes(tasks)

    model = run(scenario, max_batch_size=6, threads=1)
    assert model.rows_per_call == [1, 6, 3]  # 5 + 1 fill a batch; the 3 would overflow it


def test_request_larger_than_max_batch_size_runs_alone() -> None:
    got: list[Any] = []

    async def scenario(batcher: Batcher, model: FakeModel) -> None:
        hold, tasks = await queue_behind_hold(batcher, model, [[1], [2] * 7, [3]])
        model.release.set()
        await hold
        got.extend(await outcomes(tasks))

    model = run(scenario, max_batch_size=4, threads=1)
    assert model.rows_per_call == [1, 1, 7, 1]
    assert got[1].output == [20] * 7


def test_max_batch_size_one_is_one_request_per_call() -> None:
    async def scenario(batcher: Batcher, model: FakeModel) -> None:
        hold, tasks = await queue_behind_hold(batcher, model, [[1], [2], [3]])
        model.release.set()
        await hold
        await outcomes(tasks)

    model = run(scenario, max_batch_size=1, threads=1)
    assert model.rows_per_call == [1, 1, 1, 1]


def test_unbatchable_body_runs_alone_the_others_merge() -> None:
    got: list[Any] = []

    async def scenario(batcher: Batcher, model: FakeModel) -> None:
        hold, tasks = await queue_behind_hold(batcher, model, [[1], 5, [2]])
        model.release.set()
        await hold
        got.extend(await outcomes(tasks))

    model = run(scenario, max_batch_size=8, threads=1)
    assert model.calls[1:] == [[1, 2], 5]
    assert [answer.output for answer in got] == [[10], [50], [20]]


def test_on_batch_is_called_once_per_predict_call_with_rows_and_requests() -> None:
    seen: list[tuple[int, int]] = []

    async def scenario(batcher: Batcher, model: FakeModel) -> None:
        hold, tasks = await queue_behind_hold(batcher, model, [[1, 2], [3]])
        model.release.set()
        await hold
        await outcomes(tasks)

    run(scenario, max_batch_size=8, threads=1, on_batch=lambda r, n: seen.append((r, n)))
    assert seen == [(1, 1), (3, 2)]


class ArrayLease:
    """A runner on numpy: preprocess makes a float array, predict answers a dict of columns."""

    version = "3.0"
    signature = None

    def __init__(self, calls: list[np.ndarray[Any, Any]]) -> None:
        self.calls = calls

    def preprocess(self, data: Any) -> Any:
        return np.asarray(data, dtype=np.float64)

    def predict(self, prepared: Any) -> Any:
        self.calls.append(prepared)
        return {"total": prepared.sum(axis=1), "first": prepared[:, 0]}

    def postprocess(self, output: Any) -> Any:
        return {key: value.tolist() for key, value in output.items()}


def test_array_bodies_merge_into_one_array_and_dict_outputs_split_per_request() -> None:
    calls: list[np.ndarray[Any, Any]] = []

    @contextlib.contextmanager
    def acquire() -> Iterator[Lease]:
        yield ArrayLease(calls)

    async def main() -> list[Answer]:
        batcher = Batcher(acquire, max_batch_size=3, max_batch_delay_ms=600_000, threads=1)
        await batcher.start()
        bodies = [[[1, 2]], [[3, 4], [5, 6]]]
        tasks = [batcher.submit(body, request_id=str(n)) for n, body in enumerate(bodies)]
        answers = await asyncio.wait_for(asyncio.gather(*tasks), WAIT)
        await batcher.aclose()
        return answers

    answers = asyncio.run(main())
    assert [call.shape for call in calls] == [(3, 2)]
    assert answers[0].output == {"total": [3.0], "first": [1.0]}
    assert answers[1].output == {"total": [7.0, 11.0], "first": [3.0, 5.0]}
    assert answers[1].version == "3.0"


# -- failures -------------------------------------------------------------------------------------


def test_poisoned_requests_in_a_merged_batch_fail_only_themselves(
    caplog: pytest.LogCaptureFixture,
) -> None:
    got: list[Any] = []

    async def scenario(batcher: Batcher, model: FakeModel) -> None:
        bodies = [[1], ["bad"], [2], ["boom"]]
        hold, tasks = await queue_behind_hold(batcher, model, bodies)
        model.release.set()
        await hold
        got.extend(await outcomes(tasks))

    with caplog.at_level(logging.INFO, logger="modelshelf.serve"):
        model = run(scenario, max_batch_size=8, threads=1)
    assert model.rows_per_call == [1, 4, 1, 1, 1, 1]  # merged once, then each alone
    assert got[0].output == [10]
    assert got[2].output == [20]
    assert isinstance(got[1], RejectedInput)
    assert "ValueError: bad is not a number" in got[1].message
    assert isinstance(got[3], RunnerFailed)
    assert got[3].request_id == "r3"
    assert "the model broke" not in got[3].message  # the details stay in the log
    failed = [rec for rec in caplog.records if rec.levelno == logging.ERROR]
    assert len(failed) == 1
    assert "r3" in failed[0].getMessage()
    assert failed[0].exc_info is not None
    assert isinstance(failed[0].exc_info[1], RuntimeError)


def test_output_that_cannot_be_split_reruns_each_request_alone() -> None:
    got: list[Any] = []

    async def scenario(batcher: Batcher, model: FakeModel) -> None:
        hold, tasks = await queue_behind_hold(batcher, model, [[1, 2], [3]])
        model.release.set()
        await hold
        got.extend(await outcomes(tasks))

    model = run(scenario, FakeModel(summing=True), max_batch_size=8, threads=1)
    assert model.calls[1:] == [[1, 2, 3], [1, 2], [3]]
    assert [answer.output for answer in got] == [3, 3]


def test_preprocess_failure_fails_that_request_only() -> None:
    got: list[Any] = []

    async def scenario(batcher: Batcher, model: FakeModel) -> None:
        hold, tasks = await queue_behind_hold(batcher, model, [[1], "reject-me", [2]])
        model.release.set()
        await hold
        got.extend(await outcomes(tasks))

    model = run(scenario, max_batch_size=8, threads=1)
    assert model.calls[1:] == [[1, 2]]
    assert isinstance(got[1], RejectedInput)
    assert "preprocess" in got[1].message
    assert "KeyError" in got[1].message


def test_postprocess_failure_in_a_merged_batch_reruns_only_that_request() -> None:
    got: list[Any] = []

    async def scenario(batcher: Batcher, model: FakeModel) -> None:
        hold, tasks = await queue_behind_hold(batcher, model, [[1], ["pp"], [2]])
        model.release.set()
        await hold
        got.extend(await outcomes(tasks))

    model = run(scenario, max_batch_size=8, threads=1)
    assert model.calls[1:] == [[1, "pp", 2], ["pp"]]
    assert [got[0].output, got[2].output] == [[10], [20]]
    assert isinstance(got[1], RunnerFailed)
    assert "postprocess" in got[1].message


def test_system_exit_in_the_runner_fails_its_batch_not_the_server() -> None:
    got: list[Any] = []

    async def scenario(batcher: Batcher, model: FakeModel) -> None:
        got.extend(
            await outcomes([asyncio.ensure_future(batcher.submit(["exit"], request_id="x"))])
        )
        got.append(await batcher.submit([1], request_id="y"))

    run(scenario)
    assert isinstance(got[0], RunnerFailed)
    assert got[1].output == [10]


def test_acquire_failure_reaches_every_request_of_the_batch_unchanged() -> None:
    got: list[Any] = []

    async def scenario(batcher: Batcher, model: FakeModel) -> None:
        model.not_ready = True
        got.extend(await outcomes([asyncio.ensure_future(batcher.submit([1], request_id="x"))]))
        model.not_ready = False
        got.append(await batcher.submit([2], request_id="y"))

    run(scenario)
    assert isinstance(got[0], NotReadyError)
    assert got[1].output == [20]


# -- back-pressure, cancellation, close ----------------------------------------------------------


def test_full_queue_raises_queue_full_at_once() -> None:
    got: list[Any] = []

    async def scenario(batcher: Batcher, model: FakeModel) -> None:
        hold, tasks = await queue_behind_hold(batcher, model, [[1], [2]])
        assert batcher.pending == 3
        with pytest.raises(QueueFull) as info:
            await batcher.submit([3], request_id="over")
        assert info.value.retry_after > 0
        assert "3" in info.value.message
        model.release.set()
        await hold
        got.extend(await outcomes(tasks))
        got.append(await batcher.submit([4], request_id="after"))  # room again

    model = run(scenario, max_queue=3, threads=1)
    assert [answer.output for answer in got] == [[10], [20], [40]]
    assert [3] not in model.calls


def test_cancelled_waiting_request_is_skipped_and_the_batcher_stays_healthy() -> None:
    got: list[Any] = []

    async def scenario(batcher: Batcher, model: FakeModel) -> None:
        hold = await hold_worker(batcher, model)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(batcher.submit([7], request_id="late"), 0.01)
        assert batcher.pending == 1  # only the held one
        model.release.set()
        await hold
        got.append(await batcher.submit([1], request_id="next"))

    model = run(scenario, max_batch_size=4, threads=1)
    assert [7] not in model.calls
    assert got[0].output == [10]


def test_request_cancelled_while_its_batch_forms_is_dropped_from_it() -> None:
    # A delay far longer than the test: the batch can only start by reaching 2 live rows.
    async def scenario(batcher: Batcher, model: FakeModel) -> None:
        gone = asyncio.ensure_future(batcher.submit([7], request_id="gone"))
        while batcher.pending == 0 or batcher._queue:  # queued, then taken: a batch is forming
            await asyncio.sleep(0)
        gone.cancel()
        while batcher.pending:  # the forming batch lets go of it
            await asyncio.sleep(0)
        answers = await asyncio.gather(
            batcher.submit([1], request_id="a"), batcher.submit([2], request_id="b")
        )
        assert [answer.output for answer in answers] == [[10], [20]]

    model = run(scenario, max_batch_size=2, max_batch_delay_ms=600_000, threads=1)
    assert model.calls == [[1, 2]]


def test_cancelled_running_request_finishes_and_its_result_is_dropped() -> None:
    async def scenario(batcher: Batcher, model: FakeModel) -> None:
        hold = await hold_worker(batcher, model)
        hold.cancel()
        with pytest.raises(asyncio.CancelledError):
            await hold
        assert batcher.pending == 1  # still running in its thread
        model.release.set()
        answer = await batcher.submit([1], request_id="next")
        assert answer.output == [10]

    model = run(scenario, threads=1)
    assert model.calls == [["hold"], [1]]


def test_aclose_finishes_queued_work_and_refuses_new() -> None:
    got: list[Any] = []

    async def scenario(batcher: Batcher, model: FakeModel) -> None:
        hold, tasks = await queue_behind_hold(batcher, model, [[1], [2]])
        closing = asyncio.ensure_future(batcher.aclose())
        await asyncio.sleep(0)
        with pytest.raises(QueueFull) as info:
            await batcher.submit([3], request_id="too-late")
        assert info.value.retry_after == 1
        assert not closing.done()
        model.release.set()
        await closing
        assert all(task.done() for task in [hold, *tasks])
        got.extend(await outcomes([hold, *tasks]))

    model = run(scenario, max_batch_size=1, threads=1)
    assert [answer.output for answer in got] == [["hold"], [10], [20]]
    assert [3] not in model.calls


def test_aclose_runs_a_forming_batch_without_waiting_out_its_delay() -> None:
    got: list[Any] = []

    async def scenario(batcher: Batcher, model: FakeModel) -> None:
        task = asyncio.ensure_future(batcher.submit([1], request_id="a"))
        while batcher.pending == 0 or batcher._queue:  # taken: its batch waits for more
            await asyncio.sleep(0)
        await batcher.aclose()  # a 600 s delay would outlast WAIT
        got.append(await task)

    model = run(scenario, max_batch_size=4, max_batch_delay_ms=600_000, threads=1)
    assert model.calls == [[1]]
    assert got[0].output == [10]


def test_submit_before_start_is_an_error() -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError, match="start"):
            await Batcher(FakeModel().acquire).submit([1], request_id="x")

    asyncio.run(main())


@pytest.mark.parametrize("options", [{"max_batch_size": 0}, {"threads": 0}, {"max_queue": 0}])
def test_bad_options_are_refused(options: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Batcher(FakeModel().acquire, **options)


# -- leases and threads ---------------------------------------------------------------------------


def test_one_lease_per_batch_and_the_answer_carries_its_version() -> None:
    got: list[Any] = []

    async def scenario(batcher: Batcher, model: FakeModel) -> None:
        hold, tasks = await queue_behind_hold(batcher, model, [[1], [2], [3]])
        model.version = "2.0"  # a swap: the next batch answers with the new version
        model.release.set()
        got.append(await hold)
        got.extend(await outcomes(tasks))

    model = run(scenario, max_batch_size=8, threads=1)
    assert model.leases == 2
    assert [answer.version for answer in got] == ["1.2#1", "2.0#2", "2.0#2", "2.0#2"]


def test_two_threads_run_two_batches_at_once() -> None:
    # Each predict waits at a two-party barrier: it passes only if both run at the same time.
    got: list[Any] = []

    async def scenario(batcher: Batcher, model: FakeModel) -> None:
        tasks = [
            asyncio.ensure_future(batcher.submit(["sync2"], request_id=str(n))) for n in range(2)
        ]
        got.extend(await outcomes(tasks))

    model = run(scenario, max_batch_size=1, threads=2)
    assert [answer.output for answer in got] == [["sync2"], ["sync2"]]
    assert len(model.threads) == 2


def test_no_runner_code_runs_on_the_event_loop_thread() -> None:
    loop_threads: list[int] = []

    async def scenario(batcher: Batcher, model: FakeModel) -> None:
        loop_threads.append(threading.get_ident())
        bodies = [[1], "reject-me", ["bad"], 5, [2], ["pp"]]
        tasks = [
            asyncio.ensure_future(batcher.submit(body, request_id=str(n)))
            for n, body in enumerate(bodies)
        ]
        await outcomes(tasks)

    model = run(scenario, max_batch_size=8, threads=2)
    assert model.threads
    assert loop_threads[0] not in model.threads
