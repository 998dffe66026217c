"""The S3 backend and the facade against a real SeaweedFS S3 server on loopback."""

from __future__ import annotations

import hashlib
import logging
import socket
import time
from pathlib import Path

import obstore
import pytest
from tests.servers.seaweed import S3Bucket
from tests.unit.test_backends import BackendConformance

from modelshelf import Shelf
from modelshelf.backends import Backend, open_backend
from modelshelf.backends.s3 import S3Backend
from modelshelf.errors import (
    AliasConflictError,
    IntegrityError,
    StoreAuthError,
    StoreUnreachableError,
    VersionExistsError,
)
from modelshelf.store.bucket import Store


@pytest.fixture
def s3_env(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    """``s3_bucket`` with its AWS_* settings in the environment."""
    for name, value in s3_bucket.env.items():
        monkeypatch.setenv(name, value)
    return s3_bucket


def closed_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


class TestS3Backend(BackendConformance):
    @pytest.fixture
    def backend(self, s3_env: S3Bucket) -> Backend:
        backend = open_backend(s3_env.url)
        assert isinstance(backend, S3Backend)
        return backend

    def test_keys_live_under_the_prefix(self, backend: Backend, s3_env: S3Bucket) -> None:
        backend.put("a/b", b"x")
        raw = s3_env.server.store(s3_env.bucket)
        keys = [m["path"] for batch in obstore.list(raw, f"{s3_env.prefix}/") for m in batch]
        assert keys == [f"{s3_env.prefix}/a/b"]
        assert backend.url == s3_env.url


# -- failures: wrong secret, closed port, no credentials -------------------------------------


def test_wrong_secret_raises_store_auth_error(s3_env: S3Bucket) -> None:
    open_backend(s3_env.url).put("k", b"v")
    bad = open_backend(s3_env.url, secret_access_key="not-the-secret")
    calls = {
        "read": lambda: bad.read("k"),
        "head": lambda: bad.head("k"),
        "range": lambda: bad.get_range("k", 0, 1),
        "list": lambda: list(bad.list("")),
        "put": lambda: bad.put("k2", b"x"),
        "create": lambda: bad.put("k3", b"x", mode="create"),
    }
    for what, call in calls.items():
        with pytest.raises(StoreAuthError, match="403") as info:
            call()
        assert "AWS_ACCESS_KEY_ID" in str(info.value), what
        assert isinstance(info.value, PermissionError)
    assert not open_backend(s3_env.url).exists("k2")


def test_wrong_secret_push_fails_and_leaves_no_version(s3_env: S3Bucket, tmp_path: Path) -> None:
    folder = make_tree(tmp_path / "m", {"w.bin": b"w"})
    with pytest.raises(StoreAuthError):
        Shelf(s3_env.url, secret_access_key="not-the-secret").push(folder, "m")
    assert Shelf(s3_env.url).assets() == []


def test_closed_port_raises_unreachable_within_seconds(s3_env: S3Bucket) -> None:
    backend = open_backend(s3_env.url, endpoint=f"http://127.0.0.1:{closed_loopback_port()}")
    for call in (lambda: backend.read("k"), lambda: list(backend.list("")),
                 lambda: backend.put("k", b"x")):  # fmt: skip
        started = time.monotonic()
        with pytest.raises(StoreUnreachableError, match="cannot reach the store") as info:
            call()
        assert time.monotonic() - started < 8
        assert isinstance(info.value, ConnectionError)
        assert "AWS_ENDPOINT_URL" in str(info.value)


def test_no_credentials_names_the_variables(
    s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    # only the endpoint: nothing may leave loopback even if a request were attempted
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_bucket.env["AWS_ENDPOINT_URL"])
    with pytest.raises(StoreAuthError, match="AWS_ACCESS_KEY_ID") as info:
        open_backend(s3_bucket.url)
    assert "AWS_SECRET_ACCESS_KEY" in str(info.value)
    with pytest.raises(StoreAuthError, match="AWS_ACCESS_KEY_ID"):
        Shelf(s3_bucket.url).assets()


# -- the facade over S3 ----------------------------------------------------------------------


def test_push_pull_round_trip(s3_env: S3Bucket, tmp_path: Path) -> None:
    files = {"model.bin": b"\x00\x01" * 5000, "tok/vocab.txt": b"a\nb\n", "empty": b""}
    folder = make_tree(tmp_path / "model", files)
    shelf = Shelf(s3_env.url)
    assert shelf.push(folder, "nlp/sentiment", message="m").version == "1.0"
    assert shelf.push(folder, "nlp/sentiment").version == "1.1"
    assert shelf.assets() == ["nlp/sentiment"]
    assert shelf.versions("nlp/sentiment") == ["1.1", "1.0"]

    reader = Shelf(s3_env.url, cache_dir=tmp_path / "other-cache")
    path = reader.pull("nlp/sentiment:1")
    assert {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*")
            if p.is_file()} == files  # fmt: skip
    assert reader.manifest("nlp/sentiment:1.1").message == ""
    assert reader.pull("nlp/sentiment:1.0/tok/vocab.txt").read_bytes() == b"a\nb\n"


def test_explicit_version_exists_on_s3(s3_env: S3Bucket, tmp_path: Path) -> None:
    folder = make_tree(tmp_path / "m", {"w": b"1"})
    shelf = Shelf(s3_env.url)
    shelf.push(folder, "m:1.0")
    make_tree(folder, {"w": b"2"})
    with pytest.raises(VersionExistsError):
        shelf.push(folder, "m:1.0")
    # the conditional create itself refuses, not only the early check
    manifest = shelf.store.read_manifest("m", "1.0")
    with pytest.raises(VersionExistsError):
        shelf.store.commit_manifest(manifest)


def test_same_content_is_stored_once_on_s3(s3_env: S3Bucket, tmp_path: Path) -> None:
    folder = make_tree(tmp_path / "m", {"a": b"same", "b": b"same", "c": b"other"})
    shelf = Shelf(s3_env.url)
    shelf.push(folder, "x")
    shelf.push(folder, "y")
    assert len(list(shelf.store.backend.list("blobs"))) == 2


def test_alias_compare_and_swap_on_s3(s3_env: S3Bucket, tmp_path: Path) -> None:
    shelf = Shelf(s3_env.url)
    for i in range(2):
        shelf.push(make_tree(tmp_path / str(i), {"v": str(i).encode()}), "m")
    shelf.set_alias("m@prod", "1.0", expected="")
    shelf.set_alias("m@prod", "1.1", expected="1.0")
    with pytest.raises(AliasConflictError):
        shelf.set_alias("m@prod", "1.0", expected="1.0")
    assert [r.version for r in shelf.store.alias_history("m", "prod")] == ["1.0", "1.1"]
    assert (Shelf(s3_env.url).pull("m@prod") / "v").read_bytes() == b"1"


def test_damaged_blob_on_s3_raises_integrity_error(s3_env: S3Bucket, tmp_path: Path) -> None:
    data = b"good bytes" * 100
    shelf = Shelf(s3_env.url)
    manifest = shelf.push(make_tree(tmp_path / "m", {"w.bin": data}), "m")
    digest = manifest.files[0].sha256
    shelf.store.backend.put(Store.blob_key(digest), b"X" * len(data))
    with pytest.raises(IntegrityError) as info:
        shelf.pull("m:1.0")
    assert info.value.expected == digest
    assert info.value.actual == hashlib.sha256(b"X" * len(data)).hexdigest()
    assert not shelf.cache.has_blob(digest)
    assert list(shelf.cache.root.rglob("*.tmp")) == []


def test_unreachable_s3_store_falls_back_to_the_cache(
    s3_env: S3Bucket,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shelf = Shelf(s3_env.url)
    shelf.push(make_tree(tmp_path / "m", {"v": b"1"}), "m")
    shelf.set_alias("m@prod", "1.0")
    shelf.pull("m@prod")

    # The same store (its identity, and so its cache, is fixed when the Shelf is made), whose
    # endpoint stops answering before the backend is opened. Another endpoint would be another
    # store, with a cache of its own.
    down = Shelf(s3_env.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_loopback_port()}")
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        path = down.pull("m@prod")
    assert (path / "v").read_bytes() == b"1"
    assert any("cannot reach the store" in r.getMessage() for r in caplog.records)
