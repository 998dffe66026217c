"""When a failed delivery is tried again: exponential backoff, then given up (pure).

The first retry waits ``first_delay`` (1 s), each next one twice as long, never more than
``max_delay`` (1 h) apart; an event whose next try would come more than ``give_up_after``
(24 h) after it was written is given up (and logged in the hook's delivery log). With the
defaults an event that always fails is tried 35 times: at 0 s, 1 s, 3 s, 7 s, ... 4095 s
(about 68 min), then every hour until the day is over.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RetryPolicy"]

_MAX_EXPONENT = 62  # 2**62 seconds is forever: no float overflow whatever the attempt


@dataclass(frozen=True)
class RetryPolicy:
    """The backoff of failed deliveries (seconds).

    Attributes:
        first_delay: the wait after the first failure.
        max_delay: the longest wait between two attempts.
        give_up_after: how long after the event was written it is still tried.

    Example:
        >>> policy = RetryPolicy()
        >>> [policy.delay_after(n) for n in (1, 2, 3, 12, 13, 40)]
        [1.0, 2.0, 4.0, 2048.0, 3600.0, 3600.0]
    """

    first_delay: float = 1.0
    max_delay: float = 3600.0
    give_up_after: float = 86400.0

    def __post_init__(self) -> None:
        if not 0 < self.first_delay <= self.max_delay or self.give_up_after < 0:
            raise ValueError(
                "a retry policy needs 0 < first_delay <= max_delay and give_up_after >= 0"
            )

    def delay_after(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (1 for the first)."""
        exponent = min(max(attempt, 1) - 1, _MAX_EXPONENT)
        return float(min(self.first_delay * 2**exponent, self.max_delay))

    def next_try(self, written: float, attempt: int, failed_at: float) -> float | None:
        """When to try again after attempt ``attempt`` failed at ``failed_at``, or ``None``:
        give up (the next try would come more than :attr:`give_up_after` after ``written``,
        the time the event was written; every event gets at least one attempt).

        Example:
            >>> RetryPolicy().next_try(written=0.0, attempt=1, failed_at=0.5)
            1.5
            >>> RetryPolicy().next_try(written=0.0, attempt=30, failed_at=86000.0) is None
            True
        """
        at = failed_at + self.delay_after(attempt)
        return None if at - written > self.give_up_after else at

    def attempts_when_failing(self) -> list[float]:
        """The offsets (from the write) of every attempt of an event that always fails at once:
        what the docs' table shows."""
        offsets, attempt, at = [0.0], 1, 0.0
        while (later := self.next_try(0.0, attempt, at)) is not None:
            offsets.append(later)
            attempt, at = attempt + 1, later
        return offsets
