"""A cache that cannot be written (a full disk): one clear error, nothing partial left behind.

The real full disk (a small tmpfs) is in tests/integration/test_faults.py; here ENOSPC is
injected at the writes, so the quick loop covers it too.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from modelshelf import CacheWriteError, Shelf, constants
from modelshelf.cache.cache import atomic_write


def _no_space(*args: object, **kwargs: object) -> int:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_full_disk_while_pulling_names_the_file_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "model"
    source.mkdir()
    (source / "weights.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 5))
    Shelf("memory://full-disk").push(source, "full/disk")
    cache = tmp_path / "cache"
    monkeypatch.setattr(constants, "RANGE_SIZE", 1024 * 1024)
    monkeypatch.setattr(os, "pwrite", _no_space)

    with pytest.raises(CacheWriteError) as info:
        Shelf("memory://full-disk", cache_dir=cache).pull("full/disk:1.0")

    message = str(info.value)
    assert "'weights.bin'" in message and "No space left on device" in message
    assert "\n" not in message
    assert info.value.errno == errno.ENOSPC and isinstance(info.value, OSError)
    assert [p for p in cache.rglob("*") if p.is_file() and "blobs" in p.parts] == []
    assert list(cache.rglob("*.tmp")) == []
    assert list(cache.rglob("*.complete")) == []

    monkeypatch.undo()  # room again: the same pull succeeds
    pulled = Shelf("memory://full-disk", cache_dir=cache).pull("full/disk:1.0")
    assert (pulled / "weights.bin").read_bytes() == (source / "weights.bin").read_bytes()


def test_atomic_write_on_a_full_disk_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "refs" / "latest"

    def full(self: Path, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(CacheWriteError, match=r"'latest'.*No space left on device"):
        atomic_write(dest, b"1.0")
    assert list(dest.parent.iterdir()) == []
