"""``modelshelf.mirror`` and ``modelshelf mirror`` on memory://, file:// and a custom backend."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import pytest

import modelshelf
from modelshelf import constants
from modelshelf.backends import Backend, ObjectMeta, PutMode, open_backend, register_backend
from modelshelf.cli.main import main
from modelshelf.errors import (
    InvalidInputError,
    ObjectNotFoundError,
    StoreError,
    UnsupportedStoreError,
    UntrustedStoreDataError,
    UserFolderRefusedError,
)
from modelshelf.mirror.run import mirror

PREFIX = "conduct/secrecy/en/version_1.2"
TREE = {
    f"{PREFIX}/models/lr/coef.npy": b"c" * 1000,
    f"{PREFIX}/models/lr/config.json": b'{"c": 1}',
    f"{PREFIX}/README": b"read me",
    "conduct/secrecy/en/version_1.20/other": b"not mine",
    "conduct/secrecy/en/version_1.2.json": b"not mine either",
}


class DictBackend(Backend):
    """A custom backend that lists whatever keys it holds, as a hostile or buggy store might.

    ``extra`` keys are listed (whatever the prefix) but cannot be read.
    """

    stores: ClassVar[dict[str, dict[str, bytes]]] = {}
    extra: ClassVar[list[str]] = []

    def __init__(self, name: str) -> None:
        self.objects = self.stores.setdefault(name, {})
        self.url = f"mirrortest://{name}"

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> DictBackend:
        return cls(url.split("://", 1)[1].strip("/"))

    def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
        yield self.objects[key]

    def get_range(self, key: str, start: int, end: int) -> bytes:
        return self.objects[key][start:end]

    def put(self, key: str, data: bytes | Path | BinaryIO, *, mode: PutMode = "overwrite") -> None:
        assert isinstance(data, bytes)
        self.objects[key] = data

    def head(self, key: str) -> ObjectMeta:
        if key not in self.objects:
            raise ObjectNotFoundError(key)
        return ObjectMeta(key, len(self.objects[key]), etag=str(hash(self.objects[key])))

    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        for key in [*self.objects, *self.extra]:
            if key in self.objects and not key.startswith(prefix + "/" if prefix else ""):
                continue
            yield ObjectMeta(key, len(self.objects.get(key, b"")), etag="x")

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)


@pytest.fixture
def hostile() -> Iterator[DictBackend]:
    register_backend("mirrortest", DictBackend, clobber=True)
    DictBackend.stores.clear()
    DictBackend.extra = []
    backend = DictBackend("bucket")
    for key, data in TREE.items():
        backend.put(key, data)
    yield backend
    DictBackend.extra = []


@pytest.fixture
def store() -> Backend:
    backend = open_backend("memory://models")
    for key, data in TREE.items():
        backend.put(key, data)
    return backend


def files_under(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".modelshelf-mirror.json"
    }


def mine(prefix: str = PREFIX) -> dict[str, bytes]:
    return {k: v for k, v in TREE.items() if k.startswith(prefix + "/")}


# -- the tree --------------------------------------------------------------------------------------
def test_keeps_the_key_tree_below_the_bucket_and_stops_at_folder_boundaries(
    store: Backend, tmp_path: Path
) -> None:
    result = mirror(f"memory://models/{PREFIX}", tmp_path / "ptms")
    assert files_under(tmp_path / "ptms") == mine()  # no version_1.20, no version_1.2.json
    assert (tmp_path / f"ptms/{PREFIX}/models/lr/coef.npy").read_bytes() == b"c" * 1000
    assert (result.fetched, result.skipped) == (3, 0)
    assert result.fetched_bytes == sum(len(v) for v in mine().values())
    assert [item.key for item in result.plan] == sorted(mine())


def test_a_url_naming_one_object_fetches_it_to_the_same_tree_path(
    store: Backend, tmp_path: Path
) -> None:
    result = mirror(f"memory://models/{PREFIX}/models/lr/config.json", tmp_path)
    assert files_under(tmp_path) == {f"{PREFIX}/models/lr/config.json": b'{"c": 1}'}
    assert result.fetched == 1


def test_a_trailing_slash_means_a_folder_and_nothing_there_is_an_error(
    store: Backend, tmp_path: Path
) -> None:
    assert mirror(f"memory://models/{PREFIX}/README/", tmp_path / "a").fetched == 0
    assert not (tmp_path / "a").exists()
    with pytest.raises(ObjectNotFoundError, match=r"nothing to mirror at .*version_1\.3"):
        mirror("memory://models/conduct/secrecy/en/version_1.3", tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_whole_bucket(store: Backend, tmp_path: Path) -> None:
    mirror("memory://models", tmp_path)
    assert files_under(tmp_path) == TREE


def test_file_urls_keep_the_path_below_the_filesystem_root(tmp_path: Path) -> None:
    source = tmp_path / "src" / "v1"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "a.txt").write_bytes(b"a")
    (tmp_path / "src" / "v10").mkdir()
    (tmp_path / "src" / "v10" / "b.txt").write_bytes(b"b")
    mirror(source.as_uri(), tmp_path / "out")
    rel = source.relative_to("/").as_posix()
    assert files_under(tmp_path / "out") == {f"{rel}/sub/a.txt": b"a"}


# -- skipping and re-fetching ----------------------------------------------------------------------
class Counting(DictBackend):
    gets: ClassVar[list[str]] = []

    def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
        self.gets.append(key)
        return super().get(key, chunk_size)


def test_a_rerun_skips_unchanged_files_and_refetches_changed_ones(
    hostile: DictBackend, tmp_path: Path
) -> None:
    register_backend("mirrortest", Counting, clobber=True)
    url = f"mirrortest://bucket/{PREFIX}"
    mirror(url, tmp_path)
    Counting.gets.clear()
    again = mirror(url, tmp_path)
    assert (again.fetched, again.skipped, Counting.gets) == (0, 3, [])
    assert {item.reason for item in again.plan} == {"unchanged"}

    hostile.put(f"{PREFIX}/README", b"new text")  # changed in the store
    (tmp_path / PREFIX / "models/lr/config.json").write_bytes(b"edited by hand")
    (tmp_path / PREFIX / "models/lr/coef.npy").unlink()
    # Issue 20 item 3: a file edited by hand is the user's; it used to be fetched over. It is
    # refused, before anything is written, unless overwrite.
    with pytest.raises(UserFolderRefusedError, match=r"config\.json holds other content"):
        mirror(url, tmp_path)
    assert (tmp_path / PREFIX / "models/lr/config.json").read_bytes() == b"edited by hand"
    assert not (tmp_path / PREFIX / "models/lr/coef.npy").exists()
    third = mirror(url, tmp_path, overwrite=True)
    reasons = {item.key.rsplit("/", 1)[-1]: item.reason for item in third.plan}
    assert reasons == {
        "README": "changed in the store",
        "config.json": "changed locally",
        "coef.npy": "missing locally",
    }
    assert sorted(Counting.gets) == sorted(mine())
    assert files_under(tmp_path) == {**mine(), f"{PREFIX}/README": b"new text"}


def test_verify_catches_an_edit_that_kept_size_and_mtime(store: Backend, tmp_path: Path) -> None:
    url = f"memory://models/{PREFIX}"
    mirror(url, tmp_path)
    target = tmp_path / PREFIX / "models/lr/coef.npy"
    st = target.stat()
    target.write_bytes(b"d" * 1000)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert mirror(url, tmp_path).fetched == 0  # the quick check cannot see it
    assert mirror(url, tmp_path, verify=True, dry_run=True).fetched == 1
    assert target.read_bytes() == b"d" * 1000
    # The edit is the user's (issue 20 item 3): found, left as it is, named; replaced only
    # with overwrite.
    with pytest.raises(UserFolderRefusedError, match=r"coef\.npy holds other content"):
        mirror(url, tmp_path, verify=True)
    assert target.read_bytes() == b"d" * 1000
    assert mirror(url, tmp_path, verify=True, overwrite=True).fetched == 1
    assert target.read_bytes() == b"c" * 1000


def test_a_local_file_not_in_the_index_is_replaced_only_with_overwrite(
    store: Backend, tmp_path: Path
) -> None:
    # Issue 20 item 3: a file the mirror did not write is the user's; it used to be replaced.
    target = tmp_path / PREFIX / "README"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"someone else's")
    with pytest.raises(UserFolderRefusedError, match=r"README holds other content.*overwrite=True"):
        mirror(f"memory://models/{PREFIX}", tmp_path)
    assert files_under(tmp_path) == {f"{PREFIX}/README": b"someone else's"}  # nothing written
    result = mirror(f"memory://models/{PREFIX}", tmp_path, overwrite=True)
    assert result.fetched == 3 and target.read_bytes() == b"read me"


def test_a_local_file_not_in_the_index_with_the_same_content_is_kept(
    store: Backend, tmp_path: Path
) -> None:
    target = tmp_path / PREFIX / "README"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"read me")
    assert mirror(f"memory://models/{PREFIX}", tmp_path).fetched == 3
    assert target.read_bytes() == b"read me" and files_under(tmp_path) == mine()


def test_a_damaged_index_means_fetching_again(
    store: Backend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"memory://models/{PREFIX}"
    mirror(url, tmp_path)
    (tmp_path / ".modelshelf-mirror.json").write_text("{not json")
    assert mirror(url, tmp_path).fetched == 3
    assert "ignoring the mirror index" in caplog.text
    index = json.loads((tmp_path / ".modelshelf-mirror.json").read_text())
    assert sorted(index["files"]) == sorted(mine())


# -- filters and dry runs --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        (["*.json"], [], ["models/lr/config.json"]),
        (["models/*"], [], ["models/lr/coef.npy", "models/lr/config.json"]),
        ([], ["models/*"], ["README"]),
        (["models/*"], ["*.npy"], ["models/lr/config.json"]),
        # Globs see the path below the URL's prefix, not the key: the key's form matches nothing.
        ([f"{PREFIX}/models/*"], [], []),
        (["MODELS/*"], [], []),  # case-sensitive
    ],
)
def test_include_and_exclude_match_the_path_below_the_prefix(
    store: Backend, tmp_path: Path, include: list[str], exclude: list[str], expected: list[str]
) -> None:
    result = mirror(f"memory://models/{PREFIX}", tmp_path, include=include, exclude=exclude)
    assert sorted(files_under(tmp_path)) == [f"{PREFIX}/{p}" for p in expected]
    assert result.fetched == len(expected)


def test_filters_on_one_object_see_its_name(store: Backend, tmp_path: Path) -> None:
    url = f"memory://models/{PREFIX}/models/lr/config.json"
    assert mirror(url, tmp_path, include=["*.npy"]).fetched == 0
    assert mirror(url, tmp_path, include=["config.*"]).fetched == 1


def test_dry_run_writes_nothing_and_lists_actions_with_sizes(
    store: Backend, tmp_path: Path
) -> None:
    url = f"memory://models/{PREFIX}"
    plan = mirror(url, tmp_path / "d", dry_run=True)
    assert not (tmp_path / "d").exists()
    assert plan.dry_run and (plan.fetched, plan.skipped) == (3, 0)
    assert {(i.key, i.size, i.action) for i in plan.plan} == {
        (k, len(v), "fetch") for k, v in mine().items()
    }
    mirror(url, tmp_path / "d", include=["README"])
    before = sorted(p.name for p in (tmp_path / "d").rglob("*"))
    again = mirror(url, tmp_path / "d", dry_run=True)
    assert {i.key.rsplit("/", 1)[-1]: i.action for i in again.plan} == {
        "README": "skip",
        "coef.npy": "fetch",
        "config.json": "fetch",
    }
    assert (again.skipped, again.skipped_bytes) == (1, len(b"read me"))
    assert sorted(p.name for p in (tmp_path / "d").rglob("*")) == before


# -- hostile keys ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (f"{PREFIX}/../../../../../escaped", "'..' segment"),
        (f"{PREFIX}/a/./b", "'.' segment"),
        (f"{PREFIX}/a//b", "empty segment"),
        (f"{PREFIX}/dir/", "empty segment"),
        (f"{PREFIX}/C:/Windows/x", "drive letter"),
        (f"{PREFIX}/a\\..\\..\\b", "backslash"),
        (f"{PREFIX}/nul\x00byte", "control characters"),
        (f"{PREFIX}/clear\x1b[2J", "control characters"),
        (f"{PREFIX}/" + "x" * 300, "longer than 255 bytes"),
        (f"{PREFIX}/models/lr/coef.npy:hidden", "NTFS stream"),
        (f"{PREFIX}/models/Con.txt", "as a device"),
        (f"{PREFIX}/weights.bin.", "ending in '.' or ' '"),
        (f"{PREFIX}/readme", "same name as 'conduct/secrecy/en/version_1.2/README' but for case"),
        (f"{PREFIX}/Models", "same name as the folder 'conduct/secrecy/en/version_1.2/models'"),
        ("/etc/passwd", "does not lie under the prefix"),
        ("elsewhere/file", "does not lie under the prefix"),
    ],
)
def test_a_key_that_could_escape_refuses_the_whole_mirror_before_writing(
    hostile: DictBackend, tmp_path: Path, key: str, reason: str
) -> None:
    DictBackend.extra = [key]
    dest = tmp_path / "dest"
    with pytest.raises(UntrustedStoreDataError, match=re.escape(reason)) as caught:
        mirror(f"mirrortest://bucket/{PREFIX}", dest)
    assert caught.value.key == key
    assert "\n" not in str(caught.value) and "\x1b" not in str(caught.value)
    assert "nothing was written" in str(caught.value)
    assert not dest.exists()
    assert not (tmp_path / "escaped").exists()


@pytest.mark.parametrize(
    ("key", "reason"), [("/etc/passwd", "absolute"), ("C:/x", "drive"), ("../x", "'..' segment")]
)
def test_a_whole_bucket_mirror_refuses_escaping_keys_at_the_top(
    hostile: DictBackend, tmp_path: Path, key: str, reason: str
) -> None:
    DictBackend.extra = [key]
    with pytest.raises(UntrustedStoreDataError, match=re.escape(reason)):
        mirror("mirrortest://bucket", tmp_path / "d")
    assert not (tmp_path / "d").exists()


def test_keys_equal_under_nfc_refuse_the_mirror(hostile: DictBackend, tmp_path: Path) -> None:
    hostile.put(unicodedata.normalize("NFC", f"{PREFIX}/café"), b"composed")
    hostile.put(unicodedata.normalize("NFD", f"{PREFIX}/café"), b"decomposed")
    with pytest.raises(UntrustedStoreDataError, match=r"in Unicode NFC.*one file on macOS"):
        mirror(f"mirrortest://bucket/{PREFIX}", tmp_path / "d")
    assert not (tmp_path / "d").exists()


def test_exclude_lets_a_user_leave_a_bad_key_out(hostile: DictBackend, tmp_path: Path) -> None:
    DictBackend.extra = [f"{PREFIX}/bad/../../x"]
    result = mirror(f"mirrortest://bucket/{PREFIX}", tmp_path, exclude=["bad/*"])
    assert result.fetched == 3 and files_under(tmp_path) == mine()


def test_folder_markers_are_dropped_and_empty_objects_written_without_a_request(
    hostile: DictBackend, tmp_path: Path
) -> None:
    register_backend("mirrortest", Counting, clobber=True)
    Counting.gets.clear()
    hostile.put(f"{PREFIX}/models", b"")  # "models/" as obstore lists it
    hostile.put(f"{PREFIX}/empty.txt", b"")
    result = mirror(f"mirrortest://bucket/{PREFIX}", tmp_path)
    assert files_under(tmp_path) == {**mine(), f"{PREFIX}/empty.txt": b""}
    assert result.fetched == 4 and f"{PREFIX}/empty.txt" not in Counting.gets


def test_objects_gone_since_the_listing_are_named_after_the_rest_is_mirrored(
    hostile: DictBackend, tmp_path: Path
) -> None:
    DictBackend.extra = [f"{PREFIX}/gone-1", f"{PREFIX}/gone-2"]

    class Missing(DictBackend):
        def list(self, prefix: str) -> Iterator[ObjectMeta]:
            for meta in super().list(prefix):
                yield ObjectMeta(meta.path, meta.size or 3, meta.etag)

        def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
            if key not in self.objects:
                raise ObjectNotFoundError(key)
            return super().get(key, chunk_size)

    register_backend("mirrortest", Missing, clobber=True)
    with pytest.raises(ObjectNotFoundError, match="gone-1' and 1 more were listed but could"):
        mirror(f"mirrortest://bucket/{PREFIX}", tmp_path)
    assert files_under(tmp_path) == mine()


def test_a_key_that_is_also_a_folder_refuses_the_mirror(
    hostile: DictBackend, tmp_path: Path
) -> None:
    hostile.put(f"{PREFIX}/models", b"a file where a folder is")
    with pytest.raises(UntrustedStoreDataError, match="both a file and the folder"):
        mirror(f"mirrortest://bucket/{PREFIX}", tmp_path / "d")
    assert not (tmp_path / "d").exists()
    # Left out by a filter, it clashes with nothing.
    mirror(f"mirrortest://bucket/{PREFIX}", tmp_path / "d", exclude=["models"])
    assert len(files_under(tmp_path / "d")) == 3


def test_a_size_that_is_not_a_size_is_refused(hostile: DictBackend, tmp_path: Path) -> None:
    class Lying(DictBackend):
        def list(self, prefix: str) -> Iterator[ObjectMeta]:
            for meta in super().list(prefix):
                yield ObjectMeta(meta.path, -1 if "README" in meta.path else meta.size)

    register_backend("mirrortest", Lying, clobber=True)
    with pytest.raises(UntrustedStoreDataError, match="README' is listed with a bad size -1"):
        mirror(f"mirrortest://bucket/{PREFIX}", tmp_path / "d")
    assert not (tmp_path / "d").exists()


def test_the_index_name_is_refused_as_a_key(hostile: DictBackend, tmp_path: Path) -> None:
    hostile.put(".modelshelf-mirror.json", b"{}")
    with pytest.raises(UntrustedStoreDataError, match="own index"):
        mirror("mirrortest://bucket", tmp_path / "d")


def test_hostile_index_entries_are_ignored(store: Backend, tmp_path: Path) -> None:
    (tmp_path / ".modelshelf-mirror.json").write_text(
        json.dumps({"format": 1, "files": {"../../x": {"size": 1}, "/abs": {}}})
    )
    assert mirror(f"memory://models/{PREFIX}", tmp_path).fetched == 3


# -- interruptions and large objects ---------------------------------------------------------------
class FailsOnce(DictBackend):
    """Fails the read of one key, once, after sending part of it."""

    fail: ClassVar[set[str]] = set()

    def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
        if key in self.fail:
            self.fail.discard(key)
            yield self.objects[key][:10]
            raise StoreError(f"connection dropped reading {key}")
        yield from super().get(key, chunk_size)


def test_an_interrupted_mirror_leaves_no_partial_file_and_a_rerun_fetches_the_rest(
    hostile: DictBackend, tmp_path: Path
) -> None:
    register_backend("mirrortest", FailsOnce, clobber=True)
    for n in range(40):
        hostile.put(f"{PREFIX}/many/{n:03}", bytes([n]) * 100)
    FailsOnce.fail = {f"{PREFIX}/many/020"}
    url = f"mirrortest://bucket/{PREFIX}"
    with pytest.raises(StoreError, match="connection dropped"):
        mirror(url, tmp_path, max_workers=1)
    leftovers = [p.name for p in tmp_path.rglob("*") if "partial" in p.name or ".tmp" in p.name]
    assert leftovers == []
    assert not (tmp_path / PREFIX / "many/020").exists()
    done = json.loads((tmp_path / ".modelshelf-mirror.json").read_text())["files"]
    assert f"{PREFIX}/many/019" in done and f"{PREFIX}/many/020" not in done
    rerun = mirror(url, tmp_path)
    assert rerun.skipped == len(done) and rerun.fetched == 43 - len(done)
    assert files_under(tmp_path)[f"{PREFIX}/many/020"] == bytes([20]) * 100


def test_a_size_that_differs_from_the_listing_is_an_error(
    hostile: DictBackend, tmp_path: Path
) -> None:
    class Shrinking(DictBackend):
        def list(self, prefix: str) -> Iterator[ObjectMeta]:
            for meta in super().list(prefix):
                yield ObjectMeta(meta.path, meta.size + 5, meta.etag)

    register_backend("mirrortest", Shrinking, clobber=True)
    with pytest.raises(StoreError, match="changed during the mirror"):
        mirror(f"mirrortest://bucket/{PREFIX}", tmp_path)
    assert not (tmp_path / PREFIX / "README").exists()


def test_large_objects_use_ranged_reads(
    store: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(constants, "RANGE_SIZE", 64)
    big = os.urandom(64 * 10 + 7)
    store.put(f"{PREFIX}/big.bin", big)
    result = mirror(f"memory://models/{PREFIX}", tmp_path)
    assert (tmp_path / PREFIX / "big.bin").read_bytes() == big
    assert result.fetched == 4


def test_an_object_replaced_between_its_ranges_is_left_out_and_named(
    hostile: DictBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(constants, "RANGE_SIZE", 64)
    hostile.put(f"{PREFIX}/big.bin", b"A" * 300)

    class Replaced(DictBackend):  # another writer's same-size PUT lands after the first range
        def head(self, key: str) -> ObjectMeta:
            data = self.objects[key]
            return ObjectMeta(key, len(data), etag=hashlib.md5(data).hexdigest())

        def get_range(self, key: str, start: int, end: int) -> bytes:
            chunk = self.objects[key][start:end]
            if key.endswith("big.bin"):
                self.objects[key] = b"B" * len(self.objects[key])
            return chunk

    register_backend("mirrortest", Replaced, clobber=True)
    with pytest.raises(StoreError, match=r"big\.bin was replaced.*run it again.*everything else"):
        mirror(f"mirrortest://bucket/{PREFIX}", tmp_path, max_workers=1)
    assert not (tmp_path / PREFIX / "big.bin").exists()
    assert files_under(tmp_path) == mine()
    index = json.loads((tmp_path / ".modelshelf-mirror.json").read_text())["files"]
    assert f"{PREFIX}/big.bin" not in index
    rerun = mirror(f"mirrortest://bucket/{PREFIX}", tmp_path)  # one version now: fetched whole
    assert rerun.fetched == 1 and (tmp_path / PREFIX / "big.bin").read_bytes() == b"B" * 300


# -- errors ----------------------------------------------------------------------------------------
def test_unknown_scheme_and_unusable_urls(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedStoreError, match=r"unknown store scheme 'nope://'.*s3://"):
        mirror("nope://bucket/x", tmp_path)
    with pytest.raises(UnsupportedStoreError, match="give a URL"):
        mirror("bucket/x", tmp_path)
    with pytest.raises(UnsupportedStoreError, match="a host is not supported"):
        mirror("file://server/share", tmp_path)
    with pytest.raises(UnsupportedStoreError, match=r"prefix has a '\.\.' segment"):
        mirror("memory://models/a/../b", tmp_path)
    with pytest.raises(UnsupportedStoreError, match="tab, newline"):
        mirror("memory://models/a\tb", tmp_path)  # not memory://models/ab


def test_a_symlinked_folder_in_dest_refuses_the_mirror_before_writing(
    store: Backend, tmp_path: Path
) -> None:
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    (dest / "conduct/secrecy").mkdir(parents=True)
    outside.mkdir()
    (dest / "conduct/secrecy/en").symlink_to(outside, target_is_directory=True)
    for dry_run in (True, False):
        with pytest.raises(InvalidInputError, match=r"secrecy/en is a symbolic link"):
            mirror(f"memory://models/{PREFIX}", dest, dry_run=dry_run)
    assert list(outside.iterdir()) == [] and not (dest / ".modelshelf-mirror.json").exists()


def test_a_dest_that_is_a_symlink_is_refused(store: Backend, tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    with pytest.raises(InvalidInputError, match="link is a symbolic link"):
        mirror(f"memory://models/{PREFIX}", tmp_path / "link")
    assert list((tmp_path / "real").iterdir()) == []


def test_a_symlink_made_during_the_mirror_is_refused_before_the_write(
    hostile: DictBackend, tmp_path: Path
) -> None:
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    outside.mkdir()

    class Swaps(DictBackend):  # another process swaps a folder of DEST for a link mid-mirror
        def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
            lr = dest / PREFIX / "models/lr"
            if lr.is_dir() and not lr.is_symlink():
                lr.rename(tmp_path / "moved")
                lr.symlink_to(outside, target_is_directory=True)
            yield from super().get(key, chunk_size)

    register_backend("mirrortest", Swaps, clobber=True)
    with pytest.raises(InvalidInputError, match="lr is a symbolic link"):
        mirror(f"mirrortest://bucket/{PREFIX}", dest, max_workers=1)
    assert list(outside.iterdir()) == []


def test_a_destination_that_is_a_file_is_refused(store: Backend, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(InvalidInputError, match="not a folder"):
        mirror(f"memory://models/{PREFIX}", tmp_path / "f")


# -- CLI -------------------------------------------------------------------------------------------
def test_cli_summary_json_and_dry_run(
    store: Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"memory://models/{PREFIX}"
    assert main(["mirror", url, str(tmp_path), "--dry-run", "--include", "*.json"]) == 0
    out = capsys.readouterr().out
    assert "fetch" in out and "config.json" in out and "would fetch 1 object(s)" in out
    assert not (tmp_path / PREFIX).exists()
    assert main(["mirror", url, str(tmp_path), "-q"]) == 0
    assert "fetched 3 object(s)" in capsys.readouterr().out
    assert main(["mirror", url, str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["fetched"], data["skipped"], data["dry_run"]) == (0, 3, False)
    assert {item["action"] for item in data["plan"]} == {"skip"}


def test_cli_errors_are_one_line_and_exit_1(
    hostile: DictBackend, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["mirror", "nope://b/x", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: unknown store scheme 'nope://'") and err.count("\n") == 1
    DictBackend.extra = [f"{PREFIX}/\x1b]0;owned\x07../x"]
    assert main(["mirror", f"mirrortest://bucket/{PREFIX}", str(tmp_path / "d")]) == 1
    err = capsys.readouterr().err
    assert "refusing to mirror" in err and "\x1b" not in err and err.count("\n") == 1
    assert not (tmp_path / "d").exists()


def test_public_api() -> None:
    assert modelshelf.mirror is mirror
    assert modelshelf.MirrorResult.__name__ == "MirrorResult"


def test_transfers_are_concurrent_and_bounded(hostile: DictBackend, tmp_path: Path) -> None:
    import threading

    class Watching(DictBackend):
        lock = threading.Lock()
        now = peak = 0
        gate = threading.Barrier(3, timeout=5)  # three in flight at once, or this times out

        def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
            cls = type(self)
            with cls.lock:
                cls.now += 1
                cls.peak = max(cls.peak, cls.now)
            try:
                with contextlib.suppress(threading.BrokenBarrierError):
                    cls.gate.wait()
                yield from super().get(key, chunk_size)
            finally:
                with cls.lock:
                    cls.now -= 1

    register_backend("mirrortest", Watching, clobber=True)
    for n in range(30):
        hostile.put(f"{PREFIX}/many/{n:03}", b"x")
    mirror(f"mirrortest://bucket/{PREFIX}", tmp_path, max_workers=3)
    assert Watching.peak == 3
    assert not Watching.gate.broken


def test_an_interrupt_leaves_no_partial_file(hostile: DictBackend, tmp_path: Path) -> None:
    class Interrupted(DictBackend):
        def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
            yield self.objects[key][:3]
            if key.endswith("README"):
                raise KeyboardInterrupt

    register_backend("mirrortest", Interrupted, clobber=True)
    with pytest.raises(KeyboardInterrupt):
        mirror(f"mirrortest://bucket/{PREFIX}", tmp_path, max_workers=1)
    names = [p.name for p in tmp_path.rglob("*")]
    assert "README" not in names and not any("partial" in n for n in names)
