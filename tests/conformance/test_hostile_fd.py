"""A version or a bucket that names the cache's own files, or a hidden folder of the user's, on
every kind of remote store (issue 20 item 3, review B3): ``pull -o`` and ``mirror`` into a folder
holding the cache never write into it, and add no file to a hidden folder that was there."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from tests.conformance.test_hostile import put_raw
from tests.integration.test_s3_shelf import make_tree
from tests.servers.gcs import expect_emulator_gap
from tests.servers.remote import MIRROR, RemoteStore

from modelshelf import Shelf
from modelshelf.errors import StoreError, UserFolderRefusedError
from modelshelf.mirror.run import mirror

HONEST = b"honest weights\n"
SHA = hashlib.sha256(HONEST).hexdigest()


def test_a_version_naming_a_cached_blob_is_refused_before_any_write(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request)
    home = tmp_path / "home"
    s = Shelf(remote_store.url, cache_dir=home / ".cache" / "modelshelf", **remote_store.options)
    s.push(make_tree(tmp_path / "honest", {"w.bin": HONEST}), "team/honest", progress=False)
    rel = f".cache/modelshelf/blobs/sha256/{SHA[:2]}/{SHA}"
    evil = {rel: b"EVIL".ljust(len(HONEST)), "README.md": b"card", ".ssh/authorized_keys": b"k"}
    s.push(make_tree(tmp_path / "evil", evil), "x/readme", progress=False)
    with pytest.raises(UserFolderRefusedError, match=r"modelshelf cache"):
        s.pull("x/readme", output=home, progress=False)
    assert not (home / "README.md").exists()
    assert (Path(s.pull("team/honest", progress=False)) / "w.bin").read_bytes() == HONEST


@pytest.mark.bucket_only(MIRROR)
def test_a_mirror_adds_no_file_to_a_users_hidden_folder(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request, raises=(StoreError, ConnectionError))
    put_raw(remote_store, "raw/.ssh/authorized_keys", b"ssh-ed25519 AAAA attacker")
    put_raw(remote_store, "raw/README.md", b"card")
    probe = tmp_path / "probe"  # where the mirror puts the key (below DEST, as the URL says)
    mirror(f"{remote_store.url}/raw", probe, **remote_store.options)
    [key] = probe.rglob("authorized_keys")
    dest = tmp_path / "home"
    ssh = dest / key.parent.relative_to(probe)
    ssh.mkdir(parents=True)
    with pytest.raises(UserFolderRefusedError, match=r"\.ssh is a hidden folder"):
        mirror(f"{remote_store.url}/raw", dest, **remote_store.options)
    assert list(ssh.iterdir()) == []
