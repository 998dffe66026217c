"""A version or a bucket written into a user's folder, on every kind of remote store (issue 20
items 3 and 13): ``pull -o`` refuses to replace or delete the user's files before writing any,
and names of 250 bytes (84 characters of 3 bytes) go through ``pull -o``, ``export`` and
``mirror``."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conformance.test_hostile import put_raw
from tests.integration.test_s3_shelf import make_tree
from tests.servers.gcs import expect_emulator_gap
from tests.servers.remote import MIRROR, RemoteStore

from modelshelf import Shelf, export
from modelshelf.errors import StoreError, UserFolderRefusedError
from modelshelf.mirror.run import mirror

LONG = "日" * 83 + "a"  # 250 bytes in UTF-8
TREE = {"w.bin": b"w" * 3000, "src": b"a file named src", f"d/{LONG}": b"long name"}


def shelf_of(store: RemoteStore, tmp_path: Path) -> Shelf:
    s = Shelf(store.url, cache_dir=tmp_path / "cache", **store.options)
    s.push(make_tree(tmp_path / "m", TREE), "m", progress=False)
    return s


def test_pull_o_never_replaces_a_users_files_and_takes_long_names(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request)
    s = shelf_of(remote_store, tmp_path)
    out = make_tree(tmp_path / "repo", {"src/main.py": b"mine"})
    with pytest.raises(UserFolderRefusedError, match=r"repo/src is a folder where a file goes"):
        s.pull("m", output=out, progress=False)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["src", "src/main.py"]
    s.pull("m", output=out, progress=False, overwrite=True)
    assert (out / "src").read_bytes() == TREE["src"]
    assert (out / "d" / LONG).read_bytes() == b"long name"
    where = Path(export("m", to=tmp_path / "deploy", store=s))
    assert (where / "d" / LONG).read_bytes() == b"long name"


@pytest.mark.bucket_only(MIRROR)
def test_mirror_takes_a_250_byte_name(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # The GCS emulator drops the connection on this upload (and answers listings 501).
    expect_emulator_gap(remote_store, request, raises=(StoreError, ConnectionError))
    put_raw(remote_store, f"raw/{LONG}", b"long name")
    put_raw(remote_store, "raw/short", b"short")
    url = f"{remote_store.url}/raw"
    options = remote_store.options
    dest = tmp_path / "dest"
    assert mirror(url, dest, **options).fetched == 2
    [found] = dest.rglob(LONG)
    assert found.read_bytes() == b"long name"
    assert mirror(url, dest, **options).skipped == 2
