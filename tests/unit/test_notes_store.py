"""The notes checks (tests/notes_checks.py) on the local kinds of store: ``file://`` and
``memory://``; the conformance suite runs the same checks on every remote kind."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from tests import notes_checks as checks

from modelshelf import Shelf
from modelshelf.backends import open_backend

KINDS = ["file", "memory"]


def _url(kind: str, tmp_path: Path) -> str:
    if kind == "file":
        return (tmp_path / "store").as_uri()
    return f"memory://notes-{uuid.uuid4().hex}"


def _opener(kind: str, tmp_path: Path) -> checks.OpenShelf:
    url = _url(kind, tmp_path)
    return lambda cache: Shelf(url, cache_dir=tmp_path / cache)


@pytest.mark.parametrize("kind", KINDS)
def test_notes_are_written_read_and_kept(kind: str, tmp_path: Path) -> None:
    checks.check_notes_are_written_read_and_kept(_opener(kind, tmp_path), tmp_path, False)


@pytest.mark.parametrize("kind", KINDS)
def test_two_writers_with_one_expected_seq_one_wins(kind: str, tmp_path: Path) -> None:
    checks.check_two_writers_with_one_expected_seq_one_wins(_opener(kind, tmp_path), tmp_path)


@pytest.mark.parametrize("kind", KINDS)
def test_concurrent_changes_both_keep_theirs(kind: str, tmp_path: Path) -> None:
    checks.check_concurrent_changes_both_keep_theirs(_opener(kind, tmp_path), tmp_path)


@pytest.mark.parametrize("kind", KINDS)
def test_notes_need_a_live_target(kind: str, tmp_path: Path) -> None:
    checks.check_notes_need_a_live_target(_opener(kind, tmp_path), tmp_path)


@pytest.mark.parametrize("what", sorted(checks.HOSTILE))
@pytest.mark.parametrize("kind", KINDS)
def test_hostile_records_are_refused(kind: str, what: str, tmp_path: Path) -> None:
    url = _url(kind, tmp_path)
    backend = open_backend(url)
    checks.check_hostile_records_are_refused(
        lambda cache: Shelf(url, cache_dir=tmp_path / cache),
        lambda key, data: backend.put(key, data),
        tmp_path,
        what,
    )


def test_a_label_write_reaches_the_stores_log(tmp_path: Path) -> None:
    """Webhooks and the pages follow the store's log: a change of notes is in it, as `label`."""
    open_shelf = _opener("file", tmp_path)
    shelf = checks.pushed(open_shelf, tmp_path, versions=1)
    shelf.set_notes("m:1.0", set={"stage": "candidate"}, description="why")
    change = shelf.store.changes()[-1]  # type: ignore[attr-defined]
    assert (change.name, change.action) == ("m", "label")
    assert change.record["version"] == "1.0" and change.record["labels"] == "stage=candidate"
    assert change.record["description_changed"] is True
