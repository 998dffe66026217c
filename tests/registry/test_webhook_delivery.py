"""Webhooks delivered by the registry's background task to a real receiver on loopback: signed
bodies that verify_webhook accepts (and a tampered or stale one it refuses), retries after 500s,
order per asset under a failing receiver, nothing lost when a registry is killed mid-retry, and
pushes that a hanging receiver does not slow.

The registry runs with short settings (tests/registry/webhook_helpers.FAST: backoff from 50 ms,
at most 0.4 s apart): the same code as the defaults, a shorter clock. Writes are audit records
of a real file:// store (what a push, an alias move or a removal writes last), or real pushes
through the registry where the request path is what is measured.
"""

from __future__ import annotations

import itertools
import json
import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from tests.registry.webhook_helpers import FAST, Received, Receiver, RegistryApp, served_registry

from modelshelf import Shelf
from modelshelf.backends.registry import open_backend
from modelshelf.registry import WebhookVerificationError, verify_webhook
from modelshelf.registry.tokens import TokenBook
from modelshelf.registry.webhooks.deliveries import DeliveryLog
from modelshelf.registry.webhooks.schedule import RetryPolicy
from modelshelf.store.bucket import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    made = Store(open_backend((tmp_path / "store").as_uri()))
    made.create()
    return made


def admin(store: Store) -> str:
    text, _ = TokenBook(store).create("ops", ["admin:*"], None, created_by="tests")
    return text


def add_hook(
    base: str, token: str, url: str, events: list[str], prefix: str = ""
) -> dict[str, str]:
    payload = {"url": url, "events": events, "prefix": prefix}
    auth = {"Authorization": f"Bearer {token}"}
    answer = httpx.post(f"{base}/api/v1/webhooks", json=payload, headers=auth)
    assert answer.status_code == 201, answer.text
    return {"id": answer.json()["hook"]["id"], "secret": answer.json()["secret"]}


def by_asset(received: list[Received]) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}
    for r in received:
        seen.setdefault(r.data["asset"], []).append(r.data["record"]["version"])
    return seen


def test_deliveries_are_signed_and_verify_webhook_refuses_tampered_or_stale_ones(
    store: Store,
) -> None:
    with Receiver() as receiver, served_registry(store) as base:
        hook = add_hook(base, admin(store), receiver.url, ["push", "alias"])
        store.append_log("nlp/bert", "push", version="1.0", message="first")
        store.append_log("nlp/bert", "alias", alias="prod", version="1.0", previous=None, seq=1)
        store.append_log("nlp/bert", "repair", version="1.0")  # no event: never sent
        receiver.wait(lambda got: len(got) >= 2)
        time.sleep(0.3)
    got = receiver.got()
    assert [r.data["event"] for r in got] == ["push", "alias"]
    for r in got:
        body = verify_webhook(hook["secret"], r.body, r.headers)
        assert body["id"] == r.headers["X-Modelshelf-Delivery"]
        assert body["id"].startswith(hook["id"] + ":")
        assert body["asset"] == "nlp/bert" and body["registry"] == base
        assert r.headers["X-Modelshelf-Event"] == body["event"]
        assert r.headers["X-Modelshelf-Signature"].startswith("sha256=")
    first = got[0]
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify_webhook(hook["secret"], first.body.replace(b"1.0", b"6.6"), first.headers)
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify_webhook("another secret", first.body, first.headers)
    sent = datetime.strptime(first.data["sent_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    with pytest.raises(WebhookVerificationError, match="replay"):
        verify_webhook(hook["secret"], first.body, first.headers, now=sent + timedelta(minutes=6))
    assert verify_webhook(hook["secret"], first.body, first.headers,
                          now=sent + timedelta(minutes=4))  # fmt: skip


def test_a_delivery_is_retried_after_500s_with_growing_waits_then_delivered(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # 500 for the first three tries of each delivery, then 204.
    with Receiver(lambda body, seen: (500 if seen < 3 else 204, 0.0)) as receiver, \
            served_registry(store) as base:  # fmt: skip
        hook = add_hook(base, admin(store), receiver.url, ["push"])
        store.append_log("cv/yolo", "push", version="2.0")
        receiver.wait(lambda got: any(r.status == 204 for r in got))
        time.sleep(0.3)
        log = DeliveryLog(store).newest(hook["id"])
    got = receiver.got()
    assert [r.status for r in got] == [500, 500, 500, 204]
    assert len({r.delivery for r in got}) == 1  # one delivery id on every try
    gaps = [b.at - a.at for a, b in itertools.pairwise(got)]
    # At least the policy's waits (50, 100, 200 ms: doubling); load only ever adds to them.
    assert all(gap >= 0.9 * 0.05 * 2**n for n, gap in enumerate(gaps)), gaps
    assert [(d["attempt"], d["status"], d["outcome"]) for d in reversed(log)] == [
        (1, 500, "retrying"), (2, 500, "retrying"), (3, 500, "retrying"), (4, 204, "delivered"),
    ]  # fmt: skip
    assert all(d["next_try"] for d in log[1:])
    # Each failure was logged (a warning per try), and never with the secret.
    warned = [r.getMessage() for r in caplog.records if "attempt" in r.getMessage()]
    assert len(warned) == 3 and all("500" in line for line in warned)
    assert all(hook["secret"] not in r.getMessage() for r in caplog.records)
    assert hook["secret"] not in json.dumps(log)


def test_a_failing_event_of_one_asset_holds_back_that_asset_only(store: Store) -> None:
    failing_until = time.time() + 1.5

    def decide(body: dict[str, object], seen: int) -> tuple[int, float]:
        is_a = body["asset"] == "a"
        return (503 if is_a and time.time() < failing_until else 200, 0.0)

    with Receiver(decide) as receiver, served_registry(store) as base:
        add_hook(base, admin(store), receiver.url, ["push"])
        time.sleep(0.3)  # the dispatcher has the hook
        for version in ("1", "2", "3"):
            store.append_log("a", "push", version=version)
            store.append_log("b", "push", version=version)
        receiver.wait(lambda got: sum(1 for r in got if r.status == 200) >= 6, timeout=30)
        time.sleep(0.3)
    got = receiver.got()
    delivered = [r for r in got if r.status == 200]
    assert by_asset(delivered) == {"a": ["1", "2", "3"], "b": ["1", "2", "3"]}
    # Every try of a's events is in order: 2 never before 1 is delivered, 3 never before 2.
    a_tries = [r.data["record"]["version"] for r in got if r.data["asset"] == "a"]
    assert a_tries == sorted(a_tries) and a_tries.count("1") > 1
    first_a_ok = min(r.at for r in delivered if r.data["asset"] == "a")
    assert all(r.at < first_a_ok for r in delivered if r.data["asset"] == "b")


def test_a_registry_killed_mid_retry_loses_nothing_and_repeats_only_delivery_ids(
    store: Store, tmp_path: Path
) -> None:
    up = {"yes": False}

    def decide(body: dict[str, object], seen: int) -> tuple[int, float]:
        return (200 if up["yes"] else 500, 0.0)

    token = admin(store)
    with Receiver(decide) as receiver:
        first = RegistryApp(store.url, tmp_path / "first").start()
        try:
            add_hook(first.url, token, receiver.url, ["push", "remove"])
            time.sleep(0.5)
            for n in range(5):
                store.append_log(f"m{n % 2}", "push", version=f"{n}")
            receiver.wait(lambda got: len(got) >= 6)  # retrying
        finally:
            first.kill()  # mid-retry: nothing flushed, the lease left to expire
        up["yes"] = True
        store.append_log("m0", "remove", version="0", message="while down")
        second = RegistryApp(store.url, tmp_path / "second").start()
        try:
            receiver.wait(lambda got: len({r.delivery for r in got if r.status == 200}) >= 6,
                          timeout=60)  # fmt: skip
            time.sleep(1.0)
        finally:
            second.stop()
    delivered = [r for r in receiver.got() if r.status == 200]
    ids = [r.delivery for r in delivered]
    assert len(set(ids)) == 6  # 5 pushes and the removal, each delivered
    payloads: dict[str, dict[str, object]] = {}
    for r in receiver.got():  # a repeat is the same delivery: one id, one event, one record
        assert r.data["id"] == r.headers["X-Modelshelf-Delivery"]
        same = {k: v for k, v in r.data.items() if k != "sent_at"}
        assert payloads.setdefault(r.delivery, same) == same
    versions = by_asset([r for r in delivered if r.data["event"] == "push"])
    assert {k: sorted(set(v)) for k, v in versions.items()} == {"m0": ["0", "2", "4"],
                                                                "m1": ["1", "3"]}  # fmt: skip


def test_webhook_test_answers_the_receivers_status(store: Store) -> None:
    answers = {"status": 418}
    with Receiver(lambda body, seen: (answers["status"], 0.0)) as receiver, \
            served_registry(store) as base:  # fmt: skip
        token = admin(store)
        hook = add_hook(base, token, receiver.url, ["push"])
        auth = {"Authorization": f"Bearer {token}"}
        answer = httpx.post(f"{base}/api/v1/webhooks/{hook['id']}/test", headers=auth).json()
        assert (answer["status"], answer["ok"]) == (418, False)
        answers["status"] = 204
        answer = httpx.post(f"{base}/api/v1/webhooks/{hook['id']}/test", headers=auth).json()
        assert (answer["status"], answer["ok"]) == (204, True)
        pings = receiver.got()
        assert [r.data["event"] for r in pings] == ["ping", "ping"]
        assert verify_webhook(hook["secret"], pings[1].body, pings[1].headers)["asset"] == ""
        log = httpx.get(f"{base}/api/v1/webhooks/{hook['id']}/deliveries", headers=auth).json()
        assert [d["outcome"] for d in log["deliveries"]] == ["delivered", "failed"]
        listed = httpx.get(f"{base}/api/v1/webhooks", headers=auth).text
        assert hook["secret"] not in listed and hook["id"] in listed


def test_a_hanging_receiver_does_not_slow_a_push(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Pushes and alias moves whose events go to a receiver that hangs 30 s, timed against
    # pushes of names no hook hears, alternated under the same load (and, for the record,
    # against pushes before any hook existed). Compared, never held to a wall-clock figure.
    caplog.set_level(logging.DEBUG)
    folder = tmp_path / "model"
    folder.mkdir()
    settings = replace(FAST, timeout=10.0)
    with Receiver(lambda body, seen: (200, 30.0)) as receiver, \
            served_registry(store, settings) as base:  # fmt: skip
        token = admin(store)
        shelf = Shelf(base, cache_dir=tmp_path / "cache", token=token)

        def timed(action: Callable[[], object]) -> float:
            start = time.perf_counter()
            action()
            return time.perf_counter() - start

        def push(name: str, n: int) -> float:
            (folder / "w.bin").write_bytes(f"{name}-{n}".encode() * 1000)
            return timed(lambda: shelf.push(folder, name, message=f"push {n}"))

        for n in range(2):
            push("warm/m", n)
        no_hook = [push("quiet/m", n) for n in range(5)]
        hook = add_hook(base, token, receiver.url, ["push", "alias"], prefix="loud/")
        time.sleep(0.5)  # the dispatcher has the hook
        heard, unheard = [], []
        for n in range(6):
            heard.append(push("loud/m", n))
            unheard.append(push("quiet/m", 10 + n))
        pushed = time.time()
        moves = [
            timed(lambda v=v: shelf.set_alias("loud/m@prod", v)) for v in ("1.0", "1.1", "1.2")
        ]
        receiver.wait(lambda got: len(got) >= 1)
        hanging_since = receiver.got()[0].at
        answered = receiver.answered
    print(
        f"push median: no hook {statistics.median(no_hook) * 1000:.1f} ms, heard by a hanging"
        f" receiver {statistics.median(heard) * 1000:.1f} ms, heard by no hook"
        f" {statistics.median(unheard) * 1000:.1f} ms; alias move"
        f" {statistics.median(moves) * 1000:.1f} ms"
    )
    # Every push and move was answered while the receiver still held its first delivery ...
    assert hanging_since < pushed and answered == 0
    # ... and took about what a push no hook hears takes (the fastest of each: this machine's
    # noise only ever adds time; a push that waited on the receiver would take its timeout).
    assert min(heard) < 5 * min(unheard)
    assert min(moves) < 5 * min(unheard)
    assert all(hook["secret"] not in record.getMessage() for record in caplog.records)


def test_an_event_failing_past_its_window_is_given_up_and_the_next_one_goes(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    short = replace(FAST, retry=RetryPolicy(first_delay=0.05, max_delay=0.1, give_up_after=0.5))

    def decide(body: dict[str, object], seen: int) -> tuple[int, float]:
        record = body["record"]
        assert isinstance(record, dict)
        return (500 if record["version"] == "1" else 200, 0.0)

    with Receiver(decide) as receiver, served_registry(store, short) as base:
        hook = add_hook(base, admin(store), receiver.url, ["push"])
        time.sleep(0.3)
        store.append_log("a", "push", version="1")
        store.append_log("a", "push", version="2")
        receiver.wait(lambda got: any(r.status == 200 for r in got), timeout=30)
        time.sleep(0.3)
        log = DeliveryLog(store).newest(hook["id"])
    tries = [(r.data["record"]["version"], r.status) for r in receiver.got()]
    assert tries[-1] == ("2", 200) and all(t == ("1", 500) for t in tries[:-1])
    assert [d["outcome"] for d in log][:2] == ["delivered", "given_up"]
    assert any(r.levelno == logging.ERROR and "gave up" in r.getMessage() for r in caplog.records)
