"""Promotion between stores: `Shelf.copy` / `modelshelf copy SPEC DEST_STORE`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from modelshelf import IntegrityError, Shelf, VersionExistsError
from modelshelf.cli.main import main
from modelshelf.transfer.blob_copy import BlobStream
from modelshelf.transfer.download import ObjectBlob


@pytest.fixture
def dev(tmp_path: Path) -> Shelf:
    return Shelf((tmp_path / "dev").as_uri(), cache_dir=tmp_path / "cache")


@pytest.fixture
def prod(tmp_path: Path) -> Shelf:
    return Shelf((tmp_path / "prod").as_uri(), cache_dir=tmp_path / "cache")


@pytest.fixture
def model(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(os.urandom(50_000))
    (folder / "config.json").write_text('{"labels": 2}')
    return folder


def test_a_copy_keeps_the_number_the_provenance_and_the_bytes(
    dev: Shelf, prod: Shelf, model: Path, tmp_path: Path
) -> None:
    pushed = dev.push(model, "nlp/sentiment", message="first", progress=False)
    report = dev.copy("nlp/sentiment:1", prod, progress=False)
    assert (report.blobs_copied, report.blobs_present, report.already_there) == (2, 0, False)
    assert report.bytes_copied == sum(f.size for f in pushed.files)
    copied = prod.store.read_manifest("nlp/sentiment", "1.0")
    assert copied == pushed  # number, created, author, message, source, files: all kept
    out = prod.pull("nlp/sentiment:1.0", output=tmp_path / "out", progress=False)
    assert (out / "weights.bin").read_bytes() == (model / "weights.bin").read_bytes()
    assert prod.log("nlp/sentiment")[-1]["action"] == "copy"
    assert prod.log("nlp/sentiment")[-1]["source"] == dev.url


def test_only_missing_blobs_travel_and_a_second_copy_changes_nothing(
    dev: Shelf, prod: Shelf, model: Path
) -> None:
    dev.push(model, "nlp/sentiment", progress=False)
    dev.copy("nlp/sentiment:1.0", prod, progress=False)
    (model / "config.json").write_text('{"labels": 3}')
    dev.push(model, "nlp/sentiment", progress=False)
    report = dev.copy("nlp/sentiment:1.1", prod, progress=False)
    assert (report.blobs_copied, report.blobs_present) == (1, 1)  # the weights were there
    again = dev.copy("nlp/sentiment:1.1", prod, progress=False)
    assert again.already_there and again.blobs_copied == 0


def test_a_different_version_of_the_same_number_is_refused(
    dev: Shelf, prod: Shelf, model: Path, tmp_path: Path
) -> None:
    dev.push(model, "nlp/sentiment", progress=False)
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("not the same")
    prod.push(other, "nlp/sentiment", progress=False)
    with pytest.raises(VersionExistsError, match="different content there"):
        dev.copy("nlp/sentiment:1.0", prod, progress=False)
    assert [f.path for f in prod.store.read_manifest("nlp/sentiment", "1.0").files] == ["x.txt"]


def test_a_removed_number_in_the_destination_is_never_reused(
    dev: Shelf, prod: Shelf, model: Path
) -> None:
    dev.push(model, "nlp/sentiment", progress=False)
    dev.copy("nlp/sentiment:1.0", prod, progress=False)
    prod.remove("nlp/sentiment:1.0", message="leaked")
    with pytest.raises(VersionExistsError):
        dev.copy("nlp/sentiment:1.0", prod, progress=False)


def test_a_damaged_source_blob_is_refused_and_nothing_is_committed(
    dev: Shelf, prod: Shelf, model: Path
) -> None:
    pushed = dev.push(model, "nlp/sentiment", progress=False)
    weights = next(f for f in pushed.files if f.path == "weights.bin")
    key = dev.store.blob_key(weights.sha256)
    dev.store.backend.put(key, os.urandom(weights.size))
    with pytest.raises(IntegrityError):
        dev.copy("nlp/sentiment:1.0", prod, progress=False)
    assert not prod.store.has_blob(weights.sha256)
    with pytest.raises(Exception, match="nlp/sentiment"):
        prod.store.read_manifest("nlp/sentiment", "1.0")


def test_blobs_stream_in_ranges_never_whole(dev: Shelf, model: Path) -> None:
    pushed = dev.push(model, "nlp/sentiment", progress=False)
    weights = next(f for f in pushed.files if f.path == "weights.bin")
    reads: list[tuple[int, int]] = []
    blob = ObjectBlob(dev.store.backend, dev.store.blob_key(weights.sha256))
    original = blob.read_range

    def counting(start: int, end: int) -> bytes | memoryview:
        reads.append((start, end))
        return original(start, end)

    blob.read_range = counting  # type: ignore[method-assign]
    stream = BlobStream(blob, weights.size, range_size=8192)
    data = b"".join(iter(lambda: stream.read(5000), b""))
    assert data == (model / "weights.bin").read_bytes()
    assert max(end - start for start, end in reads) == 8192
    assert stream.seek(0) == 0 and stream.read(10) == data[:10]


def test_cli_copy_prints_what_travelled_and_json(
    dev: Shelf, prod: Shelf, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dev.push(model, "nlp/sentiment", progress=False)
    assert main(["copy", "nlp/sentiment@latest", prod.url, "--store", dev.url]) == 0
    assert "2 blobs" in capsys.readouterr().out
    assert main(["copy", "nlp/sentiment:1.0", prod.url, "--store", dev.url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["already_there"] is True
    assert main(["copy", "nlp/nothing", prod.url, "--store", dev.url]) == 1
    assert capsys.readouterr().err.startswith("error:")
