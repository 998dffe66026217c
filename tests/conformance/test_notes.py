"""Notes (labels, descriptions), the same on every kind of remote store: written, read and kept
as history; compare-and-swap (two writers of one record number: exactly one wins); only on a
live target; and hostile records in the store refused at the boundary."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests import notes_checks as checks
from tests.conformance.test_hostile import put_raw
from tests.servers.gcs import expect_emulator_gap
from tests.servers.remote import RemoteStore

from modelshelf import Shelf


def _opener(store: RemoteStore, tmp_path: Path) -> checks.OpenShelf:
    return lambda cache: Shelf(store.url, cache_dir=tmp_path / cache, **store.options)


def test_notes_are_written_read_and_kept(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request)
    checks.check_notes_are_written_read_and_kept(
        _opener(remote_store, tmp_path), tmp_path, remote_store.is_registry
    )


def test_two_writers_with_one_expected_seq_one_wins(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request)
    checks.check_two_writers_with_one_expected_seq_one_wins(
        _opener(remote_store, tmp_path), tmp_path
    )


def test_concurrent_changes_both_keep_theirs(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request)
    checks.check_concurrent_changes_both_keep_theirs(_opener(remote_store, tmp_path), tmp_path)


def test_notes_need_a_live_target(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request)
    checks.check_notes_need_a_live_target(_opener(remote_store, tmp_path), tmp_path)


@pytest.mark.parametrize(
    "what", ["10,000 labels", "control characters in a value", "a list", "over a mebibyte"]
)
def test_hostile_records_are_refused(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest, what: str
) -> None:
    expect_emulator_gap(remote_store, request)
    checks.check_hostile_records_are_refused(
        _opener(remote_store, tmp_path),
        lambda key, data: put_raw(remote_store, key, data),
        tmp_path,
        what,
    )
