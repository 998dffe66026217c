"""The served model: the active version, leases on it, and an atomic swap that drains the old.

A request (or a batch of them) runs under a :class:`Lease` taken with :meth:`ModelSlot.acquire`:
the lease pins the version that was active when it was taken, so a swap never changes the model
under a running request, and every answer names the version that produced it. After a swap the
old version is *retired*: it takes no new leases, and it is unloaded (its references dropped)
once its last lease is released.

:class:`AliasFollower` keeps a slot on what a spec such as ``team/svc@production`` resolves to:
it polls the store at an interval (or when :meth:`AliasFollower.check_now` is called), loads a
new version beside the active one in the background, and swaps it in only once it has loaded.
A version that fails to load is never swapped in; its error is kept for ``/metadata``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from modelshelf.errors import ModelshelfError
from modelshelf.models.signature import Signature

__all__ = ["AliasFollower", "Lease", "ModelSlot", "NotReadyError", "ServedVersion", "SwapResult"]

log = logging.getLogger("modelshelf.serve")


class NotReadyError(Exception):
    """No version is loaded yet (the server answers 503)."""


@dataclass
class ServedVersion:
    """One loaded version of the model and the functions that run it.

    Attributes:
        version: the version text that answers (``"1.2"``; ``"local"`` for a file).
        model: what the runner's ``load_model`` returned.
        preprocess, predict, postprocess: the runner's three data methods, bound to the model.
        metadata: what ``/metadata`` shows about this version.
        signature: the inputs and outputs it takes and gives (OIP model metadata; infer
            requests that contradict it are refused before the model runs), or ``None``.
    """

    version: str
    model: Any
    preprocess: Callable[[Any], Any]
    predict_fn: Callable[[Any, Any], Any]
    postprocess: Callable[[Any], Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    signature: Signature | None = None
    leases: int = 0
    retired: bool = False


class Lease:
    """The right to run requests on one version until the ``with`` block ends."""

    __slots__ = ("_served", "version")

    def __init__(self, served: ServedVersion) -> None:
        self._served = served
        self.version = served.version

    @property
    def signature(self) -> Signature | None:
        """The version's signature: its output names name the answers."""
        return self._served.signature

    def preprocess(self, data: Any) -> Any:
        """The runner's ``preprocess_data`` (or the recorded hook)."""
        return self._served.preprocess(data)

    def predict(self, prepared: Any) -> Any:
        """The runner's ``predict(model, prepared)``."""
        return self._served.predict_fn(self._served.model, prepared)

    def postprocess(self, output: Any) -> Any:
        """The runner's ``postprocess_data`` (or the recorded hook)."""
        return self._served.postprocess(output)


class ModelSlot:
    """Holds the active :class:`ServedVersion`; thread-safe."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._active: ServedVersion | None = None
        self._draining: list[ServedVersion] = []
        self.last_swap_error: str | None = None
        self.last_swap_at: float | None = None
        self.on_swap: Callable[[str | None, str], None] | None = None
        self.on_swap_error: Callable[[str], None] | None = None

    @property
    def active(self) -> ServedVersion | None:
        """The version new requests run on, or ``None`` before the first load."""
        return self._active

    @property
    def ready(self) -> bool:
        """Whether a version is loaded."""
        return self._active is not None

    @property
    def draining(self) -> list[str]:
        """Versions swapped out whose requests are still running."""
        with self._lock:
            return [served.version for served in self._draining]

    @contextlib.contextmanager
    def acquire(self) -> Iterator[Lease]:
        """Pin the active version for the block; :class:`NotReadyError` before the first load."""
        with self._lock:
            served = self._active
            if served is None:
                raise NotReadyError(f"the model {self.name} is not loaded yet")
            served.leases += 1
        try:
            yield Lease(served)
        finally:
            self._release(served)

    def install(self, served: ServedVersion) -> str | None:
        """Make ``served`` the active version atomically; the old one drains, then unloads.

        Returns:
            The version that was active before, or ``None``.
        """
        idle = False
        with self._lock:
            old, self._active = self._active, served
            self.last_swap_error = None
            self.last_swap_at = time.time()
            if old is not None:
                old.retired = True
                self._draining.append(old)
                idle = old.leases == 0
        previous = None if old is None else old.version
        log.info("model %s: version %s active (was %s)", self.name, served.version, previous)
        if self.on_swap is not None:
            self.on_swap(previous, served.version)
        if old is not None and idle:
            self._unload(old)
        return previous

    def fail_swap(self, message: str) -> None:
        """Record why a new version was not swapped in (shown on ``/metadata``)."""
        with self._lock:
            self.last_swap_error = message
            self.last_swap_at = time.time()
        if self.on_swap_error is not None:
            self.on_swap_error(message)

    def _release(self, served: ServedVersion) -> None:
        with self._lock:
            served.leases -= 1
            done = served.retired and served.leases == 0 and served in self._draining
        if done:
            self._unload(served)

    def _unload(self, served: ServedVersion) -> None:
        with self._lock:
            if served not in self._draining:
                return
            self._draining.remove(served)
        # Dropping the references frees the model (memory, file handles). No gc.collect():
        # a full collection holds the GIL for tens of milliseconds, stalling live requests.
        served.model = None
        log.info("model %s: version %s drained and unloaded", self.name, served.version)


@dataclass(frozen=True)
class SwapResult:
    """What one check of the followed spec did."""

    version: str | None
    swapped: bool
    error: str | None = None


class AliasFollower:
    """Polls ``resolve()`` and swaps in what it names, loading beside the active version.

    Args:
        slot: the slot to keep current.
        resolve: returns the version the followed spec names now (asks the store).
        load: loads one version (``"1.3"``) into a :class:`ServedVersion`; may take long.
        interval: seconds between checks; ``0`` or less checks only when asked.
        describe: an error as the log and ``/metadata`` say it (default ``str``).
    """

    def __init__(
        self,
        slot: ModelSlot,
        resolve: Callable[[], str],
        load: Callable[[str], ServedVersion],
        interval: float,
        *,
        describe: Callable[[BaseException], str] = str,
    ) -> None:
        self.slot = slot
        self._describe = describe
        self._resolve = resolve
        self._load = load
        self.interval = interval
        self._check_lock = threading.Lock()  # one check (and load) at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # start() runs in a background load's thread, stop() in the server's shutdown: without
        # this lock a stop between creating and starting the thread joined an unstarted one.
        self._thread_lock = threading.Lock()

    def start(self) -> None:
        """Start polling in a daemon thread (no-op when the interval is not positive)."""
        with self._thread_lock:
            if self.interval <= 0 or (self._thread is not None and self._thread.is_alive()):
                return
            self._stop.clear()
            thread = threading.Thread(target=self._run, name="modelshelf-follow", daemon=True)
            thread.start()
            self._thread = thread

    def stop(self, timeout: float | None = 1.0) -> None:
        """Stop polling. A load in progress is not waited for beyond ``timeout`` seconds: it
        finishes in its daemon thread and is dropped, never installed."""
        with self._thread_lock:
            self._stop.set()
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def check_now(self) -> SwapResult:
        """Resolve now; load and swap if the spec names another version. Blocks until done."""
        with self._check_lock:
            active = self.slot.active
            current = None if active is None else active.version
            try:
                wanted = self._resolve()
            except (ModelshelfError, OSError) as exc:
                message = f"cannot resolve the followed spec: {self._describe(exc)}"
                log.warning("model %s: %s", self.slot.name, message)
                self.slot.fail_swap(message)
                return SwapResult(current, False, message)
            if wanted == current:
                return SwapResult(current, False)
            try:
                served = self._load(wanted)
            except Exception as exc:  # any failure to load keeps the old version serving
                why = self._describe(exc)
                message = f"version {wanted} failed to load: {type(exc).__name__}: {why}"
                log.error("model %s: %s; still serving %s", self.slot.name, message, current)
                self.slot.fail_swap(message)
                return SwapResult(current, False, message)
            if self._stop.is_set():  # stopped while loading: the server is going away
                return SwapResult(current, False, "stopped while loading; not swapped in")
            self.slot.install(served)
            return SwapResult(wanted, True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check_now()
            except Exception:  # the poller must outlive any surprise; the next tick retries
                log.exception("model %s: the alias check failed", self.slot.name)
