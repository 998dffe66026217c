"""A warm pull checks that its snapshot is whole and heals it; ``--force`` fetches again."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from tests.wrapped_backend import WrappedBackend

from modelshelf.cli.main import main
from modelshelf.shelf.shelf import Shelf

FILES = {"model.bin": b"weights" * 100, "tok/vocab.txt": b"vocab", "tok/merges.txt": b"merges"}


class CountingBackend(WrappedBackend):
    """Counts ranged reads: each one is a download."""

    def __init__(self, inner: WrappedBackend | object) -> None:
        super().__init__(inner)  # type: ignore[arg-type]
        self.reads: list[str] = []

    def get_range(self, key: str, start: int, end: int) -> bytes | memoryview:
        self.reads.append(key)
        return self.inner.get_range(key, start, end)


@pytest.fixture
def shelf(tmp_path: Path) -> Shelf:
    shelf = Shelf("memory://heal", cache_dir=tmp_path / "cache")
    source = tmp_path / "src"
    for rel, data in FILES.items():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_bytes(data)
    shelf.push(source, "nlp/model", progress=False)
    return shelf


def assert_whole(path: Path) -> None:
    assert path.is_dir()
    for rel, data in FILES.items():
        assert (path / rel).read_bytes() == data


def test_pull_after_the_snapshot_folder_was_removed_heals_it(shelf: Shelf) -> None:
    path = shelf.pull("nlp/model:1.0", progress=False)
    shutil.rmtree(path)
    again = shelf.pull("nlp/model:1.0", progress=False)
    assert again == path
    assert_whole(again)


def test_pull_after_a_file_was_deleted_from_the_snapshot_heals_it(shelf: Shelf) -> None:
    path = shelf.pull("nlp/model:1.0", progress=False)
    (path / "tok" / "vocab.txt").unlink()
    assert_whole(shelf.pull("nlp/model:1.0", progress=False))


def test_pull_fetches_again_a_blob_that_is_gone_with_its_file(shelf: Shelf) -> None:
    path = shelf.pull("nlp/model:1.0", progress=False)
    manifest = shelf.resolve("nlp/model:1.0").manifest
    entry = manifest.file("model.bin")
    assert entry is not None
    (path / "model.bin").unlink()
    shelf.cache.blob_path(entry.sha256).unlink()
    assert_whole(shelf.pull("nlp/model:1.0", progress=False))
    assert shelf.cache.has_blob(entry.sha256)


def test_pull_replaces_a_folder_standing_where_a_file_should_be(shelf: Shelf) -> None:
    path = shelf.pull("nlp/model:1.0", progress=False)
    (path / "tok" / "vocab.txt").unlink()
    (path / "tok" / "vocab.txt" / "inner").mkdir(parents=True)
    assert not shelf.cache.snapshot_is_whole(
        shelf.store_id, shelf.resolve("nlp/model:1.0").manifest
    )
    assert_whole(shelf.pull("nlp/model:1.0", progress=False))


def test_force_replaces_a_folder_standing_where_a_file_should_be(shelf: Shelf) -> None:
    path = shelf.pull("nlp/model:1.0", progress=False)
    (path / "model.bin").unlink()
    (path / "model.bin").mkdir()
    assert_whole(shelf.pull("nlp/model:1.0", progress=False, force=True))


# -- a sub-path pull of a snapshot that lost a file elsewhere ----------------------------------


def test_sub_path_pull_relinks_a_lost_file_outside_the_sub_path(
    shelf: Shelf, caplog: pytest.LogCaptureFixture
) -> None:
    path = shelf.pull("nlp/model:1.0", progress=False)
    (path / "model.bin").unlink()
    with caplog.at_level("WARNING", logger="modelshelf"):
        shelf.pull("nlp/model:1.0/tok/vocab.txt", progress=False)
    assert caplog.records, "the repair is reported"
    assert_whole(path)
    assert shelf.cache.is_complete(shelf.store_id, "nlp/model", "1.0")
    caplog.clear()
    with caplog.at_level("WARNING", logger="modelshelf"):
        shelf.pull("nlp/model:1.0/tok/vocab.txt", progress=False)
    assert caplog.records == []  # repaired once: no warning on every pull


def test_sub_path_pull_unmarks_a_snapshot_whose_lost_file_is_not_cached(
    shelf: Shelf, caplog: pytest.LogCaptureFixture
) -> None:
    path = shelf.pull("nlp/model:1.0", progress=False)
    entry = shelf.resolve("nlp/model:1.0").manifest.file("model.bin")
    assert entry is not None
    (path / "model.bin").unlink()
    shelf.cache.blob_path(entry.sha256).unlink()
    counting = CountingBackend(shelf.store.backend)
    watched = Shelf(counting, cache_dir=shelf.cache.root)
    with caplog.at_level("WARNING", logger="modelshelf"):
        watched.pull("nlp/model:1.0/tok/vocab.txt", progress=False)
    assert "repairing" not in caplog.text  # nothing was repaired
    assert counting.reads == []  # a sub-path pull fetches only its files
    assert not shelf.cache.is_complete(shelf.store_id, "nlp/model", "1.0")
    caplog.clear()
    with caplog.at_level("WARNING", logger="modelshelf"):
        watched.pull("nlp/model:1.0/tok/vocab.txt", progress=False)
    assert caplog.records == []
    assert_whole(watched.pull("nlp/model:1.0", progress=False))  # the whole pull heals it
    assert shelf.cache.is_complete(shelf.store_id, "nlp/model", "1.0")


def test_a_replaced_file_of_the_wrong_size_is_for_force_or_verify(shelf: Shelf) -> None:
    path = shelf.pull("nlp/model:1.0", progress=False)
    target = path / "model.bin"
    target.unlink()
    target.write_bytes(b"short")
    assert_whole(shelf.pull("nlp/model:1.0", progress=False, force=True))


def test_cli_pull_after_rm_rf_prints_a_path_that_exists(
    shelf: Shelf,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MODELSHELF_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["--store", "memory://heal", "pull", "nlp/model:1.0"]) == 0
    printed = Path(capsys.readouterr().out.strip())
    shutil.rmtree(printed)
    assert main(["--store", "memory://heal", "pull", "nlp/model:1.0"]) == 0
    again = Path(capsys.readouterr().out.strip())
    assert again == printed
    assert_whole(again)


def tamper(path: Path, data: bytes) -> None:
    """What root (or a user after ``chmod u+w``) can do to a hard-linked snapshot file."""
    path.chmod(0o644)
    with path.open("r+b") as handle:
        handle.write(data)
    path.chmod(0o444)


def test_force_fetches_again_and_replaces_tampered_bytes(shelf: Shelf) -> None:
    path = shelf.pull("nlp/model:1.0", progress=False)
    tamper(path / "model.bin", b"EVIL")
    assert (path / "model.bin").read_bytes().startswith(b"EVIL")  # a plain warm pull trusts it
    forced = shelf.pull("nlp/model:1.0", progress=False, force=True)
    assert_whole(forced)
    manifest = shelf.resolve("nlp/model:1.0").manifest
    for entry in manifest.files:
        assert os.path.samefile(forced / entry.path, shelf.cache.blob_path(entry.sha256))
        assert shelf.cache.blob_path(entry.sha256).read_bytes() == FILES[entry.path]


def test_force_downloads_every_file_again(tmp_path: Path, shelf: Shelf) -> None:
    shelf.pull("nlp/model:1.0", progress=False)
    counting = CountingBackend(shelf.store.backend)
    watched = Shelf(counting, cache_dir=shelf.cache.root)
    watched.pull("nlp/model:1.0", progress=False)
    assert counting.reads == []  # warm
    watched.pull("nlp/model:1.0", progress=False, force=True)
    assert len(counting.reads) == len(FILES)


def test_cli_pull_force(
    shelf: Shelf,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MODELSHELF_CACHE_DIR", str(tmp_path / "cache"))
    path = shelf.pull("nlp/model:1.0", progress=False)
    tamper(path / "tok" / "vocab.txt", b"EVIL!")
    assert main(["--store", "memory://heal", "pull", "--force", "nlp/model:1.0"]) == 0
    assert_whole(Path(capsys.readouterr().out.strip()))
