"""The notes (labels, descriptions) checks every kind of store passes: the conformance suite
runs them on each remote kind (``tests/conformance/test_notes.py``), the unit tests on
``file://`` and ``memory://`` (``tests/unit/test_notes_store.py``).

Each check takes ``open_shelf(cache_name) -> Shelf`` (a new Shelf over the one store under
test, with a cache of its own: another machine) and, for the hostile records,
``plant(key, bytes)`` (an object written behind modelshelf's back; for a registry, into the
bucket behind it).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.integration.test_s3_shelf import make_tree

from modelshelf import Shelf
from modelshelf.errors import (
    AssetNotFoundError,
    InvalidInputError,
    NotesConflictError,
    UntrustedStoreDataError,
    VersionNotFoundError,
)
from modelshelf.store.notes import Notes

OpenShelf = Callable[[str], Shelf]
Plant = Callable[[str, bytes], None]


def pushed(open_shelf: OpenShelf, tmp_path: Path, versions: int = 2) -> Shelf:
    """A shelf whose store holds ``m:1.0`` ... ``m:1.<versions-1>``."""
    shelf = open_shelf("cache-w")
    for i in range(versions):
        shelf.push(make_tree(tmp_path / f"v{i}", {"w.bin": str(i).encode()}), "m", progress=False)
    return shelf


def check_notes_are_written_read_and_kept(
    open_shelf: OpenShelf, tmp_path: Path, registry: bool
) -> None:
    shelf = pushed(open_shelf, tmp_path)
    assert shelf.notes("m") == Notes() and shelf.notes("m:1.0").seq == 0
    first = shelf.set_notes("m", set={"team": "nlp", "gpu": ""}, description="# M\n\nA model.")
    assert first.seq == 1 and first.labels == {"gpu": "", "team": "nlp"}
    assert list(first.labels) == ["gpu", "team"]  # sorted by key
    shelf.set_notes("m:1.0", set={"stage": "candidate"})
    second = shelf.set_notes("m", set={"team": "cv"}, remove=["gpu"])
    assert second.seq == 2 and second.labels == {"team": "cv"}
    assert second.description == "# M\n\nA model."  # kept: not given
    reader = open_shelf("cache-r")
    assert reader.notes("m") == second
    assert reader.notes("m:1.0").labels == {"stage": "candidate"}
    assert reader.notes("m@latest").seq == 0  # 1.1's notes: none
    assert [n.seq for n in reader.notes_history("m")] == [1, 2]
    assert [n.labels for n in reader.notes_history("m:1.0")] == [{"stage": "candidate"}]
    # a change that changes nothing writes nothing
    assert shelf.set_notes("m", set={"team": "cv"}).seq == 2
    records = [r for r in reader.log("m") if r["action"] == "label"]
    assert [(r.get("version"), r["seq"], r["labels"]) for r in records] == [
        (None, 1, "gpu, team=nlp"),
        ("1.0", 1, "stage=candidate"),
        (None, 2, "team=cv"),
    ]
    assert [r["description_changed"] for r in records] == [True, False, False]
    assert all((r.get("via") == "registry") == registry for r in records)


def _race(stores: list[Any], target: str | None) -> dict[int, object]:
    """Every store writes record 1 of the notes of ``m`` (``target``) at once."""
    for store in stores:
        assert store.read_notes("m", target).seq == 0  # connected before the start line
    start = threading.Barrier(len(stores))
    outcome: dict[int, object] = {}

    def write(index: int) -> None:
        start.wait()
        try:
            outcome[index] = stores[index].write_notes(
                "m", target, labels={"w": str(index)}, description="", expected_seq=0
            )
        except Exception as exc:
            outcome[index] = exc

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return outcome


def check_two_writers_with_one_expected_seq_one_wins(open_shelf: OpenShelf, tmp_path: Path) -> None:
    pushed(open_shelf, tmp_path, versions=1)
    for target in (None, "1.0"):
        stores = [open_shelf(f"cache-{i}").store for i in range(2)]
        outcome = _race(stores, target)
        winners = [got for got in outcome.values() if isinstance(got, Notes)]
        losers = [got for got in outcome.values() if isinstance(got, BaseException)]
        assert len(winners) == 1 and len(losers) == 1, outcome
        assert isinstance(losers[0], NotesConflictError), losers
        assert losers[0].current == 1 and losers[0].expected == 0
        history = stores[0].notes_history("m", target)
        assert [(n.seq, n.labels) for n in history] == [(1, winners[0].labels)]


def check_concurrent_changes_both_keep_theirs(open_shelf: OpenShelf, tmp_path: Path) -> None:
    pushed(open_shelf, tmp_path, versions=1)
    shelves = [open_shelf(f"cache-{i}") for i in range(3)]
    for shelf in shelves:
        shelf.store.read_notes("m")
    start = threading.Barrier(len(shelves))
    failures: list[BaseException] = []

    def change(index: int) -> None:
        start.wait()
        try:
            shelves[index].set_notes("m", set={f"k{index}": "v"})
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=change, args=(i,)) for i in range(len(shelves))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures, failures
    final = open_shelf("cache-r").notes("m")
    assert final.labels == {"k0": "v", "k1": "v", "k2": "v"} and final.seq == 3


def check_notes_need_a_live_target(open_shelf: OpenShelf, tmp_path: Path) -> None:
    shelf = pushed(open_shelf, tmp_path)
    store = shelf.store
    with pytest.raises(VersionNotFoundError, match=r"it has 1\.1, 1\.0"):
        store.write_notes("m", "9.9", labels={}, description="", expected_seq=0)
    with pytest.raises(AssetNotFoundError):
        store.write_notes("nothere", None, labels={"a": ""}, description="", expected_seq=0)
    with pytest.raises(AssetNotFoundError):
        shelf.set_notes("nothere", set={"a": ""})
    with pytest.raises(VersionNotFoundError):
        shelf.set_notes("m:9.9", set={"a": ""})
    shelf.remove("m:1.1", message="bad")
    with pytest.raises(VersionNotFoundError, match="removed"):
        store.write_notes("m", "1.1", labels={"a": ""}, description="", expected_seq=0)
    with pytest.raises(NotesConflictError) as info:  # a number ahead of the newest: no gap
        store.write_notes("m", None, labels={}, description="", expected_seq=3)
    assert info.value.current == 0
    with pytest.raises(InvalidInputError, match="label key"):
        store.write_notes("m", None, labels={"Team": "x"}, description="", expected_seq=0)
    assert store.notes_history("m") == [] and store.notes_history("m", "1.1") == []


def _record(**fields: Any) -> bytes:
    record = {"seq": 1, "labels": {}, "description": "", "who": "w", "host": "h", "when": "t"}
    record.update(fields)
    return json.dumps(record).encode()


# A record modelshelf never writes, each refused at the read, never used.
HOSTILE = {
    "10,000 labels": _record(labels={f"k{i}": "" for i in range(10_000)}),
    "control characters in a value": _record(labels={"team": "nlp\x1b[2J\nforged: line"}),
    "a key with upper case": _record(labels={"Team": "x"}),
    "a value that is no text": _record(labels={"team": ["x"]}),
    "a value of 257 characters": _record(labels={"team": "x" * 257}),
    "a terminal escape in the description": _record(description="ok\x1b]0;owned\x07"),
    "a description over 64 KiB": _record(description="x" * (64 * 1024 + 1)),
    "control characters in who": _record(who="eve\rmallory"),
    "another record's number": _record(seq=7),
    "no labels at all": json.dumps({"seq": 1, "description": ""}).encode(),
    "a list": b'["seq", 1]',
    "a string": b'"notes"',
    "not JSON": b"{seq: 1",
    "over a mebibyte": b'{"seq": 1, "description": "' + b"x" * (1 << 20) + b'"}',
}


def check_hostile_records_are_refused(
    open_shelf: OpenShelf, plant: Plant, tmp_path: Path, what: str
) -> None:
    pushed(open_shelf, tmp_path, versions=1)
    for target, key in (
        ("m", "assets/m/notes/asset/00000001.json"),
        ("m:1.0", "assets/m/notes/versions/1.0/00000001.json"),
    ):
        plant(key, HOSTILE[what])
        reader = open_shelf("cache-r")
        for read in (reader.notes, reader.notes_history):
            with pytest.raises(UntrustedStoreDataError) as info:
                read(target)
            message = str(info.value)
            assert "\n" not in message and "\x1b" not in message and "\r" not in message
            assert len(message) < 4096
        with pytest.raises(UntrustedStoreDataError):  # a change reads first: nothing written
            reader.set_notes(target, set={"team": "nlp"})
