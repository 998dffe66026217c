"""The dispatcher: the registry's background task that delivers every hook's events.

Every replica runs one (:func:`deliver_webhooks`, in ``RegistryContext.background``); only the
holder of the :class:`~modelshelf.registry.webhooks.lease.Lease` delivers. The holder lists the
hooks every ``hooks_every`` seconds and runs a
:class:`~modelshelf.registry.webhooks._runner.HookRunner` per hook; a runner follows the
store-wide log from the hook's cursor, so nothing in a request path waits for a delivery: a push
or an alias move is done when its write is, and its log record is what the dispatcher reads
afterwards. Store calls run on this package's own few threads, never the request thread pool.

Failures never end the app: a runner that fails is logged and started again after a pause; a
lost lease stops every runner (the next holder starts from the persisted cursors).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread

from modelshelf.errors import ModelshelfError
from modelshelf.registry.webhooks._runner import HookRunner, LeaseLostError
from modelshelf.registry.webhooks.deliveries import KEEP
from modelshelf.registry.webhooks.hooks import Hook, HookBook
from modelshelf.registry.webhooks.lease import Lease, replica_name
from modelshelf.registry.webhooks.schedule import RetryPolicy
from modelshelf.registry.webhooks.sender import TIMEOUT, AsyncSender
from modelshelf.store.bucket import Store

__all__ = ["Dispatcher", "WebhookSettings", "deliver_webhooks"]

log = logging.getLogger("modelshelf.registry.webhooks")


@dataclass(frozen=True)
class WebhookSettings:
    """How the dispatcher delivers (the defaults are the documented behaviour; tests shorten
    them). Set ``app.state.webhook_settings`` to one of these before the app starts to change
    them for an embedded registry.

    Attributes:
        retry: the backoff of failed deliveries.
        timeout: seconds a receiver has to answer one delivery.
        poll_every: seconds between two reads of the store-wide log.
        settle_seconds: how far behind a log record may land (the follower's window).
        lease_ttl: seconds a lease record holds (renewed every third of it).
        hooks_every: seconds between two listings of the hooks.
        cursor_every: seconds between two saves of a hook's cursor (when it moved).
        per_hook: deliveries of one hook in flight at once.
        in_flight: deliveries in flight at once, over every hook.
        keep: delivery records kept per hook.
        prune_every: delivery records written between two prunings of a hook's log.
        store_threads: threads for the dispatcher's store calls.
        max_queued: events of one hook held in memory waiting for delivery; past it the log is
            not read further until some are done (they wait in the store's log instead).
    """

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float = TIMEOUT
    poll_every: float = 1.0
    settle_seconds: float = 30.0
    lease_ttl: float = 30.0
    hooks_every: float = 10.0
    cursor_every: float = 1.0
    per_hook: int = 4
    in_flight: int = 16
    keep: int = KEEP
    prune_every: int = 50
    store_threads: int = 4
    max_queued: int = 10_000


class Dispatcher:
    """Delivers the webhooks of ``store`` while this replica holds the lease.

    Args:
        store: the registry's store.
        settings: how (default: :class:`WebhookSettings`).
        holder: this replica's name in the lease (default: host, pid and a random part).
    """

    def __init__(
        self, store: Store, settings: WebhookSettings | None = None, holder: str | None = None
    ) -> None:
        self.store = store
        self.settings = settings or WebhookSettings()
        self.lease = Lease(store, holder or replica_name(), self.settings.lease_ttl)
        self.book = HookBook(store)

    async def run(self) -> None:
        """Deliver until cancelled (the app stops); releases the lease on the way out.

        While the store has no hook, nothing is written (no lease is taken)."""
        threads = anyio.CapacityLimiter(self.settings.store_threads)
        try:
            while True:
                try:
                    hooks = await anyio.to_thread.run_sync(self.book.hooks, limiter=threads)
                    held = False
                    if hooks:
                        held = await anyio.to_thread.run_sync(self.lease.acquire, limiter=threads)
                    if held:
                        await self._deliver_while_held(threads)
                        await anyio.to_thread.run_sync(self.lease.release, limiter=threads)
                except Exception as exc:  # never end the app: log and try again
                    if _lost_lease(exc):
                        log.warning("webhooks: the lease was lost; this replica stops delivering")
                    else:
                        log.exception("webhooks: the dispatcher failed; trying again")
                await anyio.sleep(min(self.lease.renew_every, self.settings.hooks_every))
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await anyio.to_thread.run_sync(self.lease.release, limiter=threads)

    async def _deliver_while_held(self, threads: anyio.CapacityLimiter) -> None:
        sender = AsyncSender(self.settings.timeout, max_connections=self.settings.in_flight * 2)
        shared = anyio.CapacityLimiter(self.settings.in_flight)
        running: dict[str, anyio.CancelScope] = {}
        try:
            async with anyio.create_task_group() as tasks:

                async def renewing() -> None:
                    while True:
                        await anyio.sleep(self.lease.renew_every)
                        if not await anyio.to_thread.run_sync(self.lease.acquire, limiter=threads):
                            log.warning("webhooks: the lease could not be renewed; stopping")
                            tasks.cancel_scope.cancel()
                            return

                async def supervise(hook: Hook, scope: anyio.CancelScope) -> None:
                    with scope:
                        while True:
                            runner = HookRunner(hook, self.store, self.lease, sender, threads,
                                                shared, self.settings)  # fmt: skip
                            try:
                                await runner.run()
                            except Exception as exc:  # the store failed: start again later
                                if _lost_lease(exc):
                                    tasks.cancel_scope.cancel()
                                    return
                                shown = exc if isinstance(exc, ModelshelfError) else repr(exc)
                                log.warning("webhook %s failed (%s); starting again",
                                            hook.id, shown)  # fmt: skip
                                await anyio.sleep(max(self.settings.poll_every, 1.0) * 5)

                tasks.start_soon(renewing)
                while True:
                    hooks: dict[str, Hook] | None
                    try:
                        listed = await anyio.to_thread.run_sync(self.book.hooks, limiter=threads)
                        hooks = {h.id: h for h in listed}
                    except ModelshelfError as exc:
                        log.warning("webhooks: could not list the hooks (%s)", exc)
                        hooks = None
                    if hooks == {}:  # the last hook went: give the lease up
                        log.info("webhooks: no hook left; the lease is given up")
                        tasks.cancel_scope.cancel()
                        return
                    if hooks is not None:
                        for gone in set(running) - set(hooks):
                            running.pop(gone).cancel()
                        for hook_id, hook in hooks.items():
                            if hook_id not in running:
                                running[hook_id] = anyio.CancelScope()
                                tasks.start_soon(supervise, hook, running[hook_id])
                    await anyio.sleep(self.settings.hooks_every)
        finally:
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await sender.aclose()


def _lost_lease(exc: BaseException) -> bool:
    """True if ``exc`` is, or a task group's exception holds, a :class:`LeaseLostError`."""
    if isinstance(exc, BaseExceptionGroup):
        return exc.subgroup(LeaseLostError) is not None
    return isinstance(exc, LeaseLostError)


async def deliver_webhooks(app: Any) -> None:
    """The registry's background task (``RegistryContext.background``): run a
    :class:`Dispatcher` over the app's store with ``app.state.webhook_settings`` (or the
    defaults) until the app stops."""
    settings = getattr(app.state, "webhook_settings", None)
    await Dispatcher(app.state.registry.store, settings).run()
