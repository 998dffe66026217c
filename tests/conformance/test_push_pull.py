"""Push, pull, versions and aliases, the same on every kind of remote store."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.integration.test_s3_shelf import make_tree
from tests.push_race import race_one_version
from tests.servers.gcs import expect_emulator_gap
from tests.servers.remote import RemoteStore

from modelshelf import Shelf
from modelshelf.errors import AliasConflictError, VersionExistsError

FILES = {"model.bin": b"\x00\x01" * 5000, "tok/vocab.txt": b"a\nb\n", "empty": b""}


def shelf(store: RemoteStore, cache: Path) -> Shelf:
    return Shelf(store.url, cache_dir=cache, **store.options)


def tree(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}


def test_push_then_pull_is_byte_exact(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request)
    writer = shelf(remote_store, tmp_path / "cache-w")
    assert writer.push(make_tree(tmp_path / "m", FILES), "nlp/sentiment", message="m").version == (
        "1.0"
    )
    reader = shelf(remote_store, tmp_path / "cache-r")
    assert tree(reader.pull("nlp/sentiment:1.0")) == FILES
    assert reader.pull("nlp/sentiment:1.0/tok/vocab.txt").read_bytes() == b"a\nb\n"
    assert reader.manifest("nlp/sentiment").message == "m"


def test_versions_and_partial_versions(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request)
    s = shelf(remote_store, tmp_path / "cache")
    for i, spec in enumerate(["m", "m", "m:2.0", "m"]):
        s.push(make_tree(tmp_path / str(i), {"v": str(i).encode()}), spec)
    assert s.assets() == ["m"]
    assert s.versions("m") == ["2.1", "2.0", "1.1", "1.0"]
    reader = shelf(remote_store, tmp_path / "cache-r")
    assert (reader.pull("m:1") / "v").read_bytes() == b"1"  # newest 1.x
    assert (reader.pull("m:2") / "v").read_bytes() == b"3"
    assert (reader.pull("m") / "v").read_bytes() == b"3"
    assert (reader.pull("m:1.0") / "v").read_bytes() == b"0"


def test_two_racing_pushes_of_one_version_one_wins(
    remote_store: RemoteStore,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expect_emulator_gap(remote_store, request)
    shelves = {name: shelf(remote_store, tmp_path / f"cache-{name}") for name in ("a", "b")}
    winner = race_one_version(shelves, tmp_path, monkeypatch)
    reader = shelf(remote_store, tmp_path / "cache-r")
    assert reader.versions("race") == ["1.0"]
    # nothing half-written: the one version is the winner's, whole
    assert (reader.pull("race:1.0") / "w.bin").read_bytes() == winner.encode() * 1000


def test_aliases_move_with_compare_and_swap(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request)
    s = shelf(remote_store, tmp_path / "cache")
    for i in range(3):
        s.push(make_tree(tmp_path / str(i), {"v": str(i).encode()}), "m")
    s.set_alias("m@prod", "1.0", expected="")
    s.set_alias("m@prod", "1.1", expected="1.0")
    with pytest.raises(AliasConflictError):
        s.set_alias("m@prod", "1.2", expected="1.0")  # stale
    with pytest.raises(AliasConflictError):
        s.set_alias("m@new", "1.2", expected="1.0")  # expected to exist, does not
    s.set_alias("m@prod", "1.2")
    assert [r.version for r in s.store.alias_history("m", "prod")] == ["1.0", "1.1", "1.2"]
    assert dict(s.aliases("m")) and list(s.aliases("m")) == ["prod"]
    assert (shelf(remote_store, tmp_path / "cache-r").pull("m@prod") / "v").read_bytes() == b"2"


def test_an_existing_version_is_never_overwritten(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request)
    s = shelf(remote_store, tmp_path / "cache")
    s.push(make_tree(tmp_path / "a", {"w": b"1"}), "m:1.0")
    with pytest.raises(VersionExistsError):
        s.push(make_tree(tmp_path / "b", {"w": b"2"}), "m:1.0")
    # the store's conditional create itself refuses, not only the early check
    with pytest.raises(VersionExistsError):
        s.store.commit_manifest(s.store.read_manifest("m", "1.0"))
    assert (shelf(remote_store, tmp_path / "r").pull("m:1.0") / "w").read_bytes() == b"1"
