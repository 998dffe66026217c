"""Request bodies in: reading one within its deadline and minimum rate, and the worker's budget
of memory held for bodies (their bytes, and the objects decoding them builds).

Memory is bounded twice: one body by ``max_body_bytes`` (413), and the bodies being read or
waiting in the queue of one worker together by a budget (429), so that many connections cannot
each hold a large body while the queue bound looks respected. A body is charged only while it
arrives in time: one that goes ``body_timeout`` seconds without a byte, or averages under
``body_min_rate`` after that grace, is refused with 408 and its bytes leave the budget; one
idle for ``SERVE_BODY_STALL_SECONDS`` gives its share up at once when another body needs the
room (four clients that sent 64 MiB minus one byte and stopped held the whole budget).
Decoding is charged before it starts (:func:`charger`), at an upper estimate of what it builds
(:mod:`modelshelf.serve._cost`): JSON of empty objects decodes to ~25 times its size.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from starlette.requests import Request

from modelshelf.constants import SERVE_BODY_STALL_SECONDS

__all__ = ["BodyBudget", "Charge", "RefusedError", "charger", "clip", "read_body"]

MiB = 1024 * 1024


class RefusedError(Exception):
    """A request refused before or after the runner: status, message and extra headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


Charge = Callable[[int], None]
"""``charge(size)``: reserve ``size`` more bytes for a request, or raise :class:`RefusedError`."""


class _Reader:
    """One body being read: when its bytes arrived, what it holds, how to wake it when evicted.

    ``reserved`` and ``gone`` change under the budget's lock only (a codec thread may evict).
    """

    def __init__(self) -> None:
        self.start = self.last = time.monotonic()
        self.received = 0
        self.reserved = 0
        self.gone = False
        self.loop = asyncio.get_running_loop()
        self.timer: asyncio.Timeout | None = None  # the wait for the next chunk, on the loop

    def arrived(self, size: int) -> None:
        self.received += size
        self.last = time.monotonic()

    def deadline(self, timeout: float, min_rate: float) -> float:
        """When this body is late if nothing more arrives."""
        return min(self.last + timeout, self.start + timeout + self.received / min_rate)

    def late(self, timeout: float, min_rate: float) -> str:
        """Why this body is refused with 408."""
        idle = time.monotonic() - self.last
        if self.gone:
            return (
                f"the request body stalled for {idle:.1f} s while other requests needed the"
                " server's memory; send it without pauses"
            )
        if idle >= timeout:
            return f"no byte of the request body arrived for {timeout:g} s; send it whole"
        return (
            f"the request body arrived at under {min_rate:g} bytes/s (the server's minimum"
            f" after the first {timeout:g} s); send it without pauses"
        )

    def wake(self) -> None:
        """On the loop: end the wait for the next chunk now (it then answers 408)."""
        if self.timer is not None and not self.timer.expired():
            self.timer.reschedule(self.loop.time())


class BodyBudget:
    """Bytes of request bodies held at once in one worker (being read, queued or running),
    including what decoding them builds. Safe to call from any thread."""

    def __init__(self, limit: int, *, stall: float = SERVE_BODY_STALL_SECONDS) -> None:
        self.limit = limit
        self.held = 0
        self.stall = stall
        self._lock = threading.Lock()
        self._readers: set[_Reader] = set()

    def take(self, size: int) -> bool:
        """Reserve ``size`` bytes; False when that would pass the limit."""
        with self._lock:
            if self.held + size > self.limit:
                return False
            self.held += size
            return True

    def give_back(self, size: int) -> None:
        """Return bytes reserved with :meth:`take`."""
        with self._lock:
            self.held -= size

    def reclaim(self, size: int, asker: _Reader | None = None) -> bool:
        """Reserve ``size`` (for ``asker``, a body being read, or for the caller), evicting
        bodies that have been idle ``stall`` seconds, longest idle first, to make room."""
        victims: list[_Reader] = []
        with self._lock:
            if asker is not None and asker.gone:
                return False
            now = time.monotonic()
            idle = [
                r
                for r in (self._readers if self.held + size > self.limit else ())
                if r is not asker and not r.gone and now - r.last >= self.stall
            ]
            for reader in sorted(idle, key=lambda r: r.last):
                if self.held + size <= self.limit:
                    break
                reader.gone = True
                self.held -= reader.reserved
                reader.reserved = 0
                victims.append(reader)
            fits = self.held + size <= self.limit
            if fits:
                self.held += size
                if asker is not None:
                    asker.reserved += size
        for reader in victims:
            reader.loop.call_soon_threadsafe(reader.wake)
        return fits

    def _begin(self, reader: _Reader) -> None:
        with self._lock:
            self._readers.add(reader)

    def _finish(self, reader: _Reader) -> int:
        """Stop tracking ``reader``; the bytes it still holds, now the caller's to give back."""
        with self._lock:
            self._readers.discard(reader)
            held, reader.reserved = reader.reserved, 0
            return held


def _busy(budget: BodyBudget) -> RefusedError:
    return RefusedError(
        429,
        f"the server holds {budget.held} bytes of request bodies (its limit is {budget.limit});"
        " retry shortly",
        {"Retry-After": "1"},
    )


def charger(request: Request, budget: BodyBudget) -> Charge:
    """The :data:`Charge` of ``request``: its reservation is ``request.state.body_reserved``,
    given back by the caller after the answer. Callable from a codec thread (the route awaits
    it, so one thread at a time touches the request's state)."""
    state = request.scope.setdefault("state", {})

    def charge(size: int) -> None:
        if size <= 0:
            return
        held = state.get("body_reserved", 0)
        if held + size > budget.limit:
            raise RefusedError(
                413,
                f"decoding the request body would hold about {(held + size) // MiB} MiB, over the"
                f" server's budget of {budget.limit // MiB} MiB for bodies; send smaller batches"
                " (or OIP binary tensors), or start the server with a larger --max-body-mb",
            )
        if not budget.reclaim(size):
            raise _busy(budget)
        state["body_reserved"] = held + size

    return charge


async def read_body(
    request: Request, limit: int, budget: BodyBudget, *, timeout: float, min_rate: float
) -> bytes:
    """The body, refusing one over ``limit`` (413), over the worker's ``budget`` (429), or
    late (408: ``timeout`` s without a byte, or under ``min_rate`` bytes/s after ``timeout``).

    The bytes stay reserved in ``budget`` (as ``request.state.body_reserved``) until the caller
    gives them back, after the answer.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise RefusedError(400, f"Content-Length {clip(declared)!r} is not a number") from None
        if size > limit:
            raise RefusedError(413, _too_large(size, limit))
    chunks: list[bytes] = []
    total = 0
    state = request.scope.setdefault("state", {})
    reader = _Reader()
    budget._begin(reader)
    stream = request.stream().__aiter__()
    loop = reader.loop
    try:
        while True:
            # One timer per wait, no task per chunk: eviction reschedules it to fire now.
            wait = max(0.0, reader.deadline(timeout, min_rate) - time.monotonic())
            try:
                async with asyncio.timeout_at(loop.time() + wait) as timer:
                    reader.timer = timer
                    if reader.gone:
                        raise TimeoutError
                    chunk = await anext(stream)
            except StopAsyncIteration:
                break
            except TimeoutError:
                raise RefusedError(
                    408, reader.late(timeout, min_rate), {"Connection": "close"}
                ) from None
            finally:
                reader.timer = None
            total += len(chunk)
            if total > limit:
                raise RefusedError(413, _too_large(total, limit))
            reader.arrived(len(chunk))
            if not budget.reclaim(len(chunk), reader):
                if reader.gone:
                    raise RefusedError(408, reader.late(timeout, min_rate), {"Connection": "close"})
                raise _busy(budget)
            chunks.append(chunk)
    finally:
        state["body_reserved"] = state.get("body_reserved", 0) + budget._finish(reader)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> str:
    return (
        f"the request body ({size} bytes or more) is over the limit of {limit} bytes; send"
        " smaller batches, or start the server with a larger --max-body-mb"
    )


def clip(text: str, limit: int = 80) -> str:
    """``text`` shortened to ``limit`` printable characters, for quoting client input."""
    shown = "".join(c if c.isprintable() else "?" for c in text[:limit])
    return shown + ("..." if len(text) > limit else "")
