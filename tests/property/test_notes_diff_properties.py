"""Hypothesis properties of the notes and the diff: labels written as ``KEY[=VALUE]`` parse back;
any record or registry answer is a checked record or refused; a diff of a version with itself
is empty, and swapping the two versions swaps added and removed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelshelf import trust
from modelshelf.errors import InvalidInputError, UntrustedStoreDataError
from modelshelf.manifest import FileEntry, Manifest
from modelshelf.shelf.diff import diff_versions
from modelshelf.shelf.labels import parse_label, parse_labels
from modelshelf.store.http import HttpStore

pytestmark = pytest.mark.property

SETTINGS = settings(max_examples=300, deadline=None)
KEYS = st.from_regex(trust.LABEL_KEY, fullmatch=True)
# One-line values without spaces at either end (parse_label drops those).
VALUES = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=trust.MAX_LABEL_VALUE
).map(str.strip)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=70),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)


@SETTINGS
@given(KEYS, VALUES)
def test_key_value_parses_back(key: str, value: str) -> None:
    assert parse_label(f"{key}={value}") == (key, value)
    assert parse_label(f" {key} = {value} ") == (key, value)
    assert parse_label(key) == (key, "")


@SETTINGS
@given(st.text(max_size=400))
def test_any_text_is_a_checked_label_or_refused(text: str) -> None:
    try:
        key, value = parse_label(text)
    except InvalidInputError as exc:
        assert "\n" not in str(exc).replace("\\n", "")  # one line, the input escaped
        return
    assert trust.LABEL_KEY.fullmatch(key)
    assert trust.check_text(value, "value", limit=trust.MAX_LABEL_VALUE) == value


@SETTINGS
@given(st.dictionaries(KEYS, VALUES, max_size=trust.MAX_LABELS))
def test_labels_written_then_parsed_are_the_same(labels: dict[str, str]) -> None:
    texts = [f"{k}={v}" if v else k for k, v in labels.items()]
    assert parse_labels(texts) == labels
    assert trust.check_labels(labels) == dict(sorted(labels.items()))


def _record(labels: Any, description: Any, seq: Any = 1) -> dict[str, Any]:
    return {"seq": seq, "labels": labels, "description": description, "who": "w", "host": "h",
            "when": "2026-12-08T00:00:00Z"}  # fmt: skip


@SETTINGS
@given(
    st.one_of(JSON, st.dictionaries(st.text(max_size=70), JSON, max_size=70)),
    st.one_of(JSON, st.text(max_size=200)),
    st.one_of(st.just(1), JSON),
)
def test_any_record_is_checked_or_refused(labels: Any, description: Any, seq: Any) -> None:
    for data in (_record(labels, description, seq), labels):
        try:
            fields = trust.check_notes_record(data, seq=1)
        except ValueError as exc:
            assert "\n" not in str(exc)
            continue
        assert len(fields["labels"]) <= trust.MAX_LABELS
        assert all(trust.LABEL_KEY.fullmatch(k) for k in fields["labels"])
        assert trust.check_description(fields["description"]) == fields["description"]


@SETTINGS
@given(st.one_of(JSON, st.builds(_record, JSON, JSON, JSON)))
def test_a_registry_answer_is_a_checked_record_or_refused(answer: Any) -> None:
    store = HttpStore.__new__(HttpStore)
    store.url = "https://registry.example"
    for written in (False, True):
        try:
            notes = store._notes_record(answer, written=written)
        except UntrustedStoreDataError as exc:
            assert "\n" not in str(exc) and "registry.example" in str(exc)
            continue
        assert notes.seq >= (1 if written else 0)
        assert trust.check_notes_record(notes.to_dict(), seq=notes.seq) == notes.to_dict()


# -- diff ------------------------------------------------------------------------------------------
PATHS = ["a.bin", "b.bin", "c/d.txt", "c/e.txt", "f", "g/h/i"]
DIGESTS = [f"{d}" * 64 for d in "0123"]
FILES = st.dictionaries(st.sampled_from(PATHS), st.sampled_from(DIGESTS), max_size=len(PATHS))
TEXT = st.text(max_size=30)
META = st.dictionaries(st.sampled_from(["k", "team", "x"]), TEXT, max_size=3)
MODEL = st.none() | st.fixed_dictionaries(
    {"engine": st.sampled_from(["torch", "onnx"])},
    optional={"requirements": st.lists(st.sampled_from(["torch", "numpy"]), max_size=2),
              "signature": st.dictionaries(st.sampled_from(["inputs", "outputs"]), TEXT)},
)  # fmt: skip


@st.composite
def versions(draw: st.DrawFn, number: str = "1.0") -> tuple[Manifest, str | None]:
    files = draw(FILES)
    entries = tuple(FileEntry(p, int(d[0]) * 10, d) for p, d in sorted(files.items()))
    model = draw(MODEL)
    extra = {} if model is None else {"model": model}
    manifest = Manifest("m", number, "directory", entries, "2026-12-08T00:00:00Z", "a@b",
                        draw(TEXT), {}, draw(META), extra)  # fmt: skip
    return manifest, draw(st.none() | TEXT)


@SETTINGS
@given(versions())
def test_a_version_against_itself_is_empty(side: tuple[Manifest, str | None]) -> None:
    manifest, card = side
    found = diff_versions(manifest, manifest, card, card)
    assert found.same and found.unchanged == len(manifest.files)
    assert found.size_a == found.size_b == manifest.size


@SETTINGS
@given(versions("1.0"), versions("1.1"))
def test_swapping_the_versions_swaps_the_diff(
    one: tuple[Manifest, str | None], two: tuple[Manifest, str | None]
) -> None:
    (a, card_a), (b, card_b) = one, two
    ab, ba = diff_versions(a, b, card_a, card_b), diff_versions(b, a, card_b, card_a)
    assert ab.added == ba.removed and ab.removed == ba.added
    assert [(c.path, c.size_b, c.sha256_b) for c in ab.changed] == [
        (c.path, c.size_a, c.sha256_a) for c in ba.changed
    ]
    assert sorted((m.old_path, m.new_path) for m in ab.moved) == sorted(
        (m.new_path, m.old_path) for m in ba.moved
    )
    assert ab.unchanged == ba.unchanged
    assert [bool(s.lines) for s in ab.sections] == [bool(s.lines) for s in ba.sections]
    # every path is accounted for once
    common = {f.path for f in a.files} & {f.path for f in b.files}
    assert len(ab.changed) + ab.unchanged == len(common)
    assert len(ab.removed) + len(ab.moved) == len(a.files) - len(common)
    assert len(ab.added) + len(ab.moved) == len(b.files) - len(common)
    assert all(m.sha256 in {f.sha256 for f in b.files} for m in ab.moved)
    json.dumps(ab.to_json())  # always JSON
