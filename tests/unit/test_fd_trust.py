"""No check-then-use on local paths (issue 20, review B2, B3, B5, B7): a user's folder and a
``file://`` store are walked through directory descriptors opened without following links, so
a folder swapped for a symbolic link at any moment (``renameat2(RENAME_EXCHANGE)``, atomic) never
carries a byte out of the folder, nor a byte from outside into a pull or a mirror."""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from modelshelf import Shelf
from modelshelf.errors import ModelshelfError

linux_x86 = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.machine() not in ("x86_64", "aarch64"),
    reason="renameat2(RENAME_EXCHANGE) through ctypes: Linux only",
)
_SYS_RENAMEAT2 = {"x86_64": 316, "aarch64": 276}.get(platform.machine(), -1)
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


@contextmanager
def swapping(a: Path, b: Path) -> Iterator[None]:
    """Exchange ``a`` and ``b`` (a folder and a link) as fast as a thread can, atomically, while
    the block runs: every path walk in it may meet either."""
    libc = ctypes.CDLL(None, use_errno=True)
    stop = threading.Event()
    ea, eb = os.fsencode(a), os.fsencode(b)

    def loop() -> None:
        while not stop.is_set():
            libc.syscall(_SYS_RENAMEAT2, _AT_FDCWD, ea, _AT_FDCWD, eb, _RENAME_EXCHANGE)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def everything_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@linux_x86
def test_pull_into_a_folder_being_swapped_for_a_link_writes_nothing_outside(
    tmp_path: Path,
) -> None:
    # B2: the class of "a local user who can write to DIR swaps a folder on the way for a link
    # between the check and the write": every write goes through a descriptor of the folder
    # that was checked, so the link is never followed, whatever the timing.
    shelf = Shelf()
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    for i in range(40):
        (src / "sub" / f"f{i:03}.txt").write_text(f"planted by the store {i}\n")
    shelf.push(src, "m", progress=False)
    shelf.pull("m", progress=False)  # warm: the pull -o below is only the placing
    leaked: dict[int, list[str]] = {}
    for round_ in range(60):
        out, victim = tmp_path / f"dir{round_}", tmp_path / f"victim{round_}"
        (out / "sub").mkdir(parents=True)
        victim.mkdir()
        (out / "alt").symlink_to(victim, target_is_directory=True)
        # refusing is fine; a byte outside DIR is not
        with swapping(out / "sub", out / "alt"), contextlib.suppress(ModelshelfError, OSError):
            shelf.pull("m", output=out, progress=False)
        if found := everything_under(victim):
            leaked[round_] = found
    assert leaked == {}
