"""diff_versions (pure) and read_card (through a real store): files added, removed, changed,
moved and unchanged; each section's lines; the card read bounded and verified."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from tests.integration.test_s3_shelf import make_tree

from modelshelf import Shelf
from modelshelf.errors import IntegrityError, InvalidInputError
from modelshelf.manifest import FileEntry, Manifest
from modelshelf.shelf.card import MAX_CARD_BYTES, read_card
from modelshelf.shelf.diff import SECTIONS, FileChange, FileMove, FileSide, diff_versions


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def version(
    number: str,
    files: dict[str, tuple[int, str]],
    *,
    message: str = "",
    metadata: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Manifest:
    entries = tuple(FileEntry(p, size, sha(body)) for p, (size, body) in sorted(files.items()))
    return Manifest("nlp/m", number, "directory", entries, "2026-12-08T00:00:00Z", "ann@box",
                    message, {}, metadata or {}, extra or {})  # fmt: skip


def test_files_added_removed_changed_moved_and_unchanged() -> None:
    a = version(
        "1.0", {"w.bin": (4, "w1"), "tok.txt": (2, "t"), "old/x": (3, "x"), "gone": (1, "g")}
    )
    b = version("1.1", {"w.bin": (6, "w2"), "tok.txt": (2, "t"), "new/x": (3, "x"), "n": (5, "n")})
    found = diff_versions(a, b)
    assert (found.a, found.b) == ("nlp/m:1.0", "nlp/m:1.1")
    assert found.added == [FileSide("n", 5, sha("n"))]
    assert found.removed == [FileSide("gone", 1, sha("g"))]
    assert found.changed == [FileChange("w.bin", 4, 6, sha("w1"), sha("w2"))]
    assert found.changed[0].size_delta == 2
    assert found.moved == [FileMove("old/x", "new/x", 3, sha("x"))]
    assert found.unchanged == 1
    assert (found.size_a, found.size_b) == (10, 16)
    assert [s.name for s in found.sections] == list(SECTIONS)
    assert not any(s.lines for s in found.sections) and not found.same


def test_a_copy_beside_a_kept_file_is_added_not_moved() -> None:
    a = version("1.0", {"a": (1, "same")})
    b = version("1.1", {"a": (1, "same"), "b": (1, "same")})
    found = diff_versions(a, b)
    assert found.moved == [] and [f.path for f in found.added] == ["b"] and found.unchanged == 1


def test_two_copies_moved_to_one_path_are_one_move_and_one_removal() -> None:
    a = version("1.0", {"x1": (1, "same"), "x2": (1, "same")})
    b = version("1.1", {"y": (1, "same")})
    found = diff_versions(a, b)
    assert found.moved == [FileMove("x1", "y", 1, sha("same"))]
    assert [f.path for f in found.removed] == ["x2"] and found.added == []


def test_a_version_against_itself_is_the_same() -> None:
    a = version("1.0", {"a": (1, "a"), "b/c": (2, "c")}, message="m", metadata={"k": "v"})
    found = diff_versions(a, a, "# card", "# card")
    assert found.same and found.unchanged == 2
    assert found.to_json()["sections"] == [{"name": n, "lines": []} for n in SECTIONS]


def test_sections_differ_line_by_line_as_sorted_json() -> None:
    model_a = {"engine": "torch", "runner": "a:B", "requirements": ["torch>=2"],
               "signature": {"inputs": [{"name": "x", "dtype": "float32"}]}}  # fmt: skip
    model_b = {**model_a, "engine": "onnx", "requirements": ["torch>=2", "numpy"]}
    a = version("1.0", {"w": (1, "w")}, message="first\nline", metadata={"b": "1", "a": "1"},
                extra={"model": model_a})  # fmt: skip
    b = version("1.1", {"w": (1, "w")}, message="first\nline", metadata={"a": "1", "b": "2"},
                extra={"model": model_b})  # fmt: skip
    found = diff_versions(a, b, "# Card\nold", "# Card\nnew")
    lines = {s.name: s.lines for s in found.sections}
    assert lines["metadata"] == [
        "--- nlp/m:1.0 metadata", "+++ nlp/m:1.1 metadata", "@@ -1,4 +1,4 @@",
        " {", '   "a": "1",', '-  "b": "1"', '+  "b": "2"', " }",
    ]  # fmt: skip
    assert '-  "engine": "torch",' in lines["model"] and '+  "engine": "onnx",' in lines["model"]
    assert not any("requirements" in line for line in lines["model"])  # its own section
    assert '+  "numpy",' in lines["requirements"] or '+  "numpy"' in lines["requirements"]
    assert lines["signature"] == [] and lines["message"] == []
    assert lines["card"][-2:] == ["-old", "+new"]


def test_a_section_only_one_side_has_is_all_added() -> None:
    a = version("1.0", {"w": (1, "w")})
    b = version("1.1", {"w": (1, "w")}, message="why", extra={"model": {"engine": "torch"}})
    lines = {s.name: s.lines for s in diff_versions(a, b, None, "# c").sections}
    assert lines["message"][-1] == "+why" and lines["card"][-1] == "+# c"
    assert lines["model"][2:] == ["@@ -0,0 +1,3 @@", "+{", '+  "engine": "torch"', "+}"]


def test_to_json_names_every_field() -> None:
    a = version("1.0", {"w": (4, "w1")})
    b = version("1.1", {"w": (6, "w2")})
    data = diff_versions(a, b).to_json()
    assert set(data) == {"a", "b", "added", "removed", "changed", "moved", "unchanged",
                         "size_a", "size_b", "sections"}  # fmt: skip
    assert data["changed"] == [{"path": "w", "size_a": 4, "size_b": 6, "sha256_a": sha("w1"),
                                "sha256_b": sha("w2"), "size_delta": 2}]  # fmt: skip


# -- cards, through a real store -----------------------------------------------------------------
@pytest.fixture
def shelf(tmp_path: Path) -> Shelf:
    return Shelf((tmp_path / "store").as_uri(), cache_dir=tmp_path / "cache")


def push(shelf: Shelf, tmp_path: Path, files: dict[str, bytes]) -> Manifest:
    folder = tmp_path / f"v{len(list(tmp_path.glob('v*')))}"
    return shelf.push(make_tree(folder, files), "nlp/m", progress=False)


def test_model_card_comes_before_readme_and_none_is_none(shelf: Shelf, tmp_path: Path) -> None:
    both = push(shelf, tmp_path, {"README.md": b"readme", "MODEL_CARD.md": b"card", "w": b"w"})
    assert read_card(shelf.store, both) == "card"
    readme = push(shelf, tmp_path, {"README.md": b"# R\n", "sub/MODEL_CARD.md": b"deep"})
    assert read_card(shelf.store, readme) == "# R\n"  # only the version's root counts
    assert read_card(shelf.store, push(shelf, tmp_path, {"w": b"w"})) is None


def test_a_card_not_utf8_is_shown_with_replacements(shelf: Shelf, tmp_path: Path) -> None:
    manifest = push(shelf, tmp_path, {"README.md": b"caf\xe9 \xff ok"})
    assert read_card(shelf.store, manifest) == "caf\ufffd \ufffd ok"


def test_a_card_over_the_bound_is_not_read(shelf: Shelf, tmp_path: Path) -> None:
    manifest = push(shelf, tmp_path, {"README.md": b"x" * (MAX_CARD_BYTES + 1)})
    text = read_card(shelf.store, manifest)
    assert text is not None and "more than the 256 KiB" in text and "x" * 100 not in text
    assert "modelshelf pull nlp/m:1.0/README.md" in text


def test_a_tampered_card_is_refused(shelf: Shelf, tmp_path: Path) -> None:
    manifest = push(shelf, tmp_path, {"README.md": b"# honest card"})
    entry = manifest.files[0]
    shelf.store.backend.put(shelf.store.blob_key(entry.sha256), b"# forged card")  # type: ignore[attr-defined]
    with pytest.raises(IntegrityError):
        read_card(shelf.store, manifest)


def test_shelf_diff_reads_both_cards(shelf: Shelf, tmp_path: Path) -> None:
    push(shelf, tmp_path, {"README.md": b"# M\nold\n", "w": b"1"})
    push(shelf, tmp_path, {"README.md": b"# M\nnew\n", "w": b"1"})
    found = shelf.diff("nlp/m:1.0", "nlp/m@latest")
    assert [c.path for c in found.changed] == ["README.md"] and found.unchanged == 1
    assert {s.name: s.lines for s in found.sections}["card"][-2:] == ["-old", "+new"]
    with pytest.raises(InvalidInputError, match="whole versions"):
        shelf.diff("nlp/m:1.0/w", "nlp/m:1.1")
