"""A store whose blobs were truncated or deleted: pulls refuse, a re-push repairs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelshelf import IntegrityError, Shelf
from modelshelf.constants import RANGE_SIZE


@pytest.fixture
def pushed(tmp_path: Path) -> tuple[Shelf, Path, Path]:
    model = tmp_path / "model"
    model.mkdir()
    # Larger than one range, so the parallel ranged path is the one exercised.
    (model / "weights.bin").write_bytes(os.urandom(RANGE_SIZE + 12345))
    shelf = Shelf((tmp_path / "store").as_uri(), cache_dir=tmp_path / "cache")
    sha = shelf.push(model, "m", progress=False).files[0].sha256
    blob = tmp_path / "store" / "blobs" / "sha256" / sha[:2] / sha
    return shelf, model, blob


def _cache_is_clean(shelf: Shelf) -> bool:
    blobs = shelf.cache.root / "blobs"
    return not blobs.exists() or not any(p.is_file() for p in blobs.rglob("*"))


def test_truncated_blob_is_refused_with_both_sizes(pushed: tuple[Shelf, Path, Path]) -> None:
    shelf, _, blob = pushed
    os.truncate(blob, 1000)
    with pytest.raises(IntegrityError, match="1000 bytes instead of") as info:
        shelf.pull("m:1.0", progress=False)
    assert info.value.path == "weights.bin"
    assert _cache_is_clean(shelf)


def test_missing_blob_is_refused(pushed: tuple[Shelf, Path, Path]) -> None:
    shelf, _, blob = pushed
    blob.unlink()
    with pytest.raises(IntegrityError, match="the blob is missing"):
        shelf.pull("m:1.0", progress=False)
    assert _cache_is_clean(shelf)


def test_pushing_the_same_files_again_repairs_the_old_version(
    pushed: tuple[Shelf, Path, Path],
) -> None:
    shelf, model, blob = pushed
    os.truncate(blob, 10)
    assert shelf.push(model, "m", progress=False).version == "1.1"
    pulled = shelf.pull("m:1.0", progress=False)
    assert (pulled / "weights.bin").read_bytes() == (model / "weights.bin").read_bytes()
