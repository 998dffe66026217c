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

from modelshelf import Shelf, export
from modelshelf.backends.local import LocalBackend
from modelshelf.errors import (
    ModelshelfError,
    ObjectExistsError,
    ObjectNotFoundError,
    UntrustedStoreDataError,
)
from modelshelf.mirror.run import mirror

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
@pytest.mark.parametrize("link", ["copy", "hardlink", "symlink"])
def test_pull_into_a_folder_being_swapped_for_a_link_writes_nothing_outside(
    tmp_path: Path, link: str
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
    for round_ in range(40):
        out, victim = tmp_path / f"dir{round_}", tmp_path / f"victim{round_}"
        (out / "sub").mkdir(parents=True)
        victim.mkdir()
        (out / "alt").symlink_to(victim, target_is_directory=True)
        # refusing is fine; a byte outside DIR is not
        with swapping(out / "sub", out / "alt"), contextlib.suppress(ModelshelfError, OSError):
            shelf.pull("m", output=out, link=link, progress=False)  # type: ignore[arg-type]
        if found := everything_under(victim):
            leaked[round_] = found
    assert leaked == {}


@linux_x86
def test_mirror_of_a_file_store_being_swapped_reads_nothing_behind_a_link(tmp_path: Path) -> None:
    # B5: the class of "the store's writer swaps a listed folder for a link to a private one
    # between the read's check and its open": every read of a file:// key goes through a
    # descriptor chain opened with O_NOFOLLOW, so no byte from behind the link is read.
    private = tmp_path / "private"
    private.mkdir()
    secret = b"SECRET-of-the-victim: hunter2\n"
    (private / "f").write_bytes(secret)
    copied: list[int] = []
    for round_ in range(25):
        store = tmp_path / f"store{round_}"
        (store / "d").mkdir(parents=True)
        for i in range(20):
            (store / "d" / f"f{i}").write_bytes(b"x" * len(secret))
        (store / "d" / "f").write_bytes(b"x" * len(secret))
        (store / "dl").symlink_to(private, target_is_directory=True)
        dest = tmp_path / f"dest{round_}"
        with swapping(store / "d", store / "dl"), contextlib.suppress(ModelshelfError, OSError):
            mirror(store.as_uri(), dest, max_workers=2)
        if any(b"SECRET" in p.read_bytes() for p in dest.rglob("*") if p.is_file()):
            copied.append(round_)
    assert copied == []


@pytest.mark.parametrize("op", ["get", "get_range", "head", "put", "delete"])
def test_file_store_key_ops_never_pass_a_link_on_the_way(tmp_path: Path, op: str) -> None:
    # B5, deterministic: a folder of the key that is a link is refused (no check by path
    # that a later open could miss: the open itself refuses).
    root = tmp_path / "store"
    (root / "real").mkdir(parents=True)
    private = tmp_path / "private"
    private.mkdir()
    (private / "k").write_bytes(b"private")
    (root / "ln").symlink_to(private, target_is_directory=True)
    backend = LocalBackend(root)
    with pytest.raises(UntrustedStoreDataError, match=r"'ln' is a symbolic link"):
        if op == "get":
            b"".join(backend.get("ln/k", 1024))
        elif op == "get_range":
            backend.get_range("ln/k", 0, 3)
        elif op == "head":
            backend.head("ln/k")
        elif op == "put":
            backend.put("ln/new", b"x")
        else:
            backend.delete("ln/k")
    assert sorted(p.name for p in private.iterdir()) == ["k"]
    assert (private / "k").read_bytes() == b"private"


def test_file_store_head_get_and_listing_agree_on_etag_and_size(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "store")
    backend.put("a/b", b"hello")
    [listed] = backend.list("a")
    head = backend.head("a/b")
    assert (listed.etag, listed.size) == (head.etag, head.size)
    assert listed.etag is not None and listed.etag.startswith('"')
    assert b"".join(backend.get("a/b", 2)) == b"hello"
    assert bytes(backend.get_range("a/b", 1, 3)) == b"el"
    assert bytes(backend.get_range("a/b", 3, 99)) == b"lo"
    assert b"".join(bytes(c) for c in backend.get_range_chunks("a/b", 0, 5, 2)) == b"hello"
    with pytest.raises(ObjectExistsError):
        backend.put("a/b", b"other", mode="create")
    assert backend.read("a/b") == b"hello"
    backend.delete("a/b")
    backend.delete("a/b")  # deleting a missing key is no error
    with pytest.raises(ObjectNotFoundError):
        backend.head("a/b")


NAME_255 = "é" * 127 + "a"  # 255 bytes in UTF-8: the longest valid file name
assert len(NAME_255.encode()) == 255


def test_a_255_byte_name_goes_to_a_file_store_by_push_and_export(tmp_path: Path) -> None:
    # B7: obstore's local store writes ``<name>#<n>`` first (ENAMETOOLONG); puts go through
    # a temporary name of at most NAME_MAX bytes here, renamed into place.
    tree = tmp_path / "v"
    (tree / "d").mkdir(parents=True)
    (tree / "d" / NAME_255).write_bytes(b"long")
    (tree / "e").write_bytes(b"e")
    shelf = Shelf()
    shelf.push(tree, "long", progress=False)
    to = tmp_path / "exported"
    export("long", to=to.as_uri())
    [version] = [p for p in (to / "long").iterdir()]
    assert (version / "d" / NAME_255).read_bytes() == b"long"
    other = Shelf(cache_dir=tmp_path / "cache2")
    assert (Path(other.pull("long", progress=False)) / "d" / NAME_255).read_bytes() == b"long"


def test_create_only_puts_where_hard_links_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Some mounted filesystems refuse hard links: create-only writes still fail on a taken name.
    def no_links(*args: object, **kwargs: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    backend = LocalBackend(tmp_path / "store")
    monkeypatch.setattr(os, "link", no_links)
    backend.put("r/one", b"first", mode="create")
    with pytest.raises(ObjectExistsError):
        backend.put("r/one", b"second", mode="create")
    assert backend.read("r/one") == b"first"
    assert [m.path for m in backend.list("r")] == ["r/one"]  # no temporary file left
