"""The store layout: versions, assets, manifests as commits, numbered alias records, audit log."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from tests.wrapped_backend import WrappedBackend

from modelshelf import Shelf
from modelshelf.backends import Backend, open_backend
from modelshelf.backends.base import PutMode
from modelshelf.errors import (
    AliasConflictError,
    AliasNotFoundError,
    InvalidManifestError,
    ObjectExistsError,
    ObjectNotFoundError,
    SourcePathError,
    VersionExistsError,
)
from modelshelf.manifest import FileEntry, Manifest
from modelshelf.spec import Version
from modelshelf.store.bucket import AliasRecord, Store, actor, now_iso

SHA = "c" * 64
ME = actor()  # who this process writes as: user and host
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def manifest(name: str, version: str, **overrides: Any) -> Manifest:
    fields: dict[str, Any] = {
        "name": name,
        "version": version,
        "kind": "directory",
        "files": (FileEntry("model.bin", 1, SHA),),
        "created": now_iso(),
        "author": "test@host",
    }
    fields.update(overrides)
    return Manifest(**fields)


@pytest.fixture(params=["memory", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    url = "memory://store-tests" if request.param == "memory" else (tmp_path / "s").as_uri()
    store = Store(open_backend(url))
    store.create()  # a file:// store is made by a write, never by opening it (issue 21)
    return store


def v(text: str) -> Version:
    return Version.parse(text)


# -- versions and manifests ------------------------------------------------------------------


def test_versions_are_newest_first_in_numeric_order(store: Store) -> None:
    for version in ("1.9", "1.10", "1.2", "2.0", "10.0", "1.0"):
        store.commit_manifest(manifest("m", version))
    assert store.versions("m") == [v("10.0"), v("2.0"), v("1.10"), v("1.9"), v("1.2"), v("1.0")]


def test_versions_of_unknown_asset_is_empty(store: Store) -> None:
    assert store.versions("nothing/here") == []


def test_versions_skip_keys_that_are_not_manifests(store: Store) -> None:
    store.commit_manifest(manifest("m", "1.0"))
    for junk in ("notes.txt", "1.1.json.bak", "01.json", "1..2.json", "x1.json"):
        store.backend.put(f"assets/m/versions/{junk}", b"{}")
    assert store.versions("m") == [v("1.0")]


def test_versions_of_nested_assets_do_not_mix(store: Store) -> None:
    store.commit_manifest(manifest("nlp", "1.0"))
    store.commit_manifest(manifest("nlp/sentiment", "3.0"))
    store.commit_manifest(manifest("nlpx", "5.0"))
    assert store.versions("nlp") == [v("1.0")]
    assert store.versions("nlp/sentiment") == [v("3.0")]


def test_manifest_round_trips_through_the_store(store: Store) -> None:
    original = manifest("nlp/sentiment", "1.3", metadata={"k": "v"}, message="m")
    store.commit_manifest(original)
    assert store.read_manifest("nlp/sentiment", "1.3") == original
    assert store.backend.exists("assets/nlp/sentiment/versions/1.3.json")


def test_read_manifest_of_missing_version(store: Store) -> None:
    with pytest.raises(ObjectNotFoundError):
        store.read_manifest("m", "9.9")


def test_read_manifest_refuses_one_that_describes_another_version(store: Store) -> None:
    store.backend.put(store.manifest_key("m", "1.0"), manifest("m", "2.0").to_json())
    with pytest.raises(InvalidManifestError, match=r"describes m:2\.0, not m:1\.0"):
        store.read_manifest("m", "1.0")


def test_read_manifest_refuses_garbage(store: Store) -> None:
    store.backend.put(store.manifest_key("m", "1.0"), b"not json")
    with pytest.raises(InvalidManifestError, match=r"assets/m/versions/1\.0\.json"):
        store.read_manifest("m", "1.0")


def test_commit_manifest_twice_raises_version_exists(store: Store) -> None:
    first = manifest("m", "1.0", message="first")
    store.commit_manifest(first)
    with pytest.raises(VersionExistsError) as info:
        store.commit_manifest(manifest("m", "1.0", message="second"))
    assert (info.value.name, info.value.version, info.value.store) == ("m", "1.0", store.url)
    assert isinstance(info.value, FileExistsError)
    assert "already exists" in str(info.value)
    assert store.read_manifest("m", "1.0") == first


# -- assets ----------------------------------------------------------------------------------


def test_assets_lists_nested_names_and_filters_by_prefix(store: Store) -> None:
    for name in ("nlp", "nlp/sentiment", "nlp/ner", "nlp/ner/small", "nlpx/a", "vision/cls"):
        store.commit_manifest(manifest(name, "1.0"))
    store.commit_manifest(manifest("nlp/sentiment", "1.1"))
    assert store.assets() == [
        "nlp", "nlp/ner", "nlp/ner/small", "nlp/sentiment", "nlpx/a", "vision/cls"
    ]  # fmt: skip
    assert store.assets("nlp") == ["nlp", "nlp/ner", "nlp/ner/small", "nlp/sentiment"]
    assert store.assets("nlp/") == store.assets("nlp")
    assert store.assets("/nlp/ner/") == ["nlp/ner", "nlp/ner/small"]
    assert store.assets("nlpx") == ["nlpx/a"]
    assert store.assets("nl") == []  # a prefix is whole segments, not characters
    assert store.assets("absent") == []


def test_assets_ignores_names_with_only_aliases_or_logs(store: Store) -> None:
    store.backend.put("assets/ghost/aliases/prod/00000001.json", b"{}")
    store.backend.put("assets/ghost/log/x.json", b"{}")
    store.backend.put("blobs/sha256/cc/" + SHA, b"x")
    store.commit_manifest(manifest("real", "1.0"))
    assert store.assets() == ["real"]


# -- blobs and ids ---------------------------------------------------------------------------


def test_blob_key_layout() -> None:
    assert Store.blob_key("ab" + "0" * 62) == "blobs/sha256/ab/ab" + "0" * 62


def test_has_blob_tells_present_from_absent(store: Store, tmp_path: Path) -> None:
    local = tmp_path / "f"
    local.write_bytes(b"x")
    present, absent = hashlib.sha256(b"x").hexdigest(), "2" * 64
    store.put_blob(present, local)
    assert store.backend.read(Store.blob_key(present)) == b"x"
    assert store.has_blob(present) and not store.has_blob(absent)


def test_store_id_is_filesystem_safe_and_distinct() -> None:
    ids = {
        Store.id_for(url)
        for url in ("s3://b/p", "s3://b/P", "s3://b/p/", "file:///tmp/a b", "memory://x")
    }
    assert len(ids) == 5
    for store_id in ids:
        assert re.fullmatch(r"[a-z0-9-]+", store_id), store_id
        assert len(store_id) <= 51
    assert Store.id_for("s3://b/p") == Store.id_for("s3://b/p")


# -- aliases ---------------------------------------------------------------------------------


def test_alias_records_are_numbered_and_keep_history(store: Store) -> None:
    first = store.set_alias("m", "production", "1.0")
    assert (first.seq, first.version, first.previous) == (1, "1.0", None)
    assert store.backend.exists("assets/m/aliases/production/00000001.json")
    second = store.set_alias("m", "production", "1.1")
    assert (second.seq, second.version, second.previous) == (2, "1.1", "1.0")
    assert store.backend.exists("assets/m/aliases/production/00000002.json")
    assert store.read_alias("m", "production") == second
    assert [(r.seq, r.version, r.previous) for r in store.alias_history("m", "production")] == [
        (1, "1.0", None),
        (2, "1.1", "1.0"),
    ]


def test_alias_record_says_who_and_when(store: Store) -> None:
    record = store.set_alias("m", "prod", "1.0")
    assert (record.who, record.host) == (ME["user"], ME["host"])
    assert record.who and record.host
    assert ISO_UTC.match(record.when)
    stored = json.loads(store.backend.read("assets/m/aliases/prod/00000001.json"))
    assert stored == record.__dict__


def test_aliases_lists_every_alias_with_its_current_record(store: Store) -> None:
    store.set_alias("m", "production", "1.0")
    store.set_alias("m", "staging", "1.0")
    store.set_alias("m", "production", "1.2")
    store.set_alias("m/sub", "production", "9.0")  # a nested asset's alias
    found = store.aliases("m")
    assert sorted(found) == ["production", "staging"]
    assert (found["production"].version, found["production"].seq) == ("1.2", 2)
    assert found["staging"].version == "1.0"
    assert store.aliases("unknown") == {}


def test_read_alias_that_was_never_set(store: Store) -> None:
    with pytest.raises(AliasNotFoundError, match="has no alias 'prod'") as info:
        store.read_alias("m", "prod")
    assert info.value.name == "m"
    assert store.alias_history("m", "prod") == []


def test_alias_history_beyond_nine_records_sorts_numerically(store: Store) -> None:
    for i in range(12):
        store.set_alias("m", "prod", f"1.{i}")
    assert store.read_alias("m", "prod").version == "1.11"
    assert [r.seq for r in store.alias_history("m", "prod")] == list(range(1, 13))


def test_set_alias_with_expected_is_compare_and_swap(store: Store) -> None:
    store.set_alias("m", "prod", "1.0", expected="")  # "" means: must be unset
    with pytest.raises(AliasConflictError, match=r"points at 1\.0, not 0\.9"):
        store.set_alias("m", "prod", "1.1", expected="0.9")
    with pytest.raises(AliasConflictError, match=r"points at 1\.0, not nothing"):
        store.set_alias("m", "prod", "1.1", expected="")
    assert store.read_alias("m", "prod").seq == 1  # failed swaps wrote nothing
    record = store.set_alias("m", "prod", "1.1", expected="1.0")
    assert (record.seq, record.previous) == (2, "1.0")


class RacingBackend(WrappedBackend):
    """Wraps a backend; just before our create of an alias record, a rival creates it first."""

    def __init__(self, inner: Backend, rival_version: str, races: int = 1) -> None:
        super().__init__(inner)
        self.rival_version = rival_version
        self.races = races

    def put(self, key: str, data: bytes | Path, *, mode: PutMode = "overwrite") -> None:
        if mode == "create" and "/aliases/" in key and self.races > 0:
            self.races -= 1
            seq = int(key.rsplit("/", 1)[1].split(".")[0])
            rival = AliasRecord("prod", self.rival_version, None, seq, "rival", "elsewhere", "t")
            self.inner.put(key, rival.to_json(), mode="create")
        self.inner.put(key, data, mode=mode)


def test_concurrent_move_without_expected_retries_on_the_next_number(store: Store) -> None:
    store.set_alias("m", "prod", "1.0")
    racing = Store(RacingBackend(store.backend, rival_version="1.5"))
    record = racing.set_alias("m", "prod", "2.0")
    assert (record.seq, record.version, record.previous) == (3, "2.0", "1.5")
    history = store.alias_history("m", "prod")
    assert [(r.version, r.who) for r in history][1] == ("1.5", "rival")


def test_concurrent_move_with_expected_fails(store: Store) -> None:
    store.set_alias("m", "prod", "1.0")
    racing = Store(RacingBackend(store.backend, rival_version="1.5"))
    with pytest.raises(AliasConflictError, match=r"points at 1\.5, not 1\.0"):
        racing.set_alias("m", "prod", "2.0", expected="1.0")
    assert store.read_alias("m", "prod").version == "1.5"


def test_alias_that_keeps_moving_gives_up(store: Store) -> None:
    racing = Store(RacingBackend(store.backend, rival_version="1.5", races=100))
    with pytest.raises(AliasConflictError, match="kept moving"):
        racing.set_alias("m", "prod", "2.0")


def test_create_only_is_what_makes_alias_records_safe(store: Store) -> None:
    store.set_alias("m", "prod", "1.0")
    with pytest.raises(ObjectExistsError):
        store.backend.put("assets/m/aliases/prod/00000001.json", b"{}", mode="create")


def test_damaged_alias_record_is_reported(store: Store) -> None:
    store.backend.put("assets/m/aliases/prod/00000001.json", b'{"alias": "prod"}')
    with pytest.raises(InvalidManifestError, match="not a valid alias record"):
        store.read_alias("m", "prod")


# -- audit log -------------------------------------------------------------------------------


def test_append_log_records_who_when_host(store: Store) -> None:
    store.append_log("m", "push", version="1.0", message="hello")
    store.append_log("m", "alias", alias="prod", version="1.0")
    records = store.log("m")
    assert [r["action"] for r in records] == ["push", "alias"]
    first = records[0]
    assert first["name"] == "m"
    assert first["version"] == "1.0"
    assert first["message"] == "hello"
    assert (first["user"], first["host"]) == (ME["user"], ME["host"])
    assert ISO_UTC.match(first["when"])
    assert records[0]["when"] <= records[1]["when"]


def test_log_records_are_separate_create_only_objects(store: Store) -> None:
    for i in range(5):
        store.append_log("m", "push", version=f"1.{i}")
    keys = [m.path for m in store.backend.list("assets/m/log")]
    assert len(keys) == 5
    assert [r["version"] for r in store.log("m")] == [f"1.{i}" for i in range(5)]


def test_log_excludes_nested_assets(store: Store) -> None:
    store.append_log("nlp", "push", version="1.0")
    store.append_log("nlp/sentiment", "push", version="2.0")
    assert [r["version"] for r in store.log("nlp")] == ["1.0"]
    assert [r["version"] for r in store.log("nlp/sentiment")] == ["2.0"]
    assert store.log("nothing") == []


def test_push_and_alias_moves_are_audited(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "w.bin").write_bytes(b"weights")
    shelf = Shelf("memory://audit")
    shelf.push(folder, "m", message="initial weights")
    (folder / "w.bin").write_bytes(b"weights v2")
    shelf.push(folder, "m", message="retrained")
    shelf.set_alias("m@prod", "1.0")
    shelf.set_alias("m@prod", "1.1", expected="1.0")

    records = shelf.store.log("m")
    assert [(r["action"], r["version"]) for r in records] == [
        ("push", "1.0"),
        ("push", "1.1"),
        ("alias", "1.0"),
        ("alias", "1.1"),
    ]
    push = records[0]
    assert push["message"] == "initial weights"
    assert (push["files"], push["size"]) == (1, len(b"weights"))
    assert records[1]["message"] == "retrained"
    move = records[3]
    assert (move["alias"], move["previous"], move["seq"]) == ("prod", "1.0", 2)
    for record in records:
        assert (record["user"], record["host"]) == (ME["user"], ME["host"])
        assert ISO_UTC.match(record["when"])


def test_a_blob_of_the_wrong_size_counts_as_missing(store: Store, tmp_path: Path) -> None:
    local = tmp_path / "f"
    local.write_bytes(b"abc")
    digest = hashlib.sha256(b"abc").hexdigest()
    store.put_blob(digest, local)
    assert store.has_blob(digest, 3)
    assert not store.has_blob(digest, 4)


def test_put_blob_refuses_bytes_that_are_not_its_hash(store: Store, tmp_path: Path) -> None:
    local = tmp_path / "f"
    local.write_bytes(b"x")
    with pytest.raises(SourcePathError, match="changed while being pushed"):
        store.put_blob("1" * 64, local)
    assert not store.has_blob("1" * 64)
