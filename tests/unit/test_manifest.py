"""Manifests: round trips, and refusal of anything a hostile store could use against us."""

from __future__ import annotations

import json
from typing import Any

import pytest

from modelshelf.errors import InvalidManifestError
from modelshelf.manifest import FORMAT_VERSION, FileEntry, Manifest, check_relative_path

SHA_A = "a" * 64
SHA_B = "0123456789abcdef" * 4


def make_manifest(**overrides: Any) -> Manifest:
    fields: dict[str, Any] = {
        "name": "nlp/sentiment",
        "version": "1.3",
        "kind": "directory",
        "files": (
            FileEntry("model.bin", 10, SHA_A),
            FileEntry("tokenizer/vocab.txt", 3, SHA_B),
        ),
        "created": "2024-05-01T12:00:00.000000Z",
        "author": "ann@laptop",
        "message": "first cut",
        "source": {"path": "/src/model", "git_commit": "f" * 40, "git_dirty": False},
        "metadata": {"dataset": "imdb", "epochs": "3"},
    }
    fields.update(overrides)
    return Manifest(**fields)


def as_dict(manifest: Manifest | None = None) -> dict[str, Any]:
    return json.loads((manifest or make_manifest()).to_json())


def parse(data: dict[str, Any]) -> Manifest:
    return Manifest.from_json(json.dumps(data).encode())


def test_round_trip_is_exact() -> None:
    manifest = make_manifest()
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert Manifest.from_json(manifest.to_json().decode()) == manifest


def test_json_has_the_documented_fields() -> None:
    data = as_dict()
    assert data["format"] == FORMAT_VERSION
    assert data["size"] == 13
    assert data["files"][1] == {"path": "tokenizer/vocab.txt", "size": 3, "sha256": SHA_B}
    assert data["metadata"] == {"dataset": "imdb", "epochs": "3"}
    assert data["source"]["git_commit"] == "f" * 40


def test_extra_sections_survive_a_round_trip() -> None:
    manifest = make_manifest(extra={"runner": "pkg.mod:Runner", "props": {"k": [1, 2]}})
    again = Manifest.from_json(manifest.to_json())
    assert again.extra == {"runner": "pkg.mod:Runner", "props": {"k": [1, 2]}}
    assert again == manifest


def test_unknown_fields_are_kept_as_extra() -> None:
    data = as_dict()
    data["engine"] = "torch"
    assert parse(data).extra == {"engine": "torch"}


def test_optional_fields_default() -> None:
    data = as_dict()
    for key in ("message", "source", "metadata"):
        del data[key]
    manifest = parse(data)
    assert (manifest.message, manifest.source, manifest.metadata) == ("", {}, {})


def test_files_are_sorted_by_path_on_read() -> None:
    data = as_dict()
    data["files"].reverse()
    assert [f.path for f in parse(data).files] == ["model.bin", "tokenizer/vocab.txt"]


def test_size_file_and_select() -> None:
    manifest = make_manifest(
        files=(
            FileEntry("tok/a", 1, SHA_A),
            FileEntry("tokenizer/b", 2, SHA_A),
            FileEntry("tokenizer.json", 4, SHA_B),
        )
    )
    assert manifest.size == 7
    assert manifest.file("tok/a") == FileEntry("tok/a", 1, SHA_A)
    assert manifest.file("tok/") is None
    assert [f.path for f in manifest.select("tok")] == ["tok/a"]  # not tokenizer/...
    assert [f.path for f in manifest.select("tok/")] == ["tok/a"]
    assert [f.path for f in manifest.select("tokenizer.json")] == ["tokenizer.json"]
    assert manifest.select(None) == manifest.files
    assert manifest.select("nothing") == ()


UNSAFE_PATHS = [
    "../x",
    "a/../../x",
    "..",
    ".",
    "./a",
    "a/./b",
    "/abs",
    "/",
    "a//b",
    "a/",
    "",
    "a\\b",
    "..\\x",
    "C:\\x",
    "a\x00b",
]


@pytest.mark.parametrize("path", UNSAFE_PATHS)
def test_check_relative_path_refuses(path: str) -> None:
    with pytest.raises(ValueError, match="unsafe path"):
        check_relative_path(path)


@pytest.mark.parametrize("path", ["a", "a/b/c.txt", ".hidden", "a/.b", "x..y", "sp ace"])
def test_check_relative_path_accepts(path: str) -> None:
    assert check_relative_path(path) == path


@pytest.mark.parametrize("path", UNSAFE_PATHS)
def test_manifest_with_unsafe_path_is_refused(path: str) -> None:
    data = as_dict()
    data["files"][0]["path"] = path
    with pytest.raises(InvalidManifestError, match="unsafe path"):
        parse(data)


@pytest.mark.parametrize(
    "sha",
    [
        "",
        "a" * 63,
        "a" * 65,
        "A" * 64,
        "g" * 64,
        " " + "a" * 63,
        123,
        pytest.param("a" * 64 + "\n", id="trailing-newline"),
    ],
)
def test_bad_sha256_is_refused(sha: object) -> None:
    data = as_dict()
    data["files"][0]["sha256"] = sha
    with pytest.raises(InvalidManifestError, match="bad sha256"):
        parse(data)


@pytest.mark.parametrize(
    "size",
    [
        -1,
        "10",
        1.5,
        None,
        pytest.param(True, id="bool"),
    ],
)
def test_bad_size_is_refused(size: object) -> None:
    data = as_dict()
    data["files"][0]["size"] = size
    with pytest.raises(InvalidManifestError, match="bad size"):
        parse(data)


@pytest.mark.parametrize("fmt", [0, 2, "1", None])
def test_bad_format_is_refused(fmt: object) -> None:
    data = as_dict()
    data["format"] = fmt
    with pytest.raises(InvalidManifestError, match="upgrade modelshelf"):
        parse(data)


def test_missing_format_is_refused() -> None:
    data = as_dict()
    del data["format"]
    with pytest.raises(InvalidManifestError, match="format None"):
        parse(data)


def test_bad_kind_is_refused() -> None:
    data = as_dict()
    data["kind"] = "symlink"
    with pytest.raises(InvalidManifestError, match="bad kind"):
        parse(data)


@pytest.mark.parametrize("field", ["name", "version", "kind", "files", "created", "author"])
def test_missing_required_field_is_refused(field: str) -> None:
    data = as_dict()
    del data[field]
    with pytest.raises(InvalidManifestError, match=field):
        parse(data)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "is not valid JSON"),
        (b"\xff\xfe", "is not valid JSON"),
        (b"[1, 2]", "is not a JSON object"),
        (b'"text"', "is not a JSON object"),
        (b'{"format": 1, "files": [1]}', "is malformed"),
        (b'{"format": 1, "files": null}', "is malformed"),
    ],
)
def test_unparseable_manifest_is_refused(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidManifestError, match=message):
        Manifest.from_json(raw, where="s3://b/x.json")


def test_error_names_where_the_manifest_came_from() -> None:
    with pytest.raises(InvalidManifestError, match=r"memory://s/assets/x/versions/1\.0\.json"):
        Manifest.from_json(b"{", where="memory://s/assets/x/versions/1.0.json")


def test_invalid_manifest_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        Manifest.from_json(b"[]")


@pytest.mark.parametrize("paths", [["a", "a/b"], ["a", "a"]], ids=["file-and-folder", "twice"])
def test_conflicting_paths_are_refused(paths: list[str]) -> None:
    data = as_dict()
    data["files"] = [{"path": p, "size": 1, "sha256": SHA_A} for p in paths]
    with pytest.raises(InvalidManifestError):
        parse(data)
