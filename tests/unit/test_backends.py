"""Backends: one conformance suite every backend passes, plus the scheme registry.

``BackendConformance`` is abstract (fsspec's ``tests/abstract`` style): a subclass supplies a
``backend`` fixture giving an empty store, and inherits every test. The memory and local
backends run it here; ``tests/integration/test_s3_shelf.py`` runs it against SeaweedFS.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelshelf.backends import Backend, ObjectMeta, open_backend, register_backend, registry
from modelshelf.backends._obstore import translate_error
from modelshelf.backends.local import LocalBackend
from modelshelf.backends.memory import MemoryBackend
from modelshelf.backends.s3 import S3Backend
from modelshelf.errors import (
    ObjectExistsError,
    ObjectNotFoundError,
    StoreAuthError,
    StoreError,
    StoreUnreachableError,
    UnsupportedStoreError,
)


def _paths(metas: Iterator[ObjectMeta]) -> list[str]:
    return sorted(meta.path for meta in metas)


class BackendConformance:
    """The contract of :class:`modelshelf.backends.Backend`; subclasses supply ``backend``."""

    def test_put_then_get_round_trips(self, backend: Backend) -> None:
        data = bytes(range(256)) * 100
        backend.put("dir/obj.bin", data)
        assert b"".join(backend.get("dir/obj.bin", chunk_size=1024)) == data
        assert backend.read("dir/obj.bin") == data

    def test_empty_object_round_trips(self, backend: Backend) -> None:
        backend.put("empty", b"")
        assert backend.read("empty") == b""
        assert backend.head("empty").size == 0

    def test_put_from_local_file(self, backend: Backend, tmp_path: Path) -> None:
        local = tmp_path / "upload.bin"
        local.write_bytes(b"from a file" * 1000)
        backend.put("uploads/file.bin", local)
        assert backend.read("uploads/file.bin") == local.read_bytes()

    def test_overwrite_replaces_content(self, backend: Backend) -> None:
        backend.put("k", b"old")
        backend.put("k", b"new content")
        assert backend.read("k") == b"new content"
        assert backend.head("k").size == len(b"new content")

    def test_create_mode_on_a_new_key_writes(self, backend: Backend) -> None:
        backend.put("once.json", b"{}", mode="create")
        assert backend.read("once.json") == b"{}"

    def test_create_mode_twice_raises_object_exists(self, backend: Backend) -> None:
        backend.put("once.json", b"first", mode="create")
        with pytest.raises(ObjectExistsError, match=r"once\.json") as info:
            backend.put("once.json", b"second", mode="create")
        assert isinstance(info.value, FileExistsError)
        assert backend.read("once.json") == b"first"

    def test_create_mode_from_local_file_twice_raises(
        self, backend: Backend, tmp_path: Path
    ) -> None:
        local = tmp_path / "record.json"
        local.write_bytes(b'{"n": 1}')
        backend.put("rec.json", local, mode="create")
        with pytest.raises(ObjectExistsError):
            backend.put("rec.json", local, mode="create")

    def test_get_of_missing_key_raises_not_found(self, backend: Backend) -> None:
        with pytest.raises(ObjectNotFoundError, match="missing/key") as info:
            b"".join(backend.get("missing/key", chunk_size=1024))
        assert isinstance(info.value, FileNotFoundError)

    def test_read_head_and_range_of_missing_key_raise_not_found(self, backend: Backend) -> None:
        with pytest.raises(ObjectNotFoundError):
            backend.read("nope")
        with pytest.raises(ObjectNotFoundError):
            backend.head("nope")
        with pytest.raises(ObjectNotFoundError):
            backend.get_range("nope", 0, 1)
        assert backend.exists("nope") is False

    def test_get_range_returns_the_slice(self, backend: Backend) -> None:
        data = bytes(range(256)) * 40
        backend.put("ranged", data)
        assert backend.get_range("ranged", 0, 1) == data[:1]
        assert backend.get_range("ranged", 100, 1100) == data[100:1100]
        assert backend.get_range("ranged", len(data) - 7, len(data)) == data[-7:]

    def test_head_describes_the_object(self, backend: Backend) -> None:
        backend.put("a/b/meta.txt", b"12345")
        meta = backend.head("a/b/meta.txt")
        assert meta.path == "a/b/meta.txt"
        assert meta.size == 5
        assert backend.exists("a/b/meta.txt") is True

    def test_list_is_recursive_and_respects_the_prefix_boundary(self, backend: Backend) -> None:
        for key in ("a/x", "a/b/c", "ab/x", "abc", "b/a/x"):
            backend.put(key, key.encode())
        assert _paths(backend.list("a")) == ["a/b/c", "a/x"]
        assert _paths(backend.list("a/")) == ["a/b/c", "a/x"]
        assert _paths(backend.list("a/b")) == ["a/b/c"]
        assert _paths(backend.list("")) == ["a/b/c", "a/x", "ab/x", "abc", "b/a/x"]

    def test_list_reports_sizes(self, backend: Backend) -> None:
        backend.put("s/one", b"1")
        backend.put("s/three", b"333")
        assert {m.path: m.size for m in backend.list("s")} == {"s/one": 1, "s/three": 3}

    def test_list_of_unknown_prefix_is_empty(self, backend: Backend) -> None:
        backend.put("present/x", b"x")
        assert list(backend.list("absent")) == []
        assert list(backend.list("present/x")) == []  # an object is not a folder

    def test_delete_removes_and_missing_key_is_fine(self, backend: Backend) -> None:
        backend.put("gone/soon", b"x")
        backend.put("gone/stays", b"y")
        backend.delete("gone/soon")
        assert backend.exists("gone/soon") is False
        assert _paths(backend.list("gone")) == ["gone/stays"]
        backend.delete("gone/soon")
        backend.delete("never/there")

    def test_create_after_delete_succeeds(self, backend: Backend) -> None:
        backend.put("cycle", b"1", mode="create")
        backend.delete("cycle")
        backend.put("cycle", b"2", mode="create")
        assert backend.read("cycle") == b"2"

    def test_store_layout_keys_round_trip(self, backend: Backend) -> None:
        keys = [
            "assets/nlp/sentiment/versions/1.10.json",
            "assets/nlp/sentiment/aliases/production/00000001.json",
            "blobs/sha256/ab/" + "ab" * 32,
        ]
        for key in keys:
            backend.put(key, key.encode(), mode="create")
        assert _paths(backend.list("assets/nlp")) == sorted(keys[:2])
        for key in keys:
            assert backend.read(key) == key.encode()

    def test_url_is_set(self, backend: Backend) -> None:
        assert isinstance(backend.url, str) and "://" in backend.url


class TestMemoryBackend(BackendConformance):
    @pytest.fixture
    def backend(self) -> Backend:
        return open_backend("memory://conformance")


class TestLocalBackend(BackendConformance):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> Backend:
        backend = open_backend((tmp_path / "store").as_uri())
        backend.create_store()  # made by a write, never by opening it (issue 21)
        return backend

    def test_objects_are_plain_files_under_the_root(self, backend: Backend) -> None:
        backend.put("a/b.txt", b"on disk")
        assert isinstance(backend, LocalBackend)
        assert (backend.root / "a" / "b.txt").read_bytes() == b"on disk"


# -- memory specifics ------------------------------------------------------------------------


def test_memory_stores_of_one_name_share_content() -> None:
    open_backend("memory://shared").put("k", b"v")
    assert open_backend("memory://shared").read("k") == b"v"
    assert not open_backend("memory://other").exists("k")


def test_memory_reset_forgets_one_or_all() -> None:
    open_backend("memory://one").put("k", b"1")
    open_backend("memory://two").put("k", b"2")
    MemoryBackend.reset("one")
    assert not open_backend("memory://one").exists("k")
    assert open_backend("memory://two").exists("k")
    MemoryBackend.reset()
    assert not open_backend("memory://two").exists("k")


# -- registry --------------------------------------------------------------------------------


@pytest.fixture
def clean_registry() -> Iterator[None]:
    """Undo every ``register_backend`` a test makes."""
    # ``modelshelf.backends.registry`` is the read-only mapping; the module is shadowed by it.
    table = importlib.import_module("modelshelf.backends.registry")._registry
    saved = dict(table)
    yield
    table.clear()
    table.update(saved)


@pytest.fixture
def plugin_module(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """An importable module ``ms_test_plugin`` holding a custom backend and a non-backend."""
    module = types.ModuleType("ms_test_plugin")

    class TaggedBackend(MemoryBackend):
        def __init__(self, name: str = "plugin", tag: str = "") -> None:
            super().__init__(name)
            self.tag = tag

    class NotABackend:
        pass

    module.TaggedBackend = TaggedBackend  # type: ignore[attr-defined]
    module.NotABackend = NotABackend  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ms_test_plugin", module)
    return module


def test_open_file_url(tmp_path: Path) -> None:
    backend = open_backend((tmp_path / "s").as_uri())
    assert isinstance(backend, LocalBackend)
    assert backend.root == (tmp_path / "s").resolve()
    assert not backend.root.exists()  # opening makes nothing: a write does (issue 21)
    assert backend.url == (tmp_path / "s").resolve().as_uri()


def test_open_file_url_with_localhost_host(tmp_path: Path) -> None:
    backend = open_backend(f"file://localhost{tmp_path / 's'}")
    assert isinstance(backend, LocalBackend)
    assert backend.root == (tmp_path / "s").resolve()


def test_open_file_url_with_a_remote_host_is_refused() -> None:
    with pytest.raises(UnsupportedStoreError, match="three slashes"):
        open_backend("file://server/share")


def test_open_file_store_in_an_unwritable_place(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    backend = open_backend((tmp_path / "a-file" / "store").as_uri())
    with pytest.raises(UnsupportedStoreError, match="cannot create the store folder"):
        backend.create_store()  # what a write does first


@pytest.mark.parametrize(
    ("url", "name"),
    [("memory://", "default"), ("memory://abc", "abc"), ("memory://abc/", "abc")],
)
def test_open_memory_url(url: str, name: str) -> None:
    backend = open_backend(url)
    assert isinstance(backend, MemoryBackend)
    assert backend.url == f"memory://{name}"


def test_open_plain_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    absolute = open_backend(str(tmp_path / "abs"))
    relative = open_backend("./rel")
    home = open_backend("~/in-home")
    assert isinstance(absolute, LocalBackend) and absolute.root == tmp_path / "abs"
    assert isinstance(relative, LocalBackend) and relative.root == tmp_path / "rel"
    assert isinstance(home, LocalBackend) and home.root == tmp_path / "home" / "in-home"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "the store URL is empty"),
        ("   ", "the store URL is empty"),
        ("bare-word", "cannot tell what store"),
        ("ftp://host/x", "unknown store scheme 'ftp://'"),
        ("s3://", "needs a bucket"),
    ],
)
def test_open_backend_refusals(url: str, message: str) -> None:
    with pytest.raises(UnsupportedStoreError, match=message):
        open_backend(url)


def test_unknown_scheme_lists_the_known_ones() -> None:
    with pytest.raises(UnsupportedStoreError) as info:
        open_backend("nosuch://bucket")
    text = str(info.value)
    for scheme in ("file://", "memory://", "s3://"):
        assert scheme in text
    assert "package.module:Class" in text
    assert isinstance(info.value, ValueError)


def test_custom_backend_by_import_path(plugin_module: types.ModuleType) -> None:
    backend = open_backend("ms_test_plugin:TaggedBackend", name="custom", tag="t1")
    assert isinstance(backend, plugin_module.TaggedBackend)
    assert backend.tag == "t1"  # type: ignore[attr-defined]
    assert backend.url == "memory://custom"
    backend.put("k", b"v")
    assert open_backend("memory://custom").read("k") == b"v"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("ms_test_plugin:NotABackend", "not a modelshelf.backends.Backend subclass"),
        ("ms_test_plugin:Missing", "has no backend class 'Missing'"),
        ("ms_no_such_module_xyz:Backend", "cannot use ms_no_such_module_xyz:Backend"),
    ],
)
def test_custom_backend_import_path_errors(
    plugin_module: types.ModuleType, path: str, message: str
) -> None:
    with pytest.raises(UnsupportedStoreError, match=message):
        open_backend(path)


@pytest.mark.usefixtures("clean_registry")
def test_register_backend_class_serves_its_scheme(plugin_module: types.ModuleType) -> None:
    register_backend("tagged", plugin_module.TaggedBackend)
    backend = open_backend("tagged://ignored")
    assert isinstance(backend, plugin_module.TaggedBackend)
    assert registry["tagged"] is plugin_module.TaggedBackend


@pytest.mark.usefixtures("clean_registry")
def test_register_backend_by_import_path_is_loaded_lazily(
    plugin_module: types.ModuleType,
) -> None:
    register_backend("lazy", "ms_test_plugin:TaggedBackend")
    assert registry["lazy"] == "ms_test_plugin:TaggedBackend"
    assert isinstance(open_backend("lazy://x"), plugin_module.TaggedBackend)
    assert registry["lazy"] is plugin_module.TaggedBackend


@pytest.mark.usefixtures("clean_registry")
def test_register_backend_clobber_rule(plugin_module: types.ModuleType) -> None:
    with pytest.raises(ValueError, match="'memory' is already registered; pass clobber=True"):
        register_backend("memory", plugin_module.TaggedBackend)
    assert isinstance(open_backend("memory://x"), MemoryBackend)
    assert not isinstance(open_backend("memory://x"), plugin_module.TaggedBackend)

    register_backend("memory", plugin_module.TaggedBackend, clobber=True)
    assert isinstance(open_backend("memory://x"), plugin_module.TaggedBackend)


def test_registry_view_is_read_only() -> None:
    with pytest.raises(TypeError):
        registry["evil"] = MemoryBackend  # type: ignore[index]


# -- S3 without a server: everything that fails before the first request --------------------


def test_s3_without_credentials_names_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    with pytest.raises(StoreAuthError, match="AWS_ACCESS_KEY_ID") as info:
        open_backend("s3://bucket/prefix")
    assert isinstance(info.value, PermissionError)


def test_s3_with_unknown_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UnsupportedStoreError, match="unknown S3 setting"):
        open_backend("s3://bucket", access_key_id="a", secret_access_key="b", colour="red")


def test_s3_with_a_missing_profile_is_an_auth_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    with pytest.raises(StoreAuthError, match="no-such-profile"):
        open_backend("s3://bucket")


def test_s3_reads_keys_from_a_profile_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    creds = tmp_path / "credentials"
    creds.write_text("[team]\naws_access_key_id = AK\naws_secret_access_key = SK\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_PROFILE", "team")
    backend = open_backend("s3://bucket/some/prefix", endpoint="http://127.0.0.1:9")
    assert isinstance(backend, S3Backend)
    assert backend.url == "s3://bucket/some/prefix"


# -- error translation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (FileNotFoundError("gone"), ObjectNotFoundError),
        (FileExistsError("there"), ObjectExistsError),
        (PermissionError("denied"), StoreAuthError),
        (ConnectionRefusedError(111, "Connection refused"), StoreUnreachableError),
        (OSError("HTTP error: error sending request for url"), StoreUnreachableError),
        (OSError("Client error with status 403 Forbidden"), StoreAuthError),
        (OSError("something else entirely"), StoreError),
    ],
)
def test_translate_error(exc: BaseException, expected: type[StoreError]) -> None:
    with pytest.raises(expected) as info:
        translate_error(exc, "memory://t", "some/key")
    assert type(info.value) is expected
    assert info.value.__cause__ is exc


def test_custom_backend_gets_read_and_exists_for_free() -> None:
    class Dict(Backend):
        def __init__(self) -> None:
            self.url = "dict://"
            self.data: dict[str, bytes] = {}

        def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
            if key not in self.data:
                raise ObjectNotFoundError(key)
            yield self.data[key]

        def get_range(self, key: str, start: int, end: int) -> bytes:
            return self.data[key][start:end]

        def put(self, key: str, data: Any, *, mode: Any = "overwrite") -> None:
            self.data[key] = data

        def head(self, key: str) -> ObjectMeta:
            if key not in self.data:
                raise ObjectNotFoundError(key)
            return ObjectMeta(key, len(self.data[key]))

        def list(self, prefix: str) -> Iterator[ObjectMeta]:
            return iter(())

        def delete(self, key: str) -> None:
            self.data.pop(key, None)

    backend = Dict()
    backend.put("k", b"v")
    assert backend.read("k") == b"v"
    assert backend.exists("k") and not backend.exists("other")
