"""Properties of what an idempotent push compares (``modelshelf.shelf._push_compare``).

The version compared with comes from the store (outside input, decoded JSON) and the push's own
sections are checked JSON copies: the two must compare equal exactly when they would be written
the same, whatever JSON the user gave, and any change to a file, the metadata or a section
must make them differ. Message, author, time and source never count.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelshelf.manifest import FileEntry, Manifest, content_of, content_of_manifest
from modelshelf.shelf._push_compare import same_listing
from modelshelf.shelf.push import check_sections

pytestmark = pytest.mark.property

SETTINGS = settings(max_examples=300, deadline=None)

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | text
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=20,
)  # fmt: skip
section_names = st.sampled_from(["model", "training", "data", "x"])
sections = st.dictionaries(section_names, json_values, max_size=3)
metadata = st.dictionaries(text.filter(bool), text, max_size=4)
# Folder segments have no dot and files end in .bin: no path is both a file and a folder.
paths = st.lists(
    st.from_regex(r"[a-z]{1,6}(/[a-z]{1,6}){0,2}\.bin", fullmatch=True), min_size=1, max_size=5,
    unique=True,
)  # fmt: skip
digests = st.from_regex(r"[0-9a-f]{64}", fullmatch=True)


@st.composite
def versions(draw: Any) -> tuple[list[FileEntry], dict[str, str], dict[str, Any]]:
    files = [FileEntry(p, draw(st.integers(0, 2**40)), draw(digests)) for p in draw(paths)]
    return files, draw(metadata), check_sections(draw(sections))


def stored(
    files: list[FileEntry], meta: dict[str, str], extra: dict[str, Any], **kw: Any
) -> Manifest:
    """The manifest as another push wrote it and this one reads it back from the store."""
    manifest = Manifest(
        name="m",
        version="1.0",
        kind="directory",
        files=tuple(sorted(files, key=lambda f: f.path)),
        created=kw.get("created", "2026-01-01T00:00:00Z"),
        author=kw.get("author", "a@b"),
        message=kw.get("message", ""),
        source=kw.get("source", {}),
        metadata=meta,
        extra=extra,
    )
    return Manifest.from_json(manifest.to_json())


@SETTINGS
@given(versions(), text, text, st.dictionaries(text, text, max_size=2))
def test_the_same_content_compares_equal_whatever_describes_the_push(
    version: tuple[list[FileEntry], dict[str, str], dict[str, Any]],
    message: str,
    author: str,
    source: dict[str, str],
) -> None:
    files, meta, extra = version
    read_back = stored(files, meta, extra, message=message, author=author or "x", source=source)
    assert content_of_manifest(read_back) == content_of("directory", reversed(files), meta, extra)
    sized = [(f.path, f.size) for f in files]
    assert same_listing(read_back, "directory", sized, meta, extra)


@SETTINGS
@given(versions(), st.data())
def test_any_change_of_a_file_metadata_or_section_differs(
    version: tuple[list[FileEntry], dict[str, str], dict[str, Any]], data: st.DataObject
) -> None:
    files, meta, extra = version
    read_back = content_of_manifest(stored(files, meta, extra))
    which = data.draw(st.sampled_from(["sha", "size", "path", "meta", "section", "kind"]))
    index = data.draw(st.integers(0, len(files) - 1))
    entry = files[index]
    if which == "sha":
        other = data.draw(digests.filter(lambda d: d != entry.sha256))
        files = [*files[:index], FileEntry(entry.path, entry.size, other), *files[index + 1 :]]
    elif which == "size":
        files = [*files[:index], FileEntry(entry.path, entry.size + 1, entry.sha256),
                 *files[index + 1 :]]  # fmt: skip
    elif which == "path":
        files = [*files[:index], FileEntry(entry.path + "x", entry.size, entry.sha256),
                 *files[index + 1 :]]  # fmt: skip
    elif which == "meta":
        meta = {**meta, "changed-key": data.draw(text)} if "changed-key" not in meta else {}
    elif which == "section":
        extra = check_sections({**extra, "model": {"was": extra.get("model"), "now": 1}})
    kind = "file" if which == "kind" else "directory"
    assert content_of(kind, files, meta, extra) != read_back
