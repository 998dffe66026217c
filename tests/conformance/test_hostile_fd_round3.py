"""A version or a bucket never writes into a cache inside the user's folder, on every kind of
remote store (issue 20, second review break C): a folder marked ``CACHEDIR.TAG`` on the way is
refused, and so is a new file at a blob's name (``blobs/sha256/xx/<sha256>``), where a cache
made later would take a read-only one as verified."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from tests.conformance.test_hostile import put_raw
from tests.integration.test_s3_shelf import make_tree
from tests.servers.gcs import expect_emulator_gap
from tests.servers.remote import MIRROR, RemoteStore

from modelshelf import Shelf, constants
from modelshelf.errors import StoreError, UserFolderRefusedError
from modelshelf.mirror.run import mirror

HONEST = b"honest weights 0001\n"
SHA = hashlib.sha256(HONEST).hexdigest()
BLOB = f"cacheB/blobs/sha256/{SHA[:2]}/{SHA}"


@pytest.mark.parametrize("link", ["hardlink", "copy"])
def test_pull_o_never_writes_at_a_blobs_name_nor_into_a_marked_cache(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest, link: str
) -> None:
    expect_emulator_gap(remote_store, request)
    s = Shelf(remote_store.url, cache_dir=tmp_path / "cacheA", **remote_store.options)
    s.push(make_tree(tmp_path / "evil", {BLOB: b"EVIL!! weights 6666\n"}), "x/a", progress=False)
    s.push(make_tree(tmp_path / "tools", {"cacheB/x.bin": b"x"}), "x/b", progress=False)
    proj = tmp_path / "proj"
    with pytest.raises(UserFolderRefusedError, match=r"the name of a blob"):
        s.pull("x/a", output=proj, link=link, overwrite=True, progress=False)  # type: ignore[arg-type]
    assert not proj.exists()
    Shelf(remote_store.url, cache_dir=proj / "cacheB", **remote_store.options).pull(
        "x/b", progress=False
    )  # project B's cache, marked
    assert (proj / "cacheB" / constants.CACHEDIR_TAG).is_file()
    with pytest.raises(UserFolderRefusedError, match=r"cacheB holds a CACHEDIR\.TAG"):
        s.pull("x/b", output=proj, link=link, overwrite=True, progress=False)  # type: ignore[arg-type]
    assert not (proj / "cacheB" / "x.bin").exists()


@pytest.mark.bucket_only(MIRROR)
def test_mirror_never_writes_into_a_marked_cache_nor_at_a_blobs_name(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request, raises=(StoreError, ConnectionError))
    put_raw(remote_store, f"raw/{BLOB}", b"EVIL!! weights 6666\n")
    url = f"{remote_store.url}/raw"
    with pytest.raises(UserFolderRefusedError, match=r"the name of a blob"):
        mirror(url, tmp_path / "dest", overwrite=True, **remote_store.options)
    assert not (tmp_path / "dest" / "cacheB").exists()
    marked = tmp_path / "cacheB"  # a cache as DEST: refused before the store is asked
    marked.mkdir()
    (marked / constants.CACHEDIR_TAG).write_bytes(constants.CACHEDIR_TAG_TEXT)
    with pytest.raises(UserFolderRefusedError, match=r"cacheB holds a CACHEDIR\.TAG"):
        mirror(url, marked, overwrite=True, **remote_store.options)
    assert [p.name for p in marked.iterdir()] == [constants.CACHEDIR_TAG]
