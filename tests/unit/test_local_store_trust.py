"""A ``file://`` store, round 3 of issue 20 (second review: break F, notes 12 and 15).

- F, the class "a store folder whose shape exhausts this process's descriptors": a listing holds
  one descriptor per folder on its current path, never one per subfolder found, and closes
  every descriptor it opened when it ends, fails or is abandoned; so does every read.
- Note 12, the class "a store's real files hidden by a name": only the exact names our own
  upload writes are skipped (counted, with a warning); ``take#2`` and look-alikes are listed.
- Note 15, the class "a listing prefix that climbs out of the store folder": refused.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from modelshelf._dir_fd import temp_name
from modelshelf.backends import open_backend
from modelshelf.backends.local import LocalBackend
from modelshelf.errors import ModelshelfError, UntrustedStoreDataError
from modelshelf.mirror.run import mirror


def open_on(folder: Path) -> int:
    """How many of this process's descriptors are open on ``folder`` or below it."""
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue  # the descriptor listdir itself used, closed by now
        if target == str(folder) or target.startswith(f"{folder}/"):
            count += 1
    return count


pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")

WIDE = """
import os, resource, sys
from pathlib import Path
from modelshelf.backends.local import LocalBackend

store = Path(sys.argv[1])
backend = LocalBackend(store)
open_now = len(os.listdir("/proc/self/fd"))
limit = open_now + 40  # far fewer than the subfolders below
resource.setrlimit(resource.RLIMIT_NOFILE, (limit, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
listed = sorted(meta.path for meta in backend.list("assets"))
after = len(os.listdir("/proc/self/fd"))
print(len(listed), listed[0], listed[-1], open_now, after)
"""


def test_a_folder_wider_than_the_open_file_limit_lists_and_leaks_nothing(tmp_path: Path) -> None:
    # F: every subfolder was opened before any was walked (EMFILE, and the ones opened leaked).
    store = tmp_path / "store"
    wide = 300
    for index in range(wide):
        folder = store / f"assets/junk/d{index:04d}/v"
        folder.mkdir(parents=True)
        (folder / "f.json").write_bytes(b"{}")
    run = subprocess.run(
        [sys.executable, "-c", WIDE, str(store)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    count, first, last, before, after = run.stdout.split()
    assert int(count) == wide
    assert (first, last) == ("assets/junk/d0000/v/f.json", f"assets/junk/d{wide - 1:04d}/v/f.json")
    assert after == before


def test_a_listing_abandoned_or_failing_midway_closes_every_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store"
    for index in range(20):
        (store / f"a/{index:02d}/b/c").mkdir(parents=True)
        (store / f"a/{index:02d}/b/c/f").write_bytes(b"x")
        (store / f"a/{index:02d}/g").write_bytes(b"x")
    backend = LocalBackend(store)
    assert sum(1 for _ in backend.list("")) == 40
    listing = backend.list("a")
    next(listing)
    assert 0 < open_on(store) <= 4  # the folders on the current path, not one per subfolder
    listing.close()
    assert open_on(store) == 0

    # A folder that cannot be read, deep in the walk: one error, and nothing left open.
    real_scandir = os.scandir
    calls = 0

    def failing(fd: int) -> object:
        nonlocal calls
        calls += 1
        if calls == 7:
            raise PermissionError(13, "Permission denied")
        return real_scandir(fd)

    monkeypatch.setattr(os, "scandir", failing)
    with pytest.raises(ModelshelfError):
        list(backend.list("a"))
    assert open_on(store) == 0


def test_reads_abandoned_midway_close_their_descriptor(tmp_path: Path) -> None:
    store = tmp_path / "store"
    backend = LocalBackend(store)
    backend.put("a/blob", b"0123456789" * 10)
    for read in ("get", "get_range_chunks"):
        chunks = (
            backend.get("a/blob", 10)
            if read == "get"
            else backend.get_range_chunks("a/blob", 0, 100, 10)
        )
        assert len(bytes(next(chunks))) == 10
        assert open_on(store) == 1
        del chunks  # abandoned, never closed by the caller
        assert open_on(store) == 0
    backend.head("a/blob")
    backend.get_range("a/blob", 5, 50)
    with pytest.raises(ModelshelfError):
        backend.head("a")  # a folder is no object
    assert open_on(store) == 0


def test_a_copy_whose_write_is_refused_closes_the_read(tmp_path: Path) -> None:
    store = tmp_path / "store"
    backend = LocalBackend(store)
    backend.put("a/blob", b"x" * (20 << 20))  # more than the copy's read-ahead holds
    (tmp_path / "elsewhere").mkdir()
    (store / "q").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(UntrustedStoreDataError):
        backend.copy("a/blob", "q/blob")
    deadline = time.monotonic() + 10  # the read-ahead thread notices the stop within 0.1 s
    while open_on(store) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open_on(store) == 0
    assert not list((tmp_path / "elsewhere").iterdir())


def test_only_our_own_upload_temps_are_skipped_and_they_are_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Note 12: `.<x>.<y>.<z>.modelshelf-upload` and `name#<digits>` were hidden, silently.
    store = tmp_path / "store"
    data = store / "data"
    data.mkdir(parents=True)
    ours = temp_name("plain.txt", tag="modelshelf-upload")
    names = ["take#2", "take#2.csv", "r#s", ".notes.1.2.modelshelf-upload", "plain.txt", ours]
    for name in names:
        (data / name).write_bytes(b"mine")
    backend = LocalBackend(store)
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        listed = sorted(meta.path for meta in backend.list("data"))
    assert listed == sorted(f"data/{name}" for name in names if name != ours)
    assert "skipped 1 files named like a modelshelf upload" in caplog.text
    assert ours in caplog.text


def test_a_mirror_of_a_file_store_keeps_files_named_like_temporary_ones(tmp_path: Path) -> None:
    store = tmp_path / "store"
    (store / "data").mkdir(parents=True)
    for name in ["take#2", ".notes.1.2.modelshelf-upload", "plain.txt"]:
        (store / "data" / name).write_bytes(name.encode())
    dest = tmp_path / "out"
    mirror((store / "data").as_uri() + "/", dest)
    copied = sorted(p.name for p in dest.rglob("*") if p.is_file())
    copied.remove(".modelshelf-mirror.json")
    assert copied == [".notes.1.2.modelshelf-upload", "plain.txt", "take#2"]


@pytest.mark.parametrize(
    "prefix", ["..", "../", "assets/../..", "a/../../x", "./a", "a//b", "a\\b"]
)
def test_a_listing_prefix_that_leaves_the_store_is_refused(tmp_path: Path, prefix: str) -> None:
    # Note 15: list("..") listed ../outside.txt (each part was opened, '..' included).
    store = tmp_path / "deep/store"
    store.mkdir(parents=True)
    (tmp_path / "deep/outside.txt").write_bytes(b"not in the store")
    (tmp_path / "outside.txt").write_bytes(b"not in the store")
    backend = open_backend(store.as_uri())
    with pytest.raises(UntrustedStoreDataError, match=r"cannot list .* in the store file://") as e:
        list(backend.list(prefix))
    assert "\n" not in str(e.value)
    assert open_on(tmp_path) == 0


def test_usual_prefixes_still_list(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "store")
    backend.put("assets/m/versions/1.0.json", b"{}")
    for prefix in ["", "/", "assets", "assets/", "/assets/m/", "assets/m/versions"]:
        assert [m.path for m in backend.list(prefix)] == ["assets/m/versions/1.0.json"], prefix
    assert list(backend.list("absent")) == []
    assert list(backend.list("assets/m/versions/1.0.json")) == []  # a file is no folder


def test_a_very_deep_store_fails_its_listing_cleanly(tmp_path: Path) -> None:
    # Depth is what a listing holds open; nesting past the open-file limit fails it with one
    # error (or lists it, where the limit is high), never leaving descriptors behind.
    script = textwrap.dedent(
        """
        import os, resource, sys
        from modelshelf.backends.local import LocalBackend
        from modelshelf.errors import ModelshelfError
        backend = LocalBackend(sys.argv[1])
        backend.create_store()
        fd = os.open(sys.argv[1], os.O_RDONLY)
        for _ in range(200):
            os.mkdir("d", dir_fd=fd)
            inner = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        os.close(fd)
        before = len(os.listdir("/proc/self/fd"))
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (before + 50, hard))
        try:
            list(backend.list(""))
            print("listed")
        except ModelshelfError as exc:
            print("refused", "\\n" in str(exc))
        print(before == len(os.listdir("/proc/self/fd")))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "store")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["refused", "False", "True"]
