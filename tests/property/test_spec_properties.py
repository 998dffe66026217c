"""Hypothesis properties of modelshelf.spec: round trips, total error handling, version laws."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelshelf.errors import InvalidSpecError
from modelshelf.spec import (
    LATEST,
    NAME_SEGMENT_RE,
    RESERVED_SEGMENTS,
    AssetSpec,
    Version,
    latest_matching,
    parse_spec,
    validate_alias,
    validate_name,
)

pytestmark = pytest.mark.property

SETTINGS = settings(max_examples=300, deadline=None)

# An independent model of the grammar's leaves, to check the hand-written scanners against.
VERSION_MODEL = re.compile(r"(0|[1-9][0-9]{0,17})(\.(0|[1-9][0-9]{0,17})){0,5}")
ALIAS_MODEL = re.compile(r"[a-z][a-z0-9._-]{0,99}")

segments = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True).filter(
    lambda seg: seg not in RESERVED_SEGMENTS
)
names = st.lists(segments, min_size=1, max_size=5).map("/".join).filter(lambda n: len(n) <= 200)
components = st.one_of(st.integers(0, 12), st.integers(0, 10**18 - 1))
versions = st.lists(components, min_size=1, max_size=6).map(lambda parts: Version(tuple(parts)))
aliases = st.one_of(st.just(LATEST), st.from_regex(r"[a-z][a-z0-9._-]{0,30}", fullmatch=True))
path_parts = st.text(
    st.characters(exclude_categories=("Cc", "Cs"), exclude_characters="/\\"),
    min_size=1,
    max_size=12,
).filter(lambda p: p not in (".", "..") and not p[0].isspace() and not p[-1].isspace())
paths = st.lists(path_parts, min_size=1, max_size=4).map("/".join)
specs = st.one_of(
    st.builds(AssetSpec, names),
    st.builds(AssetSpec, names, versions, st.none(), st.none() | paths),
    st.builds(AssetSpec, names, st.none(), aliases, st.none() | paths),
)
# Text made mostly of the characters the grammar cares about, to reach the deep branches.
grammar_chars = st.sampled_from(list("ab09.-_:@/ \\A\x00\n")) | st.characters()
spec_like_text = st.text(grammar_chars, max_size=30)


@SETTINGS
@given(specs)
def test_round_trip(spec: AssetSpec) -> None:
    text = str(spec)
    assert parse_spec(text) == spec
    assert str(parse_spec(text)) == text


@SETTINGS
@given(specs)
def test_one_trailing_slash_is_dropped_after_a_ref(spec: AssetSpec) -> None:
    if spec.version is None and spec.alias is None:
        with pytest.raises(InvalidSpecError):
            parse_spec(f"{spec}/")
    else:
        assert parse_spec(f"{spec}/") == spec
        with pytest.raises(InvalidSpecError):
            parse_spec(f"{spec}//")


def check_any_text(text: str) -> None:
    try:
        spec = parse_spec(text)
    except InvalidSpecError as exc:
        assert exc.text == text
        assert exc.position is not None
        assert 0 <= exc.position <= len(text)
    else:
        canonical = str(spec)
        assert parse_spec(canonical) == spec
        # The only non-canonical text accepted is one trailing '/' after a ref or sub path.
        assert text in (canonical, f"{canonical}/")


@SETTINGS
@given(st.text())
def test_arbitrary_text_parses_or_raises_invalid_spec(text: str) -> None:
    check_any_text(text)


@SETTINGS
@given(spec_like_text)
def test_spec_like_text_parses_or_raises_invalid_spec(text: str) -> None:
    check_any_text(text)


@SETTINGS
@given(specs, st.integers(0, 60), st.sampled_from(list(" \t:@/\\.\x00A")))
def test_mutated_specs_parse_or_raise_invalid_spec(spec: AssetSpec, at: int, ch: str) -> None:
    text = str(spec)
    at = min(at, len(text))
    check_any_text(text[:at] + ch + text[at:])
    check_any_text(text[:at] + text[at + 1 :])


@SETTINGS
@given(st.text(st.sampled_from(list("0123456789.a -")) | st.characters(), max_size=25))
def test_version_parse_agrees_with_model(text: str) -> None:
    try:
        version = Version.parse(text)
    except InvalidSpecError as exc:
        assert VERSION_MODEL.fullmatch(text) is None
        assert exc.position is not None
        assert 0 <= exc.position <= len(text)
    else:
        assert VERSION_MODEL.fullmatch(text) is not None
        assert str(version) == text


@SETTINGS
@given(st.text(st.sampled_from(list("az09._-/A@:")) | st.characters(), max_size=40))
def test_validate_name_agrees_with_model(text: str) -> None:
    valid = 0 < len(text) <= 200 and all(
        NAME_SEGMENT_RE.fullmatch(s) and s not in RESERVED_SEGMENTS for s in text.split("/")
    )
    try:
        assert validate_name(text) == text
    except InvalidSpecError:
        assert not valid
    else:
        assert valid


@SETTINGS
@given(st.text(st.sampled_from(list("az09._-/A@:")) | st.characters(), max_size=40))
def test_validate_alias_agrees_with_model(text: str) -> None:
    try:
        assert validate_alias(text) == text
    except InvalidSpecError:
        assert ALIAS_MODEL.fullmatch(text) is None
    else:
        assert ALIAS_MODEL.fullmatch(text) is not None


@SETTINGS
@given(versions)
def test_version_text_round_trip(version: Version) -> None:
    assert Version.parse(str(version)) == version
    assert version.depth == len(version.parts)


@SETTINGS
@given(versions, versions)
def test_version_ordering_agrees_with_tuples(a: Version, b: Version) -> None:
    assert (a < b) == (a.parts < b.parts)
    assert (a <= b) == (a.parts <= b.parts)
    assert (a > b) == (a.parts > b.parts)
    assert (a >= b) == (a.parts >= b.parts)
    assert (a == b) == (a.parts == b.parts)
    if a == b:
        assert hash(a) == hash(b)


@SETTINGS
@given(st.lists(versions, max_size=10))
def test_sorting_versions_sorts_their_tuples(vs: list[Version]) -> None:
    assert [x.parts for x in sorted(vs)] == sorted(x.parts for x in vs)


@SETTINGS
@given(versions, versions)
def test_matches_is_a_prefix_relation(a: Version, b: Version) -> None:
    matched = a.matches(b)
    assert matched == (b.parts[: a.depth] == a.parts)
    # In text: '1' matches '1' and '1.x' but never '10' or '10.x'.
    assert matched == (str(b) == str(a) or str(b).startswith(f"{a}."))
    if matched:
        assert a <= b
        assert b.matches(a) == (a == b)


@SETTINGS
@given(versions, st.data())
def test_every_prefix_matches(version: Version, data: st.DataObject) -> None:
    k = data.draw(st.integers(1, version.depth))
    prefix = Version(version.parts[:k])
    assert prefix.matches(version)
    assert version.matches(version)


@SETTINGS
@given(versions, versions, versions)
def test_matches_is_transitive(a: Version, b: Version, c: Version) -> None:
    if a.matches(b) and b.matches(c):
        assert a.matches(c)


@SETTINGS
@given(st.lists(versions, max_size=10), st.none() | versions)
def test_latest_matching_is_the_greatest_match(vs: list[Version], wanted: Version | None) -> None:
    found = latest_matching(vs, wanted)
    matching = [x for x in vs if wanted is None or wanted.matches(x)]
    if not matching:
        assert found is None
    else:
        assert found is not None
        assert found in matching
        assert all(x <= found for x in matching)


@SETTINGS
@given(versions.filter(lambda x: x.parts[0] < 10**18 - 1 and x.parts[-1] < 10**18 - 1))
def test_next_versions_are_greater_and_keep_depth(version: Version) -> None:
    minor, major = version.next_minor(), version.next_major()
    assert minor > version
    assert major > version
    assert major >= minor
    assert minor.depth == major.depth == version.depth
    if version.depth > 1:
        assert Version(version.parts[:-1]).matches(minor)
    assert all(p == 0 for p in major.parts[1:])
