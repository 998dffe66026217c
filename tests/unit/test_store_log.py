"""The store's log (``log/<ID>.json``): every audit record once more at the top of the store, in
time order; ``Backend.list_after`` lists from a key; ``ChangeFollower`` returns each record once,
including records that land after newer ones (within its settle window)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelshelf import Shelf
from modelshelf.backends.memory import MemoryBackend
from modelshelf.backends.registry import open_backend
from modelshelf.errors import ModelshelfError
from modelshelf.store.bucket import Store
from modelshelf.store.changes import ChangeFollower, _stamp, log_id


@pytest.fixture(params=["memory", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "memory":
        MemoryBackend.reset("store-log")
        return Store(open_backend("memory://store-log"))
    store = Store(open_backend((tmp_path / "store").as_uri()))
    store.create()
    return store


def _record(name: str, action: str, when: str) -> bytes:
    return json.dumps(
        {"action": action, "name": name, "when": when, "user": "u", "host": "h"}
    ).encode()


def test_list_after_lists_from_a_key_in_key_order(store: Store) -> None:
    for key in ("log/c", "log/a", "log/b", "log/d", "logs/x", "other/a"):
        store.backend.put(key, b"x")
    assert [m.path for m in store.backend.list_after("log", "log/b")] == ["log/c", "log/d"]
    assert [m.path for m in store.backend.list_after("log", "")] == [
        "log/a",
        "log/b",
        "log/c",
        "log/d",
    ]


def test_every_audit_record_is_in_the_store_log_in_order(store: Store, tmp_path: Path) -> None:
    shelf = Shelf(
        store.url if store.url.startswith("file") else "memory://store-log",
        cache_dir=tmp_path / "cache",
    )
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "w.bin").write_bytes(b"weights")
    shelf.push(tmp_path / "m", "nlp/m", progress=False)
    shelf.set_alias("nlp/m@production", "1")
    shelf.push(tmp_path / "m", "cv/m", progress=False)
    changes = store.changes()
    assert [(c.name, c.action) for c in changes] == [
        ("nlp/m", "push"),
        ("nlp/m", "alias"),
        ("cv/m", "push"),
    ]
    assert [c.id for c in changes] == sorted(c.id for c in changes)
    # The asset's own log holds the same records.
    assert [r["action"] for r in store.log("nlp/m")] == ["push", "alias"]
    assert store.changes(after=changes[0].id) == changes[1:]
    assert store.changes(limit=1) == changes[:1]


@pytest.mark.parametrize(
    "forged",
    [b"not json", b"[]", _record("../../etc", "push", "2026"), b'{"name": "m"}', b"{" * 5000],
)
def test_a_forged_record_is_skipped_not_a_wall(store: Store, forged: bytes) -> None:
    store.backend.put(f"log/{log_id('2026-01-01T00:00:00.000000Z', 'a' * 12)}.json", forged)
    good = log_id("2026-01-01T00:00:01.000000Z", "b" * 12)
    store.backend.put(f"log/{good}.json", _record("m", "push", "2026-01-01T00:00:01Z"))
    store.backend.put("log/not-an-id.json", _record("m", "push", "x"))
    assert [c.id for c in store.changes()] == [good]


def _at(seconds: float) -> str:
    """The ID of a record stamped ``seconds`` after the epoch."""
    return f"{_stamp(seconds)}-{int(seconds * 1000):012x}"


def test_a_late_record_is_returned_once_and_the_cursor_waits_for_it(store: Store) -> None:
    now = [1000.0]
    follower = ChangeFollower(store, settle_seconds=30, clock=lambda: now[0])
    early, late, newer = _at(990), _at(995), _at(999)
    store.backend.put(f"log/{early}.json", _record("a", "push", "t"))
    store.backend.put(f"log/{newer}.json", _record("a", "push", "t"))
    assert [c.id for c in follower.poll()] == [early, newer]
    assert follower.settled == ""  # nothing is older than the window yet
    store.backend.put(f"log/{late}.json", _record("b", "push", "t"))  # landed late
    now[0] = 1040.0
    assert [c.id for c in follower.poll()] == [late]
    assert follower.settled == newer
    assert follower.poll() == []
    restarted = ChangeFollower(store, start=follower.settled, clock=lambda: now[0])
    assert restarted.poll() == []


@settings(max_examples=60, deadline=None)
@given(
    writes=st.lists(
        st.tuples(st.integers(0, 200), st.integers(0, 25)),  # (stamp, lands this much later)
        min_size=1,
        max_size=30,
    ),
    polls=st.lists(st.integers(0, 260), min_size=1, max_size=12),
)
def test_each_record_is_returned_exactly_once(
    writes: list[tuple[int, int]], polls: list[int]
) -> None:
    MemoryBackend.reset("store-log-prop")
    store = Store(open_backend("memory://store-log-prop"))
    now = [0.0]
    follower = ChangeFollower(store, settle_seconds=30, clock=lambda: now[0])
    landing = sorted(((stamp + delay, i, stamp) for i, (stamp, delay) in enumerate(writes)))
    returned: list[str] = []
    for moment in [*sorted(polls), 1000]:
        while landing and landing[0][0] <= moment:
            _, i, stamp = landing.pop(0)
            key = f"{_stamp_id(stamp, i)}"
            store.backend.put(f"log/{key}.json", _record("a", "push", "t"))
        now[0] = 1_000_000.0 + moment
        returned += [c.id for c in follower.poll()]
    assert sorted(returned) == sorted(_stamp_id(s, i) for i, (s, _) in enumerate(writes))
    assert len(returned) == len(set(returned))


def _stamp_id(stamp: int, i: int) -> str:
    return f"{_stamp(1_000_000 + stamp)}-{i:012x}"


def test_list_after_walks_into_a_folder_the_cursor_lies_in(store: Store) -> None:
    # file:// passes over names before the cursor without a stat; a folder the cursor lies in
    # (or after) is still walked, and the order is the keys' ('.' sorts before '/').
    for key in ("p/a/c", "p/a/b", "p/a.json", "p/b", "p/0"):
        store.backend.put(key, b"x")
    assert [m.path for m in store.backend.list_after("p", "p/a.json")] == ["p/a/b", "p/a/c", "p/b"]
    assert [m.path for m in store.backend.list_after("p", "p/a/b")] == ["p/a/c", "p/b"]
    assert [m.path for m in store.backend.list_after("p", "p/a")] == [
        "p/a.json",
        "p/a/b",
        "p/a/c",
        "p/b",
    ]


_SEGMENT = st.text(alphabet="ab.-", min_size=1, max_size=3).filter(lambda s: s not in (".", ".."))


@settings(max_examples=80, deadline=None)
@given(
    keys=st.sets(st.lists(_SEGMENT, min_size=1, max_size=3).map("/".join), max_size=12),
    after=st.lists(_SEGMENT, min_size=1, max_size=3).map("/".join),
)
def test_list_after_on_a_folder_is_the_sorted_keys_after_the_cursor(
    keys: set[str], after: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    backend = open_backend(tmp_path_factory.mktemp("list-after").as_uri())
    backend.create_store()
    written = set()
    for key in sorted(keys):
        try:
            backend.put(f"p/{key}", b"x")
            written.add(f"p/{key}")
        except ModelshelfError:
            continue  # a key whose folder is a file already (a/b beside a): not storable here
    listed = [m.path for m in backend.list_after("p", f"p/{after}")]
    assert listed == sorted(k for k in written if k > f"p/{after}")
