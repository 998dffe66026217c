"""``cache verify`` finds tampered blobs and repairs them; ``cache ls`` and ``cache rm``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from modelshelf.cache.admin import remove_snapshots, verify_cache
from modelshelf.cli.main import main
from modelshelf.shelf.shelf import Shelf

SHARED = b"shared weights " * 100
STORE = "memory://verify"


@pytest.fixture
def shelf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Shelf:
    monkeypatch.setenv("MODELSHELF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MODELSHELF_STORE", STORE)
    shelf = Shelf(STORE)
    for n in range(2):  # two versions sharing one blob
        source = tmp_path / f"src{n}"
        source.mkdir()
        (source / "shared.bin").write_bytes(SHARED)
        (source / "own.txt").write_bytes(f"own {n}".encode())
        shelf.push(source, "nlp/model", progress=False)
    shelf.pull("nlp/model:1.0", progress=False)
    shelf.pull("nlp/model:1.1", progress=False)
    return shelf


def tamper(path: Path, data: bytes) -> None:
    """What root (or a user after ``chmod u+w``) can do to a hard-linked snapshot file."""
    path.chmod(0o644)
    with path.open("r+b") as handle:
        handle.write(data)
    path.chmod(0o444)


def snap(shelf: Shelf, version: str) -> Path:
    return shelf.cache.snapshot_dir(shelf.store_id, "nlp/model", version)


def test_tampering_one_snapshot_file_shows_in_every_snapshot(shelf: Shelf) -> None:
    """The trade-off of hard links, shown: this is what ``cache verify`` is for."""
    tamper(snap(shelf, "1.0") / "shared.bin", b"EVIL")
    assert (snap(shelf, "1.1") / "shared.bin").read_bytes().startswith(b"EVIL")
    pulled = shelf.pull("nlp/model:1.1", progress=False)
    assert (pulled / "shared.bin").read_bytes().startswith(b"EVIL")  # served, exit 0


def test_verify_removes_the_bad_blob_and_the_next_pull_heals(shelf: Shelf) -> None:
    tamper(snap(shelf, "1.0") / "shared.bin", b"EVIL")
    report = verify_cache(shelf.cache)
    assert len(report.bad_blobs) == 1
    assert sorted(f"{s.name}:{s.version}" for s in report.damaged) == [
        "nlp/model:1.0",
        "nlp/model:1.1",
    ]
    for version in ("1.0", "1.1"):
        assert not (snap(shelf, version) / "shared.bin").exists()  # no bad bytes are served
        assert not shelf.cache.is_complete(shelf.store_id, "nlp/model", version)
        assert (snap(shelf, version) / "own.txt").exists()
        pulled = shelf.pull(f"nlp/model:{version}", progress=False)
        assert (pulled / "shared.bin").read_bytes() == SHARED
    assert verify_cache(shelf.cache).bad_blobs == []


def test_verify_of_a_sound_cache_changes_nothing(shelf: Shelf) -> None:
    before = sorted(p for p in shelf.cache.root.rglob("*") if "locks" not in p.parts)
    report = verify_cache(shelf.cache)
    assert report.bad_blobs == [] and report.damaged == [] and report.blobs_checked == 3
    after = sorted(p for p in shelf.cache.root.rglob("*") if "locks" not in p.parts)
    assert before == after


def test_verify_restores_a_missing_blob_from_a_good_snapshot_file(shelf: Shelf) -> None:
    manifest = shelf.resolve("nlp/model:1.0").manifest
    entry = manifest.file("shared.bin")
    assert entry is not None
    shelf.cache.blob_path(entry.sha256).unlink()
    report = verify_cache(shelf.cache)
    assert report.restored_blobs == [entry.sha256]
    assert shelf.cache.blob_path(entry.sha256).read_bytes() == SHARED


def test_cli_verify_refetches_from_the_reachable_store(
    shelf: Shelf, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper(snap(shelf, "1.1") / "shared.bin", b"EVIL")
    assert main(["cache", "verify"]) == 0
    out = capsys.readouterr().out
    assert "1 bad blob" in out and "repaired nlp/model:1.0" in out
    for version in ("1.0", "1.1"):
        assert (snap(shelf, version) / "shared.bin").read_bytes() == SHARED
        assert shelf.cache.is_complete(shelf.store_id, "nlp/model", version)


def test_cli_verify_leaves_other_stores_snapshots_for_their_next_pull(
    shelf: Shelf, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper(snap(shelf, "1.1") / "shared.bin", b"EVIL")
    assert main(["--store", "memory://elsewhere", "cache", "verify"]) == 1
    captured = capsys.readouterr()
    assert "next pull" in captured.out + captured.err
    assert not (snap(shelf, "1.1") / "shared.bin").exists()


# -- ls and rm ---------------------------------------------------------------------------------


def test_cache_ls(shelf: Shelf, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cache", "ls"]) == 0
    out = capsys.readouterr().out
    assert "nlp/model" in out and "1.0" in out and "1.1" in out and STORE in out
    assert main(["cache", "ls", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["version"], r["store"]) for r in rows] == [
        ("nlp/model", "1.0", STORE),
        ("nlp/model", "1.1", STORE),
    ]
    assert rows[0]["size"] == len(SHARED) + len(b"own 0")
    assert rows[0]["complete"] is True and "last_used" in rows[0]


def test_cache_rm_removes_a_version_and_only_blobs_no_one_else_needs(shelf: Shelf) -> None:
    manifest = shelf.resolve("nlp/model:1.0").manifest
    shas = {f.path: f.sha256 for f in manifest.files}
    removed = remove_snapshots(shelf.cache, "nlp/model", "1.0")
    assert [f"{s.name}:{s.version}" for s in removed.snapshots] == ["nlp/model:1.0"]
    assert removed.blobs == [shas["own.txt"]]
    assert not snap(shelf, "1.0").exists()
    assert not shelf.cache.has_blob(shas["own.txt"])
    assert shelf.cache.has_blob(shas["shared.bin"])  # 1.1 needs it
    assert (snap(shelf, "1.1") / "shared.bin").read_bytes() == SHARED


def test_cli_cache_rm(shelf: Shelf, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cache", "rm", "nlp/model:1"]) == 0
    assert "removed nlp/model:1.0" in capsys.readouterr().out
    assert not snap(shelf, "1.0").exists() and not snap(shelf, "1.1").exists()
    assert list((shelf.cache.root / "blobs" / "sha256").rglob("*")) == [] or all(
        p.is_dir() for p in (shelf.cache.root / "blobs" / "sha256").rglob("*")
    )
    assert main(["cache", "rm", "nlp/model"]) == 1  # nothing left to remove: say so
    assert "no cached" in capsys.readouterr().err
    assert main(["cache", "rm", "nlp/model@prod"]) == 1


def test_blob_of_a_file_with_a_tampered_copy_is_not_trusted(shelf: Shelf) -> None:
    """A snapshot file that is a separate copy is hashed on its own."""
    path = snap(shelf, "1.0") / "own.txt"
    data = path.read_bytes()
    path.unlink()
    path.write_bytes(data[:-1] + b"X")
    path.chmod(0o444)
    report = verify_cache(shelf.cache)
    assert report.bad_files == [path] and report.bad_blobs == []
    assert path.read_bytes() == data  # relinked to the sound blob
    assert os.path.samefile(path, shelf.cache.blob_path(shelf.resolve("nlp/model:1.0")
                                                        .manifest.files[0].sha256))  # fmt: skip


def test_verify_replaces_a_folder_standing_where_a_file_should_be(shelf: Shelf) -> None:
    path = snap(shelf, "1.0") / "own.txt"
    path.unlink()
    (path / "inner").mkdir(parents=True)
    report = verify_cache(shelf.cache)
    assert report.bad_files == [path]
    assert path.read_bytes() == b"own 0"
    assert shelf.cache.is_complete(shelf.store_id, "nlp/model", "1.0")


def test_verify_leaves_a_bad_blob_that_a_live_pull_pinned(shelf: Shelf) -> None:
    manifest = shelf.resolve("nlp/model:1.0").manifest
    entry = manifest.file("shared.bin")
    assert entry is not None
    tamper(snap(shelf, "1.0") / "shared.bin", b"EVIL")
    with shelf.cache.pin("other-store", "x", "1.0", [entry.sha256]):
        report = verify_cache(shelf.cache)
        assert report.bad_blobs == [entry.sha256]
        assert report.deferred == [entry.sha256]  # a live pull may be linking it now
        assert shelf.cache.has_blob(entry.sha256)
    report = verify_cache(shelf.cache)  # the pull is over: now it goes
    assert report.deferred == [] and not shelf.cache.has_blob(entry.sha256)


def test_cli_verify_says_what_it_left_to_a_live_pull(
    shelf: Shelf, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = shelf.resolve("nlp/model:1.0").manifest
    entry = manifest.file("shared.bin")
    assert entry is not None
    tamper(snap(shelf, "1.0") / "shared.bin", b"EVIL")
    with shelf.cache.pin("other-store", "x", "1.0", [entry.sha256]):
        main(["cache", "verify"])
    assert "in use by a running pull" in capsys.readouterr().out


def test_verify_removes_temp_files_of_dead_writers_everywhere(shelf: Shelf) -> None:
    dead = "1234-0badf00d"
    leftovers = [
        snap(shelf, "1.0") / f".own.txt.{dead}.cafecafe.tmp",
        shelf.cache.root / "refs" / shelf.store_id / "nlp/model" / f".p.{dead}.0a0b0c0d.tmp",
        shelf.cache.root / "pins" / f".{dead}.12345678.json.{dead}.87654321.tmp",
    ]  # fmt: skip
    live = snap(shelf, "1.1") / f".own.txt.{shelf.cache.owner()}.cafecafe.tmp"
    for path in [*leftovers, live]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    report = verify_cache(shelf.cache)
    assert sorted(report.temp_files) == sorted(leftovers)
    assert not any(p.exists() for p in leftovers)
    assert live.exists()
    assert shelf.cache.is_complete(shelf.store_id, "nlp/model", "1.0")
