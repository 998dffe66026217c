"""Properties of what webhooks parse or decide: verify_webhook accepts exactly the bodies signed
with the secret and fresh enough, and refuses anything else with WebhookVerificationError only;
the cursor never passes an event still pending; the backoff doubles, is capped, and gives up
only past its day."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelshelf.registry import WebhookVerificationError, verify_webhook
from modelshelf.registry.webhooks._frontier import Frontier
from modelshelf.registry.webhooks.schedule import RetryPolicy
from modelshelf.registry.webhooks.signing import sign

pytestmark = pytest.mark.property

NOW = datetime(2026, 12, 8, 0, 0, tzinfo=UTC)
SENT = "2026-12-07T23:59:00.000000Z"
scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
records = st.dictionaries(st.text(max_size=10), scalars, max_size=6)


def body_of(record: dict[str, object], sent_at: str = SENT) -> bytes:
    return json.dumps({"id": "wh-1:x", "event": "push", "asset": "a", "record": record,
                       "registry": "http://r", "sent_at": sent_at}).encode()  # fmt: skip


@given(secret=st.text(min_size=1, max_size=40), record=records)
def test_a_signed_fresh_body_verifies(secret: str, record: dict[str, object]) -> None:
    body = body_of(record)
    headers = {"x-modelshelf-signature": sign(secret, body), "X-Modelshelf-Timestamp": SENT}
    assert verify_webhook(secret, body, headers, now=NOW)["record"] == record


@given(secret=st.text(min_size=1, max_size=40), record=records,
       flip=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))  # fmt: skip
def test_any_changed_byte_is_refused(
    secret: str, record: dict[str, object], flip: int, bit: int
) -> None:
    body = body_of(record)
    headers = {"X-Modelshelf-Signature": sign(secret, body)}
    changed = bytearray(body)
    changed[flip % len(body)] ^= 1 << bit
    with pytest.raises(WebhookVerificationError):
        verify_webhook(secret, bytes(changed), headers, now=NOW)


@given(age=st.floats(min_value=-3600, max_value=3600, allow_nan=False))
def test_age_is_judged_against_max_age(age: float) -> None:
    body = body_of({})
    headers = {"X-Modelshelf-Signature": sign("s", body)}
    sent = datetime(2026, 12, 7, 23, 59, tzinfo=UTC)
    now = sent + timedelta(seconds=age)
    if abs(age) <= 300:
        verify_webhook("s", body, headers, now=now)
    else:
        with pytest.raises(WebhookVerificationError):
            verify_webhook("s", body, headers, now=now)


@given(body=st.binary(max_size=300),
       headers=st.dictionaries(st.sampled_from(["X-Modelshelf-Signature", "x-modelshelf-timestamp",
                                                "X-Modelshelf-Event", "Other"]),
                               st.text(max_size=80)))  # fmt: skip
def test_anything_else_is_refused_with_one_error_type(body: bytes, headers: dict[str, str]) -> None:
    with pytest.raises(WebhookVerificationError):
        verify_webhook("s", body, headers, now=NOW)


@given(st.lists(st.tuples(st.sampled_from(["pending", "done", "finish", "settle", "advance"]),
                          st.integers(min_value=1, max_value=40)), max_size=80))  # fmt: skip
def test_the_cursor_never_passes_a_pending_event(steps: list[tuple[str, int]]) -> None:
    frontier = Frontier("00")
    pending: set[str] = set()
    settled = "00"
    for op, n in steps:
        key = f"{n:02d}"
        if op == "pending" and key > frontier.cursor:
            frontier.pending(key)
            pending.add(key)
        elif op == "done" and key not in pending:
            frontier.done(key)
        elif op == "finish" and pending:
            first = min(pending)
            frontier.finish(first)
            pending.discard(first)
        elif op == "settle":
            settled = max(settled, key)
            frontier.settle(key)
        cursor = frontier.advance()
        assert cursor <= settled
        assert all(cursor < p for p in pending)


@given(first=st.floats(min_value=0.001, max_value=10), cap=st.floats(min_value=10, max_value=5000),
       attempts=st.integers(min_value=1, max_value=200))  # fmt: skip
def test_backoff_doubles_up_to_its_cap(first: float, cap: float, attempts: int) -> None:
    policy = RetryPolicy(first_delay=first, max_delay=cap)
    delays = [policy.delay_after(n) for n in range(1, attempts + 1)]
    assert delays[0] == first and all(d <= cap for d in delays)
    assert all(b == min(2 * a, cap) for a, b in itertools.pairwise(delays))


@given(
    written=st.floats(min_value=0, max_value=1e6),
    attempt=st.integers(min_value=1, max_value=60),
    after=st.floats(min_value=0, max_value=2e5),
)
def test_an_event_is_given_up_only_past_its_day(written: float, attempt: int, after: float) -> None:
    policy = RetryPolicy()
    later = policy.next_try(written, attempt, written + after)
    if later is None:
        assert written + after + policy.delay_after(attempt) - written > policy.give_up_after
    else:
        assert later - written <= policy.give_up_after
