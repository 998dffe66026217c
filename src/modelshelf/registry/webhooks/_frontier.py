"""How far a hook's cursor may advance: the events done, the events still pending (pure).

The store-wide log is read in ID order, but a hook's events finish out of that order: asset B's
flow while asset A's first event is retried. The cursor may only pass IDs that are done
(delivered, given up, or not for this hook) and that the follower has settled (no record can
still land before them); :meth:`Frontier.advance` finds the furthest such ID. The IDs done past
the cursor are kept and persisted with it, so a restart skips them instead of sending them
again.
"""

from __future__ import annotations

import bisect

__all__ = ["Frontier"]


class Frontier:
    """The done and pending store-log IDs of one hook past its cursor.

    Example:
        >>> f = Frontier("a")
        >>> f.pending("b"); f.pending("c"); f.done("d")
        >>> f.finish("c"); f.settle("z"); f.advance()
        'a'
        >>> f.finish("b"); f.advance()
        'z'
    """

    def __init__(self, cursor: str) -> None:
        self.cursor = cursor
        self._settled = cursor
        self._pending: set[str] = set()
        self._done: list[str] = []  # sorted; every ID > cursor that is done

    def pending(self, change_id: str) -> None:
        """``change_id`` is queued for delivery."""
        self._pending.add(change_id)

    def done(self, change_id: str) -> None:
        """``change_id`` needs nothing (not for this hook, or done before a restart)."""
        if change_id > self.cursor:
            bisect.insort(self._done, change_id)

    def finish(self, change_id: str) -> None:
        """``change_id`` was delivered or given up."""
        self._pending.discard(change_id)
        self.done(change_id)

    def settle(self, settled: str) -> None:
        """Every ID up to ``settled`` has been read from the log (the follower's cursor)."""
        self._settled = max(self._settled, settled)

    @property
    def waiting(self) -> int:
        return len(self._pending)

    def delivered(self) -> frozenset[str]:
        """The IDs past the cursor that are done (persisted beside it)."""
        return frozenset(self._done)

    def advance(self) -> str:
        """Move the cursor as far as it may go, and return it."""
        first_pending = min(self._pending) if self._pending else None
        if first_pending is None or first_pending > self._settled:
            target = self._settled  # everything read up to there is done
        else:
            at = bisect.bisect_left(self._done, first_pending)
            target = self._done[at - 1] if at else self.cursor
        if target > self.cursor:
            self.cursor = target
            del self._done[: bisect.bisect_right(self._done, target)]
        return self.cursor
