"""The webhooks' records in the store: hooks (checked when read back, the secret only in the
record), the cursor's compare-and-swap, the delivery log kept to its last N, and the lease (one
holder; taken over once expired or released)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from modelshelf.backends.registry import open_backend
from modelshelf.errors import InvalidInputError, ObjectExistsError, ObjectNotFoundError
from modelshelf.registry.webhooks.deliveries import Attempt, DeliveryLog
from modelshelf.registry.webhooks.hooks import HookBook, event_of, hook_url_problem, shown_url
from modelshelf.registry.webhooks.lease import Lease
from modelshelf.store.bucket import Store, now_iso


@pytest.fixture
def store(tmp_path: Path) -> Store:
    made = Store(open_backend((tmp_path / "store").as_uri()))
    made.create()
    return made


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://ci.example.com/hook", None),
        ("http://10.0.0.7:8080/in?team=nlp", None),  # internal hosts: an admin's choice
        ("http://[::1]:9000/", None),
        ("ftp://example.com/x", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("https:///nohost", "no host"),
        ("https://h.example/a b", "spaces"),
        ("https://h.example:99999/", "does not parse"),
        ("https://h.example/#frag", "fragment"),
        ("https://h.example/" + "a" * 3000, "longer than"),
        ("", "empty"),
    ],
)
def test_hook_urls(url: str, problem: str | None) -> None:
    found = hook_url_problem(url)
    assert found is None if problem is None else problem in (found or "")


def test_log_lines_show_no_path_or_query_of_a_url() -> None:
    assert shown_url("https://hooks.example.com/services/T0/B0/SECRET?k=v") == (
        "https://hooks.example.com/..."
    )


@pytest.mark.parametrize(("action", "event"), [("push", "push"), ("copy", "push"),
                         ("alias", "alias"), ("remove", "remove"), ("label", "label"),
                         ("repair", None)])  # fmt: skip
def test_actions_map_to_events(action: str, event: str | None) -> None:
    assert event_of(action) == event


def test_a_hook_record_holds_the_secret_and_its_public_view_a_fingerprint(store: Store) -> None:
    book = HookBook(store)
    hook, secret = book.add("https://h.example/x", ["alias", "push"], "nlp", who="ann")
    assert hook.events == ("push", "alias")
    assert secret not in json.dumps(hook.public()) and secret not in repr(hook)
    assert book.get(hook.id).secret == secret
    assert hook.wants("push", "nlp") and hook.wants("alias", "nlp/bert")
    assert not hook.wants("push", "nlp2") and not hook.wants("remove", "nlp/bert")
    with pytest.raises(InvalidInputError, match="not an asset-name prefix"):
        book.add("https://h.example/x", ["push"], "../x", who="ann")


def test_a_damaged_hook_record_is_skipped_in_the_list_and_refused_alone(store: Store) -> None:
    book = HookBook(store)
    good, _ = book.add("https://h.example/x", ["push"], who="ann")
    bad, _ = book.add("https://h.example/y", ["push"], who="ann")
    key = f"registry/webhooks/{bad.id}.json"
    record = json.loads(b"".join(store.backend.get(key, chunk_size=1 << 16)))
    store.backend.put(key, json.dumps({**record, "url": "gopher://x"}).encode())
    assert [h.id for h in book.hooks()] == [good.id]
    with pytest.raises(Exception, match="not a webhook record"):
        book.get(bad.id)


def test_the_cursor_moves_by_compare_and_swap(store: Store) -> None:
    book = HookBook(store)
    hook, _ = book.add("https://h.example/x", ["push"], who="ann")
    start = book.read_cursor(hook)
    assert start.seq == 0 and start.cursor < "9"  # the hook's creation time
    later = "20991231T000000.000000Z-0123456789ab"
    moved = book.write_cursor(hook, start, later, frozenset(), who="a")
    assert book.read_cursor(hook) == moved
    with pytest.raises(ObjectExistsError):  # another replica advanced it from the same one
        book.write_cursor(hook, start, later, frozenset(), who="b")
    for _ in range(10):
        moved = book.write_cursor(hook, moved, later, frozenset(), who="a")
    records = list(store.backend.list(f"registry/webhooks/{hook.id}/cursor"))
    assert len(records) <= 4  # old cursor records are deleted


def test_the_delivery_log_keeps_the_newest_records(store: Store) -> None:
    log = DeliveryLog(store, keep=5)
    for n in range(12):
        attempt = Attempt(
            delivery=f"wh-x:{n}", hook="wh-0123456789abcdef", change=str(n), event="push",
            asset="a", attempt=1, status=500, error=None, duration_ms=1.0, at=now_iso(),
            next_try=None, outcome="retrying",
        )  # fmt: skip
        log.record(attempt)
        time.sleep(0.001)
    assert log.prune("wh-0123456789abcdef") == 7
    assert [d["delivery"] for d in log.newest("wh-0123456789abcdef")] == [
        f"wh-x:{n}" for n in range(11, 6, -1)
    ]
    with pytest.raises(ObjectNotFoundError):
        HookBook(store).get("wh-0123456789abcdef")


def test_one_lease_holder_until_it_expires_or_is_released(store: Store) -> None:
    a, b = Lease(store, "a", ttl=0.6), Lease(store, "b", ttl=0.6)
    assert a.acquire() and a.held()
    assert not b.acquire() and not b.held()
    assert a.acquire()  # renewed
    time.sleep(0.7)  # a stopped renewing: expired
    assert not a.held()
    assert b.acquire() and b.held()
    assert not a.acquire()  # a learns it lost the lease
    b.release()
    assert a.acquire()  # released: taken at once


def test_listing_the_hooks_does_not_list_their_delivery_logs(store: Store) -> None:
    book = HookBook(store)
    ids = sorted(book.add(f"https://h.example/{n}", ["push"], who="ann")[0].id for n in range(3))
    for hook_id in ids:  # long delivery logs and cursors under each hook
        for n in range(30):
            store.backend.put(f"registry/webhooks/{hook_id}/deliveries/{n:04d}.json", b"{}")
    store.backend.put("registry/webhooks/_lease/00000001.json", b"{}")
    # what a removed hook may leave: a folder without its record (never listed as a hook)
    store.backend.put("registry/webhooks/wh-ffffffffffffffff/deliveries/0.json", b"{}")
    listed: list[str] = []
    original = store.backend.list_after

    def counting(prefix: str, after: str):  # type: ignore[no-untyped-def]
        listed.append(after)
        return original(prefix, after)

    store.backend.list_after = counting  # type: ignore[method-assign]
    assert [h.id for h in book.hooks()] == ids
    assert len(listed) == len(ids) + 3  # the lease's name, each hook, the leftover, the end
