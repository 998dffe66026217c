"""Properties of the parsers that read outside input: manifests from a store, CLI values."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from modelshelf.cli.cache import parse_size
from modelshelf.cli.push import parse_meta
from modelshelf.errors import InvalidInputError, InvalidManifestError
from modelshelf.manifest import FileEntry, Manifest, check_relative_path

pytestmark = pytest.mark.property

SETTINGS = settings(max_examples=300, deadline=None)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
segments = st.from_regex(r"[A-Za-z0-9._-]{1,12}", fullmatch=True).filter(
    lambda s: s not in (".", "..")
)
safe_paths = st.lists(segments, min_size=1, max_size=4).map("/".join)
shas = st.from_regex(r"[0-9a-f]{64}", fullmatch=True)


@st.composite
def manifests(draw: st.DrawFn) -> Manifest:
    kind = draw(st.sampled_from(["file", "directory"]))
    paths = draw(st.lists(safe_paths, min_size=1, max_size=1 if kind == "file" else 6, unique=True))
    # drop paths that are a folder of another path: a manifest must not hold both
    paths = [p for p in paths if not any(o.startswith(p + "/") for o in paths)]
    files = tuple(
        sorted(
            (FileEntry(p, draw(st.integers(0, 2**40)), draw(shas)) for p in paths),
            key=lambda f: f.path,
        )
    )
    return Manifest(
        name="a/b",
        version="1.0",
        kind=kind,
        files=files,
        created="2026-01-01T00:00:00.000000Z",
        author="u@h",
        message=draw(st.text(max_size=30)),
        metadata=draw(st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3)),
    )


@SETTINGS
@given(manifests())
def test_manifest_round_trips(manifest: Manifest) -> None:
    assert Manifest.from_json(manifest.to_json()) == manifest


@SETTINGS
@given(st.one_of(json_values, st.dictionaries(st.sampled_from(
    ["format", "name", "version", "kind", "files", "created", "author", "metadata", "source"]
), json_values)))  # fmt: skip
def test_any_json_is_a_manifest_or_invalid_manifest_error(data: Any) -> None:
    try:
        Manifest.from_json(json.dumps(data))
    except InvalidManifestError as exc:
        # Most random JSON stops here; tests/property/test_store_input_properties.py mutates
        # valid manifests instead, to reach the file-entry checks.
        event(f"refused: {str(exc).split(': ', 1)[-1][:20]}")
        assert "\n" not in str(exc)


@SETTINGS
@given(st.binary(max_size=200))
def test_any_bytes_are_a_manifest_or_invalid_manifest_error(raw: bytes) -> None:
    with contextlib.suppress(InvalidManifestError):
        Manifest.from_json(raw)


@SETTINGS
@given(st.text(max_size=40))
def test_accepted_paths_never_escape(path: str) -> None:
    try:
        check_relative_path(path)
    except ValueError:
        return
    parts = path.split("/")
    assert not path.startswith("/") and ".." not in parts and "" not in parts and "\\" not in path


@SETTINGS
@given(st.lists(st.text(max_size=12), max_size=5))
def test_parse_meta_accepts_or_says_why(pairs: list[str]) -> None:
    try:
        meta = parse_meta(tuple(pairs))
    except InvalidInputError:
        return
    assert len(meta) == len(pairs)
    for pair in pairs:
        key, _, value = pair.partition("=")
        assert meta[key.strip()] == value


@SETTINGS
@given(st.text(max_size=12))
def test_parse_size_accepts_or_says_why(text: str) -> None:
    with contextlib.suppress(InvalidInputError):
        assert parse_size(text) >= 0
