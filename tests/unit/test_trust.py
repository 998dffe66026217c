"""The trust boundary: each check of store input, ``inside``, lying sizes, manifest extras."""

from __future__ import annotations

import hashlib
import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from tests.wrapped_backend import WrappedBackend

from modelshelf import trust
from modelshelf.backends import Backend, open_backend
from modelshelf.cache.cache import Cache
from modelshelf.errors import (
    IntegrityError,
    InvalidInputError,
    InvalidManifestError,
    ModelshelfError,
    UntrustedStoreDataError,
)
from modelshelf.manifest import CORE_KEYS, FileEntry, Manifest
from modelshelf.shelf.export import export_files
from modelshelf.transfer.download import ObjectBlob, download_verified, fetch_into

SHA = "ab" * 32


# -- single values -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["m", "nlp/sentiment", "a.b/c-d_e", "0"])
def test_check_name_accepts(name: str) -> None:
    assert trust.check_name(name) == name
    assert trust.check_name(name, expected=name) == name


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("../x", "not an asset name"),
        ("/abs", "not an asset name"),
        ("A", "not an asset name"),
        ("a/versions", "not an asset name"),
        ("a\nb", "control characters"),
        ("", "not an asset name"),
        (5, "must be text"),
        (None, "must be text"),
        (["a"], "must be text, not <list>"),
        ("x" * 5000, "longer than"),
    ],
)
def test_check_name_refuses(value: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as info:
        trust.check_name(value)
    assert "\n" not in str(info.value)


def test_check_name_compares_with_the_request() -> None:
    with pytest.raises(ValueError, match="is 'other', not 'm'"):
        trust.check_name("other", expected="m")


@pytest.mark.parametrize(
    "value", ["", "../../..", "/tmp/x", "1.0/../x", "01.0", "1.0\n", "1.", "1..0", 1.0, None, "1e3"]
)
def test_check_version_refuses(value: object) -> None:
    with pytest.raises(ValueError) as info:
        trust.check_version(value)
    assert "\n" not in str(info.value)


def test_check_version_accepts_canonical_text_only() -> None:
    assert trust.check_version("1.10") == "1.10"
    with pytest.raises(ValueError, match=r"not '1\.0'"):
        trust.check_version("1.1", expected="1.0")


@pytest.mark.parametrize(
    "path", ["", "/a", "a/../b", "..", ".", "a//b", "a/", "a\\b", "a\x00b", 5, None, "x" * 5000]
)
def test_check_relative_path_refuses(path: object) -> None:
    with pytest.raises(ValueError):
        trust.check_relative_path(path)


@pytest.mark.parametrize("size", [-1, 2**50, 2**62, True, 5.0, "5", None])
def test_check_size_refuses(size: object) -> None:
    with pytest.raises(ValueError, match="bad size"):
        trust.check_size(size)


def test_check_size_accepts_the_range() -> None:
    assert trust.check_size(0) == 0
    assert trust.check_size(2**50 - 1) == 2**50 - 1


@pytest.mark.parametrize("sha", ["", "ab", SHA.upper(), SHA + "0", "g" * 64, 5, None])
def test_check_sha256_refuses(sha: object) -> None:
    with pytest.raises(ValueError, match="bad sha256"):
        trust.check_sha256(sha)


def test_show_is_one_short_line() -> None:
    assert trust.show("a\nb\x1b[2J") == "'a\\nb\\x1b[2J'"
    assert len(trust.show("x" * 10_000)) <= 60
    assert trust.show({"a": 1}) == "<dict>"
    assert trust.show(10**5000) == "<int>"


# -- records -----------------------------------------------------------------------------------


def alias_record(**changes: Any) -> dict[str, Any]:
    record = {"alias": "prod", "version": "1.0", "previous": None, "seq": 3}
    record |= {"who": "u", "host": "h", "when": "2026-01-01T00:00:00Z", **changes}
    return record


def test_check_alias_record_keeps_known_fields() -> None:
    checked = trust.check_alias_record(alias_record(previous="0.9", x=1), alias="prod", seq=3)
    assert checked == alias_record(previous="0.9")


@pytest.mark.parametrize(
    "record",
    [
        alias_record(version="../../.."),
        alias_record(version="/tmp/x"),
        alias_record(previous="../x"),
        alias_record(alias="other"),
        alias_record(seq=4),
        alias_record(seq=True),
        alias_record(who="\x1b[31m"),
        alias_record(when=["t"]),
        {k: v for k, v in alias_record().items() if k != "host"},
        [alias_record()],
        "1.0",
    ],
)
def test_check_alias_record_refuses(record: object) -> None:
    with pytest.raises(ValueError):
        trust.check_alias_record(record, alias="prod", seq=3)


def log_record(**changes: Any) -> dict[str, Any]:
    record = {"action": "push", "name": "m", "when": "t", "user": "u", "host": "h"}
    return record | changes


def test_check_log_record_accepts_scalars_and_multi_line_messages() -> None:
    record = log_record(version="1.0", message="a\nb", files=3, size=10, previous=None, ok=True)
    assert trust.check_log_record(record, name="m") == record


@pytest.mark.parametrize(
    "record",
    [
        [log_record()],
        None,
        log_record(files=["a"]),
        log_record(extra={"a": 1}),
        log_record(user="\x1b[2J"),
        log_record(version="1.0\nforged"),
        log_record(message="x" * (trust.MAX_TEXT + 1)),
        log_record(when=5),
        log_record(name="other"),
        {k: v for k, v in log_record().items() if k != "action"},
        {str(i): i for i in range(101)} | log_record(),
    ],
)
def test_check_log_record_refuses(record: object) -> None:
    with pytest.raises(ValueError):
        trust.check_log_record(record, name="m")


# -- inside ------------------------------------------------------------------------------------


def test_inside_joins_names_with_slashes(tmp_path: Path) -> None:
    assert trust.inside(tmp_path, "a", "nlp/sentiment", "1.0") == tmp_path / "a/nlp/sentiment/1.0"


@pytest.mark.parametrize(
    "parts",
    [
        ("..",),
        ("a", "../.."),
        ("a/../../b",),
        ("/etc/passwd",),
        ("a", "/abs"),
        ("a\x00b",),
        ("a\\..\\b",),
        ("",),
        (".",),
        ("a", "."),
        (5,),
    ],
)
def test_inside_refuses(tmp_path: Path, parts: tuple[Any, ...]) -> None:
    with pytest.raises(UntrustedStoreDataError) as info:
        trust.inside(tmp_path / "root", *parts)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ModelshelfError)


# -- sizes from a store: compared with the real size, ranges planned lazily -------------------


class CountingBackend(WrappedBackend):
    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.calls: list[str] = []

    def get_range(self, key: str, start: int, end: int) -> bytes | memoryview:
        self.calls.append("range")
        return super().get_range(key, start, end)

    def head(self, key: str) -> Any:
        self.calls.append("head")
        return super().head(key)


@pytest.fixture
def five_bytes() -> tuple[CountingBackend, str, str]:
    backend = CountingBackend(open_backend("memory://sizes"))
    backend.put("blob", b"hello")
    return backend, "blob", hashlib.sha256(b"hello").hexdigest()


@pytest.mark.parametrize("claimed", [2**62, 2**49, 2**24 + 1])
def test_a_huge_claimed_size_fails_before_any_range_is_fetched(
    five_bytes: tuple[CountingBackend, str, str], tmp_path: Path, claimed: int
) -> None:
    backend, key, sha = five_bytes
    tracemalloc.start()
    try:
        with pytest.raises(IntegrityError, match=f"an object of 5 bytes instead of {claimed}"):
            download_verified(ObjectBlob(backend, key), claimed, sha, tmp_path / "out", label="w")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert backend.calls == ["head"]
    assert peak < 5 * 2**20


@pytest.mark.parametrize("claimed", [4, 6, 100])
def test_a_small_lying_size_names_both_sizes(
    five_bytes: tuple[CountingBackend, str, str], tmp_path: Path, claimed: int
) -> None:
    backend, key, sha = five_bytes
    with pytest.raises(IntegrityError, match=f"an object of 5 bytes instead of {claimed}"):
        download_verified(ObjectBlob(backend, key), claimed, sha, tmp_path / "out", label="w")


def test_ranges_are_planned_lazily(
    five_bytes: tuple[CountingBackend, str, str], tmp_path: Path
) -> None:
    backend, key, _ = five_bytes
    fd = os.open(tmp_path / "out", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        ranges = fetch_into(ObjectBlob(backend, key), 2**62, fd)
        assert bytes(next(ranges)) == b"hello"
        ranges.close()
    finally:
        os.close(fd)
    assert 1 <= backend.calls.count("range") <= 64


# -- Manifest.extra cannot overwrite the core fields -------------------------------------------


def manifest(**changes: Any) -> Manifest:
    fields: dict[str, Any] = {
        "name": "m",
        "version": "1.0",
        "kind": "directory",
        "files": (FileEntry("w", 5, SHA),),
        "created": "2026-01-01T00:00:00.000000Z",
        "author": "u@h",
    }
    return Manifest(**(fields | changes))


@pytest.mark.parametrize("key", sorted(CORE_KEYS))
def test_extra_cannot_use_a_core_key(key: str) -> None:
    with pytest.raises(InvalidInputError, match=key):
        manifest(extra={key: 2, "runner": "pkg:R"})


def test_extra_changed_in_place_is_refused_on_write() -> None:
    written = manifest(extra={"runner": "pkg:R"})
    written.extra["format"] = 2
    with pytest.raises(InvalidInputError, match="format"):
        written.to_json()


def test_reading_stays_tolerant_of_unknown_keys() -> None:
    data = json.loads(manifest(extra={"runner": "pkg:R"}).to_json())
    data["added_later"] = {"nested": [1, 2]}
    read = Manifest.from_json(json.dumps(data))
    assert read.extra == {"runner": "pkg:R", "added_later": {"nested": [1, 2]}}
    assert Manifest.from_json(read.to_json()) == read


def test_a_manifest_that_lies_about_itself_is_refused_with_one_line() -> None:
    data = json.loads(manifest().to_json())
    data["files"][0]["path"] = "a/../../../etc/passwd\nforged"
    with pytest.raises(InvalidManifestError, match="unsafe path") as info:
        Manifest.from_json(json.dumps(data), where="s3://b/k")
    assert "\n" not in str(info.value)


# -- the cache and pull -o join through inside() ------------------------------------------------


def test_cache_paths_refuse_what_would_leave_the_cache(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    for call in (
        lambda: cache.snapshot_dir("sid", "m", "../../.."),
        lambda: cache.complete_marker("sid", "m", "/tmp/x"),
        lambda: cache._manifest_path("sid", "m", "../../../../x"),
        lambda: cache.blob_path("../" * 22),
        lambda: cache.write_ref("sid", "m", "aliases:../../../x", "1.0"),
        lambda: cache.read_ref("sid", "m", "versions:/etc/passwd"),
    ):
        with pytest.raises(UntrustedStoreDataError):
            call()
    written = {p.relative_to(tmp_path).parts[0] for p in tmp_path.rglob("*")}
    assert written <= {"cache"}


def test_export_refuses_a_destination_outside_the_output(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    entry = FileEntry("../escaped", 5, SHA)  # as if a manifest had slipped past its checks
    with pytest.raises(UntrustedStoreDataError):
        export_files(cache, (entry,), "", tmp_path / "out", "copy", single_file=False)
    assert not (tmp_path / "escaped").exists()
