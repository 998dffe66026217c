"""Pruning: least recently used snapshots go first, shared blobs stay while needed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelshelf.cache.prune import plan_prune, prune, usage
from modelshelf.cli.cache import parse_size
from modelshelf.cli.main import main
from modelshelf.errors import InvalidInputError
from modelshelf.shelf.shelf import Shelf


def _push(shelf: Shelf, tmp_path: Path, name: str, files: dict[str, bytes]) -> str:
    folder = tmp_path / f"src-{name.replace('/', '-')}-{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    for rel, data in files.items():
        (folder / rel).write_bytes(data)
    return shelf.push(folder, name, progress=False).version


@pytest.fixture
def shelf(tmp_path: Path) -> Shelf:
    return Shelf("memory://prune", cache_dir=tmp_path / "cache")


def test_lru_snapshot_goes_first_and_shared_blobs_stay(shelf: Shelf, tmp_path: Path) -> None:
    shared = os.urandom(1000)
    _push(shelf, tmp_path, "old", {"shared": shared, "own": os.urandom(3000)})
    _push(shelf, tmp_path, "new", {"shared": shared, "own": os.urandom(2000)})
    old = shelf.pull("old", progress=False)
    new = shelf.pull("new", progress=False)
    os.utime(old.with_name(old.name + ".complete"), (1, 1))  # old was used long ago
    found = usage(shelf.cache)
    assert found.size == 6000 and len(found.snapshots) == 2 and found.temp_files == 0

    plan = plan_prune(shelf.cache, max_bytes=3500)
    assert [s.name for s in plan.snapshots] == ["old"]
    assert plan.size_after == 3000 and plan.freed == 3000

    prune(shelf.cache, max_bytes=3500)
    assert not old.exists() and (new / "shared").read_bytes() == shared
    assert shelf.pull("old", progress=False).is_dir()  # fetched again on demand


def test_orphan_blobs_go_before_any_snapshot(shelf: Shelf, tmp_path: Path) -> None:
    _push(shelf, tmp_path, "a", {"x": os.urandom(100)})
    kept = shelf.pull("a", progress=False)
    orphan = shelf.cache.blob_path("f" * 64)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"0" * 500)
    plan = prune(shelf.cache, max_bytes=100)
    assert plan.snapshots == [] and plan.blobs == ["f" * 64]
    assert kept.is_dir() and not orphan.exists()


def test_dry_run_changes_nothing(shelf: Shelf, tmp_path: Path) -> None:
    _push(shelf, tmp_path, "a", {"x": os.urandom(100)})
    path = shelf.pull("a", progress=False)
    plan = prune(shelf.cache, max_bytes=0, dry_run=True)
    assert len(plan.snapshots) == 1 and path.is_dir()


def test_cli_prune_and_info(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MODELSHELF_CACHE_DIR", str(tmp_path / "cache"))
    shelf = Shelf("memory://prune-cli")
    _push(shelf, tmp_path, "a", {"x": os.urandom(100)})
    shelf.pull("a", progress=False)
    assert main(["cache", "info"]) == 0
    assert "1 snapshots" in capsys.readouterr().out
    assert main(["cache", "prune", "--max-size", "0", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would delete a:1.0" in out and "cache would be 0 B" in out and "deleted" not in out
    assert main(["cache", "prune", "--max-size", "0"]) == 0
    assert "deleted a:1.0" in capsys.readouterr().out
    assert main(["cache", "prune", "--max-size", "lots"]) == 1


@pytest.mark.parametrize(
    ("text", "size"),
    [("0", 0), ("10", 10), ("1KiB", 1024), ("2 GB", 2 * 10**9), ("1.5mib", 1572864)],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_parse_size_rejects_junk() -> None:
    with pytest.raises(InvalidInputError, match="20GiB"):
        parse_size("20 parsecs")


class _Vanishing(type(Path())):  # type: ignore[misc]
    """A path that still looks present to ``is_file``/``is_dir``, then is gone: a race."""

    def is_file(self) -> bool:
        return True

    def is_dir(self) -> bool:
        return True


@pytest.mark.parametrize("what", ["marker", "folder"])
def test_listing_skips_a_snapshot_removed_while_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    from modelshelf.cache.scan import snapshots

    shelf = Shelf("memory://race", cache_dir=tmp_path / "cache")
    source = tmp_path / "src"
    source.mkdir()
    (source / "f").write_bytes(b"data")
    shelf.push(source, "m", progress=False)
    shelf.pull("m:1", progress=False)
    gone = _Vanishing(tmp_path / "gone")
    if what == "folder":  # a partial snapshot, removed between `is_dir` and `stat`
        version = shelf.resolve("m:1").manifest.version
        shelf.cache.complete_marker(shelf.store_id, "m", version).unlink()
        monkeypatch.setattr(shelf.cache, "snapshot_dir", lambda *a: gone)
        assert snapshots(shelf.cache) == []
    else:  # its marker removed between `is_file` and `stat`: listed as partial
        monkeypatch.setattr(shelf.cache, "complete_marker", lambda *a: gone)
        assert [s.complete for s in snapshots(shelf.cache)] == [False]


def test_prune_removes_temp_files_of_dead_writers_outside_blobs(tmp_path: Path) -> None:
    shelf = Shelf("memory://leftovers", cache_dir=tmp_path / "cache")
    source = tmp_path / "src"
    source.mkdir()
    (source / "f").write_bytes(b"data")
    shelf.push(source, "m", progress=False)
    folder = shelf.pull("m:1", progress=False)
    dead = "1234-0badf00d"
    leftover = folder / f".f.{dead}.cafecafe.tmp"
    pin = shelf.cache.root / "pins" / f".{dead}.12345678.json.{dead}.87654321.tmp"
    live = folder / f".f.{shelf.cache.owner()}.cafecafe.tmp"
    for path in (leftover, pin, live):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    plan = prune(shelf.cache, max_bytes=10**9)
    assert leftover in plan.temp_files and pin in plan.temp_files
    assert not leftover.exists() and not pin.exists() and live.exists()
    assert (folder / "f").read_bytes() == b"data"
