"""A store is outside input: corrupted blobs and hostile records, on every kind of remote store."""

from __future__ import annotations

import hashlib
import urllib.parse
from pathlib import Path

import pytest
from tests.integration.test_s3_shelf import make_tree
from tests.servers.gcs import expect_emulator_gap
from tests.servers.remote import RemoteStore
from tests.unit.test_hostile_store import (
    alias_record,
    assert_one_line,
    file_entry,
    manifest_dict,
    raw,
)

from modelshelf import Shelf
from modelshelf.errors import IntegrityError, UntrustedStoreDataError, VersionNotFoundError
from modelshelf.store.bucket import Store

GOOD = b"good bytes" * 100


def pushed(store: RemoteStore, tmp_path: Path) -> Shelf:
    s = Shelf(store.url, cache_dir=tmp_path / "cache", **store.options)
    s.push(make_tree(tmp_path / "m", {"w.bin": GOOD}), "m", progress=False)
    return s


def put_raw(store: RemoteStore, key: str, data: bytes) -> None:
    """Write an object under the store's prefix behind modelshelf's back, any key at all (for
    a registry: into the bucket behind it)."""
    store = store.behind()
    if store.kind == "file":
        path = Path(urllib.parse.unquote(urllib.parse.urlsplit(store.url).path), key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return
    bucket, _, prefix = store.url.split("://", 1)[1].partition("/")
    full = f"{prefix}/{key}" if prefix else key
    if store.kind == "s3":
        import boto3

        opts = store.options
        client = boto3.client(
            "s3", endpoint_url=opts["endpoint"], region_name=opts["region"],
            aws_access_key_id=opts["access_key_id"],
            aws_secret_access_key=opts["secret_access_key"],
        )  # fmt: skip
        client.put_object(Bucket=bucket, Key=full, Body=data)
    elif store.kind == "gcs":
        status, body = store.server._request(
            "POST",
            f"/upload/storage/v1/b/{bucket}/o?uploadType=media&name={urllib.parse.quote(full)}",
            data,
        )
        assert status == 200, body
    elif store.kind == "azure":  # obstore's own client: it encodes any key as Azure wants
        from modelshelf.backends import open_backend

        open_backend(store.url, **store.options).put(key, data)
    else:
        pytest.fail(f"no raw writer for {store.kind}")


def test_a_corrupted_blob_is_refused_on_pull_and_not_cached(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request)
    s = pushed(remote_store, tmp_path)
    digest = s.manifest("m:1.0").files[0].sha256
    put_raw(remote_store, Store.blob_key(digest), b"X" * len(GOOD))
    reader = Shelf(remote_store.url, cache_dir=tmp_path / "cache-r", **remote_store.options)
    with pytest.raises(IntegrityError) as info:
        reader.pull("m:1.0", progress=False)
    assert info.value.expected == digest
    assert info.value.actual == hashlib.sha256(b"X" * len(GOOD)).hexdigest()
    assert not reader.cache.has_blob(digest)
    assert list(reader.cache.root.rglob("*.tmp")) == []


def test_a_manifest_path_escaping_with_dotdot_is_refused(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request)
    s = pushed(remote_store, tmp_path)
    key = "assets/m/versions/1.1.json"
    put_raw(remote_store, key, raw(manifest_dict(files=file_entry(path="../" * 6 + "escaped"))))
    for attempt in (
        lambda: s.pull("m:1.1", progress=False),
        lambda: s.pull("m", output=tmp_path / "out", progress=False),
        lambda: s.manifest("m:1.1"),
    ):
        with pytest.raises(UntrustedStoreDataError) as info:
            attempt()
        assert_one_line(info.value, key=key)
        assert s.url in str(info.value)
    assert not list(tmp_path.rglob("escaped"))
    assert s.cache.load_manifest(s.store_id, "m", "1.1") is None


def test_an_alias_naming_a_missing_version_is_refused(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request)
    s = pushed(remote_store, tmp_path)
    put_raw(remote_store, "assets/m/aliases/prod/00000001.json", raw(alias_record(version="9.9")))
    # A well-formed record naming a version that is not there: not found, named, one line.
    with pytest.raises(VersionNotFoundError) as info:
        s.pull("m@prod", progress=False)
    assert_one_line(info.value, key=None)
    assert "9.9" in str(info.value) and s.url in str(info.value)
    # a forged record naming an unsafe version is untrusted
    put_raw(remote_store, "assets/m/aliases/live/00000001.json",
            raw(alias_record(alias="live", version="../../../x")))  # fmt: skip
    with pytest.raises(UntrustedStoreDataError) as untrusted:
        s.pull("m@live", progress=False)
    assert_one_line(untrusted.value, key="assets/m/aliases/live/00000001.json")


def test_listed_names_with_control_characters_are_refused(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request)
    s = pushed(remote_store, tmp_path)
    evil = "ev\x1b[2Jil"
    try:
        put_raw(remote_store, f"assets/{evil}/versions/1.0.json", raw(manifest_dict(name=evil)))
    except ValueError:  # obstore refuses such a key client-side: the Azure writer cannot plant it
        assert remote_store.kind == "azure"
    put_raw(remote_store, "assets/m/versions/1.1.json", raw(manifest_dict(name="m\x07")))
    assert s.assets() == ["m"]  # a key that is no asset name is not listed
    with pytest.raises(UntrustedStoreDataError) as info:  # a record naming one is refused
        s.pull("m:1.1", progress=False)
    assert_one_line(info.value, key="assets/m/versions/1.1.json")
    assert "\x07" not in str(info.value) and "\x1b" not in str(info.value)
