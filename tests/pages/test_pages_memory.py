"""The catalog keeps what writers send only bounded: a one-line message to show, a bounded
search text per version, the log page's fields cut, and its log buffer bounded by bytes."""

from __future__ import annotations

from pathlib import Path

from tests.pages.pages_helpers import blob, commit

from modelshelf.backends.registry import open_backend
from modelshelf.registry.pages.catalog import (
    MAX_SEARCHED_MESSAGE,
    MAX_SHOWN_MESSAGE,
    Catalog,
    one_line,
)
from modelshelf.registry.pages.log_buffer import MAX_FIELD, LogBuffer
from modelshelf.store.bucket import Store

BIG = "needle first line " + "x" * 5000 + " hidden-word\n" + "y" * (64 * 1024 - 6000)


def _store(tmp_path: Path) -> Store:
    store = Store(open_backend((tmp_path / "store").as_uri()))
    store.create()
    weights = blob(store, b"w", "w.bin")
    for n in range(3):
        commit(store, "spam/a", f"1.{n}", [weights], BIG)
        store.append_log("spam/a", "push", version=f"1.{n}", message=BIG, files=1)
    return store


def test_a_version_keeps_a_line_to_show_and_a_bounded_search_text(tmp_path: Path) -> None:
    catalog = Catalog(_store(tmp_path))
    catalog.build()
    asset = catalog.asset("spam/a")
    assert asset is not None
    for version in asset.versions:
        assert len(version.message) <= MAX_SHOWN_MESSAGE and version.message.startswith("needle")
        assert len(version.search) <= MAX_SEARCHED_MESSAGE
    assert asset.has_text("needle first") and not asset.has_text("hidden-word")
    for _, record in catalog.log_records():
        assert all(len(str(value)) <= MAX_FIELD for value in record.values())
        assert set(record) <= {"when", "action", "name", "version", "user", "host", "via",
                               "message", "files", "seq"}  # fmt: skip


def test_the_log_buffer_is_bounded_by_bytes() -> None:
    buffer = LogBuffer(max_records=100_000, max_bytes=200_000)
    record = {"action": "push", "name": "a", "message": "m" * 65536, "extra": "e" * 65536}
    buffer.extend([(str(n), record) for n in range(10_000)])
    assert buffer.size <= 200_000 and 0 < len(buffer) < 10_000
    newest_id, newest = buffer.records()[-1]
    assert newest_id == "9999" and "extra" not in newest and len(newest["message"]) == MAX_FIELD
    few = LogBuffer(max_records=5, max_bytes=1 << 30)
    few.extend([(str(n), record) for n in range(9)])
    assert [change_id for change_id, _ in few.records()] == ["4", "5", "6", "7", "8"]


def test_one_line_cuts_and_says_so() -> None:
    assert one_line("short") == "short"
    assert one_line("first\nsecond") == "first …"
    cut = one_line("z" * 500)
    assert len(cut) == MAX_SHOWN_MESSAGE and cut.endswith("…")
