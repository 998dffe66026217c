"""The life of one served model: the first load, the follower, the batcher, and shutdown.

``ServeState.start`` is called from the app's lifespan startup, and again (idempotently) by the
first request, since a sub-application mounted in another app gets no lifespan events. It starts
again after a lifespan shutdown, or when requests arrive on another event loop (a test client
without ``with`` runs each request on a fresh loop). With a
background first load the port answers ``/health`` at once and ``/ready`` turns 200 when the
model is in; a first load that fails calls ``on_load_error`` (``modelshelf serve`` stops the
server and exits 1 with the error) and is shown on ``/metadata``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from modelshelf import constants
from modelshelf.errors import FOR_PYTHON, ModelshelfError
from modelshelf.serve._batcher import Batcher
from modelshelf.serve._body import BodyBudget
from modelshelf.serve._metrics import ServeMetrics
from modelshelf.serve._model import ModelSource, ServeOptions
from modelshelf.serve._slot import AliasFollower, ModelSlot, ServedVersion, SwapResult

__all__ = ["ServeState"]

log = logging.getLogger("modelshelf.serve")


@dataclass
class ServeState:
    """Everything a route needs; kept on ``app.state.serve``."""

    source: ModelSource
    slot: ModelSlot
    batcher: Batcher
    metrics: ServeMetrics
    options: ServeOptions
    on_load_error: Callable[[BaseException], None] | None = None
    face: int = FOR_PYTHON  # whose words name an error's fix: ``modelshelf serve`` sets FOR_CLI
    follower: AliasFollower | None = None
    load_error: BaseException | None = None
    started_at: float = field(default_factory=time.time)
    body_budget: BodyBudget = field(init=False)
    body_timeout: float = field(init=False)
    body_min_rate: float = field(init=False)
    load_lock: asyncio.Lock = field(init=False)  # one /load check at a time, per event loop
    last_check: tuple[float, SwapResult] | None = None  # (monotonic start, result) of /load
    _loop: asyncio.AbstractEventLoop | None = None
    _start_lock: threading.Lock = field(default_factory=threading.Lock)
    _loader: threading.Thread | None = None

    def __post_init__(self) -> None:
        # Bodies held at once by one worker, decoded objects included: a few of the largest
        # allowed, at least 512 MiB (a 64 MiB body of JSON numbers decodes to ~400 MiB).
        self.body_budget = BodyBudget(max(8 * self.options.max_body_bytes, 512 * 1024 * 1024))
        self.body_timeout = constants.serve_body_timeout()
        self.body_min_rate = constants.serve_body_min_rate()
        self.load_lock = asyncio.Lock()

    def describe(self, exc: BaseException) -> str:
        """An error as this server's users read it: a fix in the CLI's flags when started by
        ``modelshelf serve`` (:attr:`face`), in Python keywords otherwise."""
        return exc.render(self.face) if isinstance(exc, ModelshelfError) else str(exc)

    def load_now(self) -> None:
        """The first load, in the calling thread; then the follower is made (not started)."""
        self.install_first(self.source.load_version(None))

    def install_first(self, served: ServedVersion) -> None:
        """Decide whether the spec is followed from here, then make ``served`` active.

        In this order: once the slot is active the server answers ready, and a
        ``/v2/repository/models/NAME/load`` must then find the follower, not skip the check.
        """
        source = self.source
        if source.resolve is not None and source.follows(served.version):
            self.follower = AliasFollower(
                self.slot,
                source.resolve,
                source.load_version,
                self.options.poll_interval,
                describe=self.describe,
            )
        self.slot.install(served)

    async def start(self) -> None:
        """Start the batcher, and the first load (if pending) or the follower; idempotent.

        Started on one event loop, it stays started there until :meth:`stop`; a request on
        another loop (the old one is gone) starts the batcher again on the new one.
        """
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        with self._start_lock:  # never held across an await
            if self._loop is loop:
                return
            restarting = self._loop is not None
            self._loop = loop
            self.load_lock = asyncio.Lock()  # an asyncio lock belongs to one loop
        if restarting:
            self.batcher.reset()
        await self.batcher.start()
        if self.slot.active is None:
            if self._loader is None:
                self._loader = threading.Thread(
                    target=self._load_in_background, name="modelshelf-load", daemon=True
                )
                self._loader.start()
        elif self.follower is not None:
            self.follower.start()

    async def stop(self) -> None:
        """Run what is queued, then stop the follower (requests in flight have finished).

        A load in progress is not waited for: its thread is a daemon, and a version loaded
        after the stop is never installed.
        """
        self._loop = None
        await self.batcher.aclose()
        if self.follower is not None:
            await asyncio.to_thread(self.follower.stop)

    def _load_in_background(self) -> None:
        name = self.source.name
        log.info("model %s: loading %s", name, self.source.spec or "the model")
        try:
            served = self.source.load_version(None)
        except BaseException as exc:  # reported, not raised: this thread has no caller
            self.load_error = exc
            why = self.describe(exc)
            self.slot.fail_swap(f"the model failed to load: {type(exc).__name__}: {why}")
            log.error("model %s: the model failed to load: %s", name, why)
            if self.on_load_error is not None:
                self.on_load_error(exc)
            return
        self.install_first(served)
        if self.follower is not None:
            self.follower.start()
