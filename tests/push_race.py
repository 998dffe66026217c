"""Two (or more) pushes of one explicit version at once: the race the conformance suite and the
registry's replicas run, with one start line and one verdict."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from tests.integration.test_s3_shelf import make_tree

import modelshelf.shelf.push
from modelshelf import Shelf
from modelshelf.errors import VersionExistsError


def race_one_version(
    shelves: dict[str, Shelf], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Push ``w.bin`` (``name`` x 1000) as ``race:1.0`` from every shelf at once; check exactly
    one won and every other got VersionExistsError; the winner's name.

    The early "does it exist" check of a push is skipped: only the store's create-only commit
    decides.
    """
    monkeypatch.setattr(modelshelf.shelf.push, "_check_explicit", lambda *a, **k: None)
    racers = {
        name: (shelf, make_tree(tmp_path / f"race-{name}", {"w.bin": name.encode() * 1000}))
        for name, shelf in shelves.items()
    }
    for shelf, _ in racers.values():
        shelf.store.versions("race")  # connected before the start line
    start = threading.Barrier(len(racers))
    outcome: dict[str, object] = {}

    def race(name: str) -> None:
        shelf, folder = racers[name]
        start.wait()
        try:
            outcome[name] = shelf.push(folder, "race:1.0", progress=False)
        except Exception as exc:
            outcome[name] = exc

    threads = [threading.Thread(target=race, args=(name,)) for name in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    winners = [name for name, got in outcome.items() if not isinstance(got, BaseException)]
    losers = [got for got in outcome.values() if isinstance(got, BaseException)]
    assert len(winners) == 1 and len(losers) == len(racers) - 1, outcome
    assert all(isinstance(lost, VersionExistsError) for lost in losers), losers
    return winners[0]
