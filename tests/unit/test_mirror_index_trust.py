"""The mirror's index at ``DEST/.modelshelf-mirror.json`` (issue 20, third review break 9).

The class of "what another writer of DEST puts at the index's name": a FIFO hung the mirror
(the index was read by path, blocking), a link was followed to whatever it names, and the
index's temporary file could be swapped for a link before its rename. Now the index is read
through the root's descriptor ``O_NOFOLLOW | O_NONBLOCK``, must be a regular file under a size
cap (else it is ignored with a warning and rebuilt), and its temporary file is renamed only
if it is still the very file written.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import threading
from pathlib import Path

import pytest

from modelshelf.backends import open_backend
from modelshelf.mirror.result import MirrorResult
from modelshelf.mirror.run import mirror
from modelshelf.transfer import _folder_root
from modelshelf.transfer._folder_root import OpenRoot

mirror_module = importlib.import_module(
    "modelshelf.mirror.index"
)  # the package's name is the function
INDEX = ".modelshelf-mirror.json"
KEYS = {f"m/part{i}.bin": os.urandom(1000 + i) for i in range(3)}
SECRET = b'{"format": 1, "files": {}}'  # valid index bytes: the victim's own file


@pytest.fixture
def url() -> str:
    backend = open_backend("memory://round4-index")
    for key, data in KEYS.items():
        backend.put(key, data)
    return "memory://round4-index/m"


def _bounded_mirror(url: str, dest: Path, seconds: float = 20.0) -> MirrorResult:
    """The mirror in a thread, given ``seconds``: a hang fails the test instead of the run."""
    done: list[MirrorResult | BaseException] = []

    def run() -> None:
        try:
            done.append(mirror(url, dest))
        except BaseException as exc:  # handed to the test
            done.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():  # unblock a reader stuck on the FIFO, then fail
        with contextlib.suppress(OSError):
            os.close(os.open(dest / INDEX, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(5)
        pytest.fail(f"the mirror did not finish within {seconds} s")
    if isinstance(done[0], BaseException):
        raise done[0]
    return done[0]


def _mirrored(dest: Path, result: MirrorResult) -> None:
    assert result.fetched == len(KEYS)
    assert {k: (dest / k).read_bytes() for k in KEYS} == KEYS
    index = dest / INDEX
    assert index.is_file() and not index.is_symlink()  # replaced by the new index
    assert set(json.loads(index.read_bytes())["files"]) == set(KEYS)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs: POSIX")
def test_a_fifo_at_the_index_is_ignored_not_waited_on(
    url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    os.mkfifo(dest / INDEX)
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        result = _bounded_mirror(url, dest)
    assert "ignoring the mirror index" in caplog.text
    _mirrored(dest, result)


def test_a_link_at_the_index_is_not_followed(
    url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    victim = tmp_path / "victim.json"  # valid index bytes: read through the link, it is taken
    victim.write_bytes(SECRET)
    (dest / INDEX).symlink_to(victim)
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        result = _bounded_mirror(url, dest)
    assert "ignoring the mirror index" in caplog.text
    assert victim.read_bytes() == SECRET
    _mirrored(dest, result)


def test_an_index_over_the_cap_is_ignored(
    url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / INDEX).write_bytes(b'{"format": 1, "files": {}}' + b" " * 4096)
    monkeypatch.setattr(mirror_module, "_INDEX_LIMIT", 1024)
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        result = _bounded_mirror(url, dest)
    assert "ignoring the mirror index" in caplog.text
    _mirrored(dest, result)


def test_the_indexs_temp_file_swapped_for_a_link_is_not_renamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "dest"
    root.mkdir()
    victim = tmp_path / "victim"
    victim.write_bytes(SECRET)
    made = _folder_root.create_file

    def create_then_swap(name: str, dir_fd: int, mode: int = 0o600) -> int:
        out = made(name, dir_fd, mode)
        os.rename(name, name + ".theirs", src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        os.symlink(victim, name, dir_fd=dir_fd)  # the other writer's link at the temp name
        return out

    monkeypatch.setattr(_folder_root, "create_file", create_then_swap)
    opened = OpenRoot(root)
    try:
        with pytest.raises(OSError, match="replaced by something else"):
            opened.replace_file(INDEX, b'{"format": 1, "files": {}}')
    finally:
        opened.close()
    assert not (root / INDEX).is_symlink()
    assert victim.read_bytes() == SECRET
