"""One hook's deliveries while this replica holds the lease: follow the log, queue per asset,
deliver each queue in order, advance the cursor.

Each asset has its own queue (a *lane*) and one task delivering it head first: a failing event
of asset A holds back A's later events for this hook, never B's. At most ``per_hook`` deliveries
of a hook are in flight at once, and ``in_flight`` over every hook (a shared limiter), so one
dead receiver holding its lanes in timeouts cannot starve the others of more than its share.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from modelshelf.errors import ModelshelfError, ObjectExistsError
from modelshelf.registry.webhooks._frontier import Frontier
from modelshelf.registry.webhooks.deliveries import Attempt, DeliveryLog
from modelshelf.registry.webhooks.hooks import Cursor, Hook, HookBook, event_of, shown_url
from modelshelf.registry.webhooks.lease import Lease
from modelshelf.registry.webhooks.schedule import RetryPolicy
from modelshelf.registry.webhooks.sender import AsyncSender, Outcome
from modelshelf.registry.webhooks.signing import TIME_FORMAT
from modelshelf.store.bucket import Store
from modelshelf.store.changes import Change, ChangeFollower

__all__ = ["HookRunner", "LeaseLostError"]

log = logging.getLogger("modelshelf.registry.webhooks")
T = TypeVar("T")


class LeaseLostError(Exception):
    """This replica no longer holds the lease (or another one moved a cursor): stop."""


def _epoch(iso: str) -> float:
    try:
        return datetime.strptime(iso, TIME_FORMAT).replace(tzinfo=UTC).timestamp()
    except (TypeError, ValueError):
        return time.time()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime(TIME_FORMAT)


class HookRunner:
    """Delivers one hook's events (see the module).

    Args:
        threads: the limiter of this package's blocking store calls (never the request pool).
        shared: the limiter of deliveries in flight over every hook.
        settings: a :class:`~modelshelf.registry.webhooks.dispatcher.WebhookSettings`.
    """

    def __init__(
        self,
        hook: Hook,
        store: Store,
        lease: Lease,
        sender: AsyncSender,
        threads: anyio.CapacityLimiter,
        shared: anyio.CapacityLimiter,
        settings: Any,
    ) -> None:
        self.hook = hook
        self.store = store
        self.lease = lease
        self.sender = sender
        self.book = HookBook(store)
        self.deliveries = DeliveryLog(store, settings.keep)
        self.retry: RetryPolicy = settings.retry
        self.settings = settings
        self._threads = threads
        self._shared = shared
        self._mine = anyio.CapacityLimiter(settings.per_hook)
        self._lanes: dict[str, deque[Change]] = {}
        self._written = 0

    async def _thread(self, call: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(call, *args, limiter=self._threads)

    async def run(self) -> None:
        """Deliver until cancelled; raises :class:`LeaseLostError` when another replica moved
        this hook's cursor."""
        cursor = await self._thread(self.book.read_cursor, self.hook)
        frontier = Frontier(cursor.cursor)
        follower = ChangeFollower(
            self.store, start=cursor.cursor, settle_seconds=self.settings.settle_seconds
        )
        skip = cursor.delivered
        self._saved = cursor
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._persisting, frontier)
                while True:
                    # Bounded memory: while a dead receiver holds many events, read no more.
                    room = self.settings.max_queued - frontier.waiting
                    try:
                        changes = await self._thread(follower.poll, room) if room > 0 else []
                    except ModelshelfError as exc:  # the store failed: read again later
                        log.warning("webhook %s: could not read the store's log (%s)",
                                    self.hook.id, exc)  # fmt: skip
                        changes = []
                    for change in changes:
                        event = event_of(change.action)
                        if (
                            change.id in skip
                            or event is None
                            or not self.hook.wants(event, change.name)
                        ):
                            frontier.done(change.id)
                            continue
                        frontier.pending(change.id)
                        lane = self._lanes.get(change.name)
                        if lane is None:
                            lane = self._lanes[change.name] = deque()
                            tasks.start_soon(self._deliver_lane, change.name, lane, frontier)
                        lane.append(change)
                    frontier.settle(follower.settled)
                    await anyio.sleep(self.settings.poll_every)
        finally:
            with (
                anyio.CancelScope(shield=True),
                anyio.move_on_after(5),
                contextlib.suppress(LeaseLostError, ModelshelfError),
            ):
                if self.lease.held():  # the last cursor, so that a restart sends less again
                    await self._save(frontier, self._saved)

    async def _persisting(self, frontier: Frontier) -> None:
        while True:
            await anyio.sleep(self.settings.cursor_every)
            await self._save(frontier, self._saved)

    async def _save(self, frontier: Frontier, saved: Cursor) -> None:
        target = frontier.advance()
        delivered = frontier.delivered()
        if target == saved.cursor and delivered == saved.delivered:
            return
        if not self.lease.held():
            raise LeaseLostError("the lease expired before the cursor was saved")
        try:
            self._saved = await self._thread(
                self.book.write_cursor, self.hook, saved, target, delivered, self.lease.holder
            )
        except ObjectExistsError:
            raise LeaseLostError(
                f"another replica moved the cursor of webhook {self.hook.id}"
            ) from None
        except ModelshelfError as exc:
            log.warning("webhook %s: could not save its cursor (next try soon): %s",
                        self.hook.id, exc)  # fmt: skip

    async def _deliver_lane(self, asset: str, lane: deque[Change], frontier: Frontier) -> None:
        try:
            while lane:
                change = lane[0]
                await self._deliver(change)
                lane.popleft()
                frontier.finish(change.id)
        finally:
            if self._lanes.get(asset) is lane and not lane:
                del self._lanes[asset]

    async def _deliver(self, change: Change) -> None:
        """Deliver one event: until a 2xx, or until its day of retries is over."""
        event = event_of(change.action) or "push"
        delivery = f"{self.hook.id}:{change.id}"
        written = _epoch(str(change.record.get("when", "")))
        attempt = 0
        while True:
            attempt += 1
            if not self.lease.held():
                raise LeaseLostError("the lease expired")
            async with self._mine, self._shared:
                outcome = await self.sender.send(
                    self.hook, delivery, event, change.name, change.record
                )
            if outcome.ok:
                await self._record(change, delivery, event, attempt, outcome, None, "delivered")
                return
            failed_at = time.time()
            next_at = self.retry.next_try(written, attempt, failed_at)
            what = f"HTTP {outcome.status}" if outcome.status is not None else outcome.error
            if next_at is None:
                log.error(
                    "webhook %s (%s): gave up %s of %s after %d attempts over a day (last: %s)",
                    self.hook.id, shown_url(self.hook.url), delivery, change.name, attempt, what,
                )  # fmt: skip
                await self._record(change, delivery, event, attempt, outcome, None, "given_up")
                return
            log.warning(
                "webhook %s (%s): attempt %d of %s failed (%s); next in %.0f s",
                self.hook.id, shown_url(self.hook.url), attempt, delivery, what,
                next_at - failed_at,
            )  # fmt: skip
            await self._record(change, delivery, event, attempt, outcome, next_at, "retrying")
            await anyio.sleep(max(0.0, next_at - time.time()))

    async def _record(
        self,
        change: Change,
        delivery: str,
        event: str,
        attempt: int,
        outcome: Outcome,
        next_at: float | None,
        result: str,
    ) -> None:
        """Write the attempt in the delivery log; a failed write is logged, never retried
        (the log is for people; the cursor is what counts)."""
        record = Attempt(
            delivery=delivery, hook=self.hook.id, change=change.id, event=event,
            asset=change.name, attempt=attempt, status=outcome.status, error=outcome.error,
            duration_ms=outcome.duration_ms, at=outcome.sent_at,
            next_try=_iso(next_at) if next_at is not None else None, outcome=result,
        )  # fmt: skip
        try:
            await self._thread(self.deliveries.record, record)
            self._written += 1
            if self._written % self.settings.prune_every == 0:
                await self._thread(self.deliveries.prune, self.hook.id)
        except ModelshelfError as exc:
            log.warning("webhook %s: could not write its delivery log: %s", self.hook.id, exc)
