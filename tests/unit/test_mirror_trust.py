"""Listings and sizes a store sends are bounded (issue 20, item 8) and a ``file://`` mirror never
reads through a link (item 11). Real servers: tests/conformance/test_hostile_mirror.py."""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import pytest
from tests.wrapped_backend import WrappedBackend

from modelshelf import Shelf, constants
from modelshelf.backends import Backend, ObjectMeta, PutMode, open_backend, register_backend
from modelshelf.errors import IntegrityError, StoreError, UntrustedStoreDataError
from modelshelf.mirror.run import mirror
from modelshelf.store.bucket import Store
from modelshelf.store.gc import collect_garbage
from modelshelf.transfer.local_copy import _open_blob

LATER = datetime.now(UTC) + timedelta(days=2)
PIECE = 64 * 1024
FLOOD = 64 * 1024 * 1024  # what the store would send, were it read to the end
RUNAWAY = 100_000  # a listing read this far was not bounded: fail rather than run forever


class Flood(Backend):
    """A plugin store that lists ``big/obj.bin`` as 10 bytes (or without a size) and whose
    GET sends 64 MiB; it counts what was taken from it."""

    listed_size: ClassVar[int | None] = 10
    sent: ClassVar[int] = 0

    def __init__(self) -> None:
        self.url = "flood://bucket"

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Flood:
        return cls()

    def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
        for _ in range(FLOOD // PIECE):
            Flood.sent += PIECE
            yield b"x" * PIECE

    def get_range(self, key: str, start: int, end: int) -> bytes:
        return b"x" * (end - start)

    def put(self, key: str, data: bytes | Path | BinaryIO, *, mode: PutMode = "overwrite") -> None:
        raise AssertionError("a mirror never writes to its store")

    def head(self, key: str) -> ObjectMeta:
        return ObjectMeta(key, 10, etag="e")

    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        yield ObjectMeta("big/obj.bin", self.listed_size, etag="e")  # type: ignore[arg-type]

    def delete(self, key: str) -> None:
        raise AssertionError("a mirror never deletes")


@pytest.mark.parametrize("listed", [10, None], ids=["listed-10-bytes", "listed-without-size"])
def test_a_mirror_stops_reading_an_object_past_its_listed_size(
    tmp_path: Path, listed: int | None
) -> None:
    register_backend("flood", Flood, clobber=True)
    Flood.listed_size, Flood.sent = listed, 0
    dest = tmp_path / "dest"
    with pytest.raises(StoreError, match=r"big/obj\.bin is larger than listed \(10 bytes\)"):
        mirror("flood://bucket/big", dest)
    assert Flood.sent <= 10 + PIECE  # one piece past the listed size, not 64 MiB
    assert [p for p in dest.rglob("*") if p.is_file()] == []  # nothing partial kept


class Endless(Backend):
    """A plugin store whose listing pages forever (it fails the test past ``RUNAWAY`` keys)."""

    def __init__(self) -> None:
        self.url = "endless://bucket"

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Endless:
        return cls()

    def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
        yield b"x"

    def get_range(self, key: str, start: int, end: int) -> bytes:
        return b"x"[start:end]

    def put(self, key: str, data: bytes | Path | BinaryIO, *, mode: PutMode = "overwrite") -> None:
        raise AssertionError("a mirror never writes to its store")

    def head(self, key: str) -> ObjectMeta:
        return ObjectMeta(key, 1, etag="e")

    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        for i in range(RUNAWAY):
            yield ObjectMeta(f"{prefix}/k{i % 7}", 1, etag="e")  # the same page, again and again
        raise AssertionError(f"the listing of {prefix} was read past {RUNAWAY} keys")

    def delete(self, key: str) -> None:
        raise AssertionError("a mirror never deletes")


def test_a_mirror_listing_that_never_ends_is_refused_naming_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_backend("endless", Endless, clobber=True)
    monkeypatch.setenv("MODELSHELF_MAX_LIST_KEYS", "1000")
    with pytest.raises(UntrustedStoreDataError, match="more than 1000 keys") as caught:
        mirror("endless://bucket/p", tmp_path / "dest")
    assert "MODELSHELF_MAX_LIST_KEYS" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "dest").exists()


def test_the_listing_bound_defaults_to_a_million_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELSHELF_MAX_LIST_KEYS", raising=False)
    assert constants.max_list_keys() == 1_000_000
    monkeypatch.setenv("MODELSHELF_MAX_LIST_KEYS", "5000000")  # raised for a larger store
    assert constants.max_list_keys() == 5_000_000


class EndlessJunk(WrappedBackend):
    """A real store whose every listing, after the real keys, pages junk keys forever."""

    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        yield from self.inner.list(prefix)
        for i in range(RUNAWAY):
            yield ObjectMeta(f"{prefix}/junk/{i}", 1, etag="e")
        raise AssertionError(f"the listing of {prefix} was read past {RUNAWAY} keys")


READERS: dict[str, Callable[[Store], object]] = {
    "versions": lambda store: store.versions("m"),
    "taken versions (push)": lambda store: store.taken_versions("m"),
    "live versions (ls)": lambda store: store.live_versions(),
    "aliases": lambda store: store.aliases("m"),
    "alias history": lambda store: store.alias_history("m", "prod"),
    "alias move": lambda store: store.set_alias("m", "prod", "1.0"),
    "log": lambda store: store.log("m"),
    "gc": lambda store: collect_garbage(store, now=LATER),
}


@pytest.mark.parametrize("read", READERS.values(), ids=READERS.keys())
def test_every_store_listing_that_never_ends_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read: Callable[[Store], object]
) -> None:
    inner = open_backend(f"memory://endless-{tmp_path.name}")
    shelf = Shelf(inner, cache_dir=tmp_path / "cache")
    (tmp_path / "w.bin").write_bytes(b"weights")
    shelf.push(tmp_path / "w.bin", "m", progress=False)
    shelf.set_alias("m@prod", "1.0")
    monkeypatch.setenv("MODELSHELF_MAX_LIST_KEYS", "1000")
    with pytest.raises(UntrustedStoreDataError, match=r"more than 1000 keys.*MODELSHELF_MAX"):
        read(Store(EndlessJunk(inner)))


def test_store_listings_within_the_bound_read_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shelf = Shelf(open_backend(f"memory://bounded-{tmp_path.name}"), cache_dir=tmp_path / "c")
    for i in range(3):
        (tmp_path / "w.bin").write_bytes(b"weights %d" % i)
        shelf.push(tmp_path / "w.bin", "m", progress=False)
    monkeypatch.setenv("MODELSHELF_MAX_LIST_KEYS", "3")  # exactly the three manifests
    assert shelf.versions("m") == ["1.2", "1.1", "1.0"]
    assert list(itertools.islice(shelf.store.blobs(), 5)) != []


# -- item 11: a file:// store follows no link ------------------------------------------------


def linked_store(tmp_path: Path) -> tuple[Path, Path]:
    """A store folder with one real file and four links: to a file and a folder outside the
    store, and to a file and a folder inside it. Returns ``(store, outside)``."""
    store, outside = tmp_path / "store", tmp_path / "outside"
    (store / "real").mkdir(parents=True)
    (store / "real/a.txt").write_bytes(b"mine")
    (outside / "etc").mkdir(parents=True)
    (outside / "etc/shadow").write_bytes(b"secret")
    (store / "etclink").symlink_to(outside / "etc", target_is_directory=True)
    (store / "shadowlink").symlink_to(outside / "etc/shadow")
    (store / "reallink").symlink_to(store / "real", target_is_directory=True)
    (store / "real/alink.txt").symlink_to(store / "real/a.txt")
    return store, outside


def test_a_mirror_of_a_file_store_skips_every_link_and_says_how_many(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store, _ = linked_store(tmp_path)
    dest = tmp_path / "dest"
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        result = mirror(store.as_uri(), dest)
    below = store.relative_to("/").as_posix()
    assert [item.key for item in result.plan] == [f"{below}/real/a.txt"]
    copied = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert copied == [".modelshelf-mirror.json", f"{below}/real/a.txt"]
    assert "skipped 4 entries" in caplog.text and "symbolic link" in caplog.text
    assert "secret" not in "".join(p.read_text() for p in dest.rglob("*") if p.is_file())


def test_a_link_loop_in_a_file_store_does_not_break_its_listing(tmp_path: Path) -> None:
    store, _ = linked_store(tmp_path)
    (store / "real/loop").symlink_to(store / "real", target_is_directory=True)
    backend = open_backend(store.as_uri())
    assert [meta.path for meta in backend.list("")] == ["real/a.txt"]
    assert [meta.path for meta in backend.list("real")] == ["real/a.txt"]
    assert list(backend.list("etclink")) == []  # a prefix through a link lists nothing


def test_a_file_store_listing_matches_obstores_own_for_real_files(tmp_path: Path) -> None:
    store = tmp_path / "store"
    backend = open_backend(store.as_uri())
    for key in ["a b/c.txt", "p%q", "r#s", "é/ü", "deep/er/x.bin"]:
        backend.put(key, b"data of " + key.encode())
    # Named like obstore's temporary files, which obstore hides; nothing writes those here any
    # more, so it is the store's own file and is listed (issue 20, second review, note 12).
    (store / "upload#3").write_bytes(b"a file of the store")
    import obstore
    from obstore.store import LocalStore  # the backend has none: it reads by descriptors

    from_obstore = {
        m["path"]: (m["size"], m["e_tag"], m["last_modified"])
        for batch in obstore.list(LocalStore(str(store)), None)
        for m in batch
    }
    ours = {m.path: (m.size, m.etag, m.last_modified) for m in backend.list("")}
    assert "upload#3" not in from_obstore
    assert {key: meta for key, meta in ours.items() if key != "upload#3"} == from_obstore
    assert ours["upload#3"][0] == len(b"a file of the store")


def test_a_pull_from_a_file_store_reads_nothing_through_a_link(tmp_path: Path) -> None:
    store, outside = tmp_path / "store", tmp_path / "outside"
    shelf = Shelf(store.as_uri(), cache_dir=tmp_path / "cache")
    (tmp_path / "w.bin").write_bytes(b"weights")
    manifest = shelf.push(tmp_path / "w.bin", "m", progress=False)
    shard = store / "blobs/sha256" / manifest.files[0].sha256[:2]
    outside.mkdir()
    shard.rename(outside / "shard")  # the same bytes, now outside the store, behind a link
    shard.symlink_to(outside / "shard", target_is_directory=True)
    fresh = Shelf(store.as_uri(), cache_dir=tmp_path / "cache2")
    with pytest.raises(IntegrityError, match="symbolic link in its place or on its path"):
        fresh.pull("m:1.0", progress=False)
    assert not list((tmp_path / "cache2").rglob("w.bin"))


def test_the_kernel_copy_opens_no_folder_link_swapped_in_after_a_check(tmp_path: Path) -> None:
    store, _ = linked_store(tmp_path)
    path = open_backend(store.as_uri()).local_path("etclink/shadow")  # a path, not yet opened
    with pytest.raises(IntegrityError, match="symbolic link"):
        _open_blob(path, 6, "0" * 64, "shadow", "here")
    (store / "reallink").unlink()  # a real folder now: opened as before
    (store / "reallink").mkdir()
    (store / "reallink/a.txt").write_bytes(b"mine")
    os.close(_open_blob(store / "reallink/a.txt", 4, "0" * 64, "a.txt", "here"))


@pytest.mark.parametrize(
    "call",
    [
        lambda b: b.get("etclink/shadow", 1 << 20),
        lambda b: b.get("shadowlink", 1 << 20),
        lambda b: b.get_range("shadowlink", 0, 3),
        lambda b: b.head("etclink/shadow"),
        lambda b: b.put("etclink/new", b"written outside"),
        lambda b: b.delete("etclink/shadow"),
    ],
    ids=["get-dir", "get-file", "get_range", "head", "put", "delete"],
)
def test_a_file_store_refuses_keys_through_a_link(
    tmp_path: Path, call: Callable[[Backend], object]
) -> None:
    store, outside = linked_store(tmp_path)
    backend = open_backend(store.as_uri())
    with pytest.raises(UntrustedStoreDataError, match="symbolic link") as caught:
        result = call(backend)
        if isinstance(result, Iterator):
            list(result)
    assert "\n" not in str(caught.value)
    assert sorted(p.name for p in (outside / "etc").iterdir()) == ["shadow"]  # nothing written
    assert (outside / "etc/shadow").read_bytes() == b"secret"


def test_links_in_the_path_the_user_typed_are_followed_only_there(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store, _ = linked_store(tmp_path)
    (tmp_path / "via").symlink_to(store, target_is_directory=True)  # e.g. macOS /tmp, /home
    dest = tmp_path / "dest"
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        result = mirror((tmp_path / "via").as_uri(), dest)
    # Listed (and kept) under the folder's real path; the store's own links are skipped.
    assert [item.key for item in result.plan] == [f"{store.relative_to('/')}/real/a.txt"]
    assert "skipped 4 entries" in caplog.text
    one = mirror((tmp_path / "via/real/a.txt").as_uri(), tmp_path / "one")
    assert [item.key for item in one.plan] == [f"{store.relative_to('/')}/real/a.txt"]
