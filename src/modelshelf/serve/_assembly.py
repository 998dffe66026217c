"""Batch assembly: which waiting requests share the next predict call, and how long to wait.

A batch takes the oldest waiting request, then (with ``max_batch_size > 1``) more, until its rows
reach ``max_batch_size`` or ``max_batch_delay_ms`` has passed since the oldest of them was
submitted (so a request that already waited for a thread waits no longer). A request that would
take the rows past the limit starts the next batch; one whose caller gave up while its batch
formed is dropped from it. Once the queue is closing nothing waits: what is queued runs as it is.
Assembly runs only when a worker thread is free, so batches grow with the load and cost nothing
when it is light. Event-loop only.
"""

from __future__ import annotations

import asyncio

from modelshelf.serve._queue import Queued, RequestQueue

__all__ = ["next_batch"]


async def next_batch(queue: RequestQueue, max_rows: int, delay: float) -> list[Queued] | None:
    """Take the next batch off ``queue``; None once closing and nothing is left.

    The batch grows while its rows stay within ``max_rows`` (``max_batch_size``) and until
    ``delay`` seconds after its oldest request arrived (no waiting once closing).
    """
    loop = asyncio.get_running_loop()
    batch: list[Queued] = []
    while True:
        batch = queue.live(batch)
        rows = sum(request.rows for request in batch)
        if batch and rows >= max_rows:
            return batch
        following = queue.next_waiting()
        if following is not None:
            if batch and rows + following.rows > max_rows:
                return batch  # it starts the next batch
            batch.append(queue.take())
            continue
        if not batch:
            if queue.closing:
                return None
            await queue.wait(None)
            continue
        remaining = batch[0].arrived + delay - loop.time()
        if queue.closing or remaining <= 0:
            return batch
        await queue.wait(remaining)
