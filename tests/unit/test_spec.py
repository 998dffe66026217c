"""Unit tests for modelshelf.spec: success and failure tables, versions, aliases, helpers."""

from __future__ import annotations

import pytest

from modelshelf.errors import InvalidSpecError
from modelshelf.spec import (
    LATEST,
    NAME_SEGMENT_RE,
    AssetSpec,
    Version,
    latest_matching,
    parse_spec,
    parse_version,
    validate_alias,
    validate_name,
)


def v(text: str) -> Version:
    return Version.parse(text)


# (input, expected, canonical text)
SPEC_OK: list[tuple[str, AssetSpec, str]] = [
    ("sentiment", AssetSpec("sentiment"), "sentiment"),
    ("nlp/sentiment", AssetSpec("nlp/sentiment"), "nlp/sentiment"),
    ("nlp/sentiment/tokenizer", AssetSpec("nlp/sentiment/tokenizer"), "nlp/sentiment/tokenizer"),
    ("0", AssetSpec("0"), "0"),
    ("a.b_c-d/9x", AssetSpec("a.b_c-d/9x"), "a.b_c-d/9x"),
    ("nlp/sentiment:1", AssetSpec("nlp/sentiment", v("1")), "nlp/sentiment:1"),
    ("nlp/sentiment:1.3", AssetSpec("nlp/sentiment", v("1.3")), "nlp/sentiment:1.3"),
    ("x:0.0.0", AssetSpec("x", v("0.0.0")), "x:0.0.0"),
    ("x:1.2.3.4.5.6", AssetSpec("x", v("1.2.3.4.5.6")), "x:1.2.3.4.5.6"),
    ("x:10.20", AssetSpec("x", Version((10, 20))), "x:10.20"),
    ("x:" + "9" * 18, AssetSpec("x", Version((10**18 - 1,))), "x:" + "9" * 18),
    ("sentiment@production", AssetSpec("sentiment", alias="production"), "sentiment@production"),
    ("sentiment@latest", AssetSpec("sentiment", alias=LATEST), "sentiment@latest"),
    ("x@a.b_c-9", AssetSpec("x", alias="a.b_c-9"), "x@a.b_c-9"),
    (
        "nlp/sentiment:1.3/tokenizer/vocab.txt",
        AssetSpec("nlp/sentiment", v("1.3"), path="tokenizer/vocab.txt"),
        "nlp/sentiment:1.3/tokenizer/vocab.txt",
    ),
    (
        "nlp/sentiment@latest/tokenizer",
        AssetSpec("nlp/sentiment", alias="latest", path="tokenizer"),
        "nlp/sentiment@latest/tokenizer",
    ),
    ("x:1/dir/", AssetSpec("x", v("1"), path="dir"), "x:1/dir"),
    ("x:1/", AssetSpec("x", v("1")), "x:1"),
    ("x@prod/", AssetSpec("x", alias="prod"), "x@prod"),
    ("x:1/a b/c d", AssetSpec("x", v("1"), path="a b/c d"), "x:1/a b/c d"),
    ("x:1/a:b@c", AssetSpec("x", v("1"), path="a:b@c"), "x:1/a:b@c"),
    ("x:1/.hidden/...", AssetSpec("x", v("1"), path=".hidden/..."), "x:1/.hidden/..."),
    (
        "x:1/Ünïcode/文件.bin",
        AssetSpec("x", v("1"), path="Ünïcode/文件.bin"),
        "x:1/Ünïcode/文件.bin",
    ),
    ("x:1/UPPER.txt", AssetSpec("x", v("1"), path="UPPER.txt"), "x:1/UPPER.txt"),
    ("a" * 200, AssetSpec("a" * 200), "a" * 200),
    ("x@a" + "b" * 99, AssetSpec("x", alias="a" + "b" * 99), "x@a" + "b" * 99),
]

# (input, substring of the error message)
SPEC_BAD: list[tuple[str, str]] = [
    ("", "empty"),
    (" x", "leading whitespace"),
    ("x ", "trailing whitespace"),
    ("x:1\n", "trailing whitespace"),
    ("\tx", "leading whitespace"),
    ("Sentiment", "did you mean 'sentiment'?"),
    ("NLP/Sentiment:1.3", "did you mean 'nlp/sentiment:1.3'?"),
    ("x@Production", "did you mean 'x@production'?"),
    ("/x", "cannot start or end with '/'"),
    ("x/", "cannot start or end with '/'"),
    ("a//b", "contain '//'"),
    ("x/:1", "cannot start or end with '/'"),
    ("_x", "must start with a-z or 0-9"),
    ("a/.b", "must start with a-z or 0-9"),
    ("a/../b", "must start with a-z or 0-9"),
    ("a b", "' ' is not allowed in an asset name"),
    ("a\\b", "is not allowed in an asset name"),
    ("a" * 201, "at most 200 characters"),
    (":1", "asset name cannot be empty"),
    ("@prod", "asset name cannot be empty"),
    ("x:", "version is empty"),
    ("x:/a", "version is empty"),
    ("x:01", "no leading zeros"),
    ("x:1.00", "no leading zeros"),
    ("x:1.", "empty version component"),
    ("x:.1", "empty version component"),
    ("x:1..2", "empty version component"),
    ("x:1.2.3.4.5.6.7", "at most 6 components"),
    ("x:" + "1" * 19, "at most 18 digits"),
    ("x:-1", "'-' is not allowed in a version"),
    ("x:+1", "'+' is not allowed in a version"),
    ("x:1 .2", "' ' is not allowed in a version"),
    ("x:1_0", "'_' is not allowed in a version"),
    ("x:\u0661", "is not allowed in a version"),  # ARABIC-INDIC DIGIT ONE
    ("x:v1", "write an alias after '@'"),
    ("x:latest", "write an alias after '@'"),
    ("x:1@prod", "not both"),
    ("x@prod:1", "not both"),
    ("x:1:2", "':' is not allowed in a version"),
    ("x@", "alias cannot be empty"),
    ("x@/a", "alias cannot be empty"),
    ("x@1.3", "alias must start with a-z"),
    ("x@-a", "alias must start with a-z"),
    ("x@a@b", "'@' is not allowed in an alias"),
    ("x@a" + "b" * 100, "at most 100 characters"),
    ("x:1//", "empty sub path segment"),
    ("x:1//a", "empty sub path segment"),
    ("x:1/a//", "empty sub path segment"),
    ("x:1/a//b", "empty sub path segment"),
    ("x:1/.", "'.' is not allowed as a sub path segment"),
    ("x:1/a/../b", "'..' is not allowed as a sub path segment"),
    ("x:1/a\\b", "use '/' rather than '\\'"),
    ("x:1/a\x00b", "control or surrogate character"),
    ("x:1/a\x7fb", "control or surrogate character"),
    ("x:1/a\ud800b", "surrogate character"),
    ("x:1/ a", "cannot start with whitespace"),
    ("x:1/a /b", "cannot end with whitespace"),
    ("x:1/a /", "cannot end with whitespace"),
]

# (input, 0-based column of the first bad character)
SPEC_BAD_POSITION: list[tuple[str, int]] = [
    ("", 0),
    ("x  ", 1),
    ("Xy", 0),
    ("xY", 1),
    ("a//b", 2),
    ("x/", 1),
    ("ab cd:1", 2),
    ("x:1..2", 4),
    ("x:1.", 3),
    ("x:01", 2),
    ("x:1.02", 4),
    ("x:1.2.3.4.5.6.7", 13),
    ("x:" + "1" * 19, 20),
    ("x:1@p", 3),
    ("x@ab:1", 4),
    ("x@" + "a" * 101, 102),
    ("a" * 201, 200),
    ("x:1//a", 4),
    ("x:1/a/./b", 6),
    ("x:1/a\\b", 5),
    ("x:1/ab /c", 6),
]


@pytest.mark.parametrize(("text", "expected", "canonical"), SPEC_OK)
def test_parse_spec_ok(text: str, expected: AssetSpec, canonical: str) -> None:
    spec = parse_spec(text)
    assert spec == expected
    assert str(spec) == canonical
    assert parse_spec(canonical) == spec


@pytest.mark.parametrize(("text", "message"), SPEC_BAD)
def test_parse_spec_bad(text: str, message: str) -> None:
    with pytest.raises(InvalidSpecError) as info:
        parse_spec(text)
    assert message in str(info.value)
    assert info.value.text == text
    assert info.value.position is not None
    assert 0 <= info.value.position <= len(text)


@pytest.mark.parametrize(("text", "position"), SPEC_BAD_POSITION)
def test_parse_spec_error_position(text: str, position: int) -> None:
    with pytest.raises(InvalidSpecError) as info:
        parse_spec(text)
    assert info.value.position == position


def test_error_message_points_at_the_column() -> None:
    with pytest.raises(InvalidSpecError) as info:
        parse_spec("nlp/sentiment:1..2")
    lines = str(info.value).splitlines()
    text_line = next(line for line in lines if line.strip() == "nlp/sentiment:1..2")
    caret_line = lines[lines.index(text_line) + 1]
    assert caret_line.rstrip().endswith("^")
    assert caret_line.index("^") == text_line.index("nlp") + 16


def test_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="lower-case"):
        parse_spec("Sentiment")


def test_parse_spec_rejects_non_str() -> None:
    with pytest.raises(TypeError):
        parse_spec(b"x:1")  # type: ignore[arg-type]


# --- names and aliases -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "0", "a/b/c", "nlp/sentiment", "x.y_z-1", "a" * 200])
def test_validate_name_ok(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    ("name", "position"),
    [
        ("", 0),
        ("A", 0),
        ("a/B", 2),
        ("a/", 1),
        ("a:b", 1),
        ("a@b", 1),
        (".a", 0),
        ("a" * 201, 200),
        ("versions", 0),
        ("a/aliases/b", 2),
        ("nlp/log", 4),
    ],
)
def test_validate_name_bad(name: str, position: int) -> None:
    with pytest.raises(InvalidSpecError) as info:
        validate_name(name)
    assert info.value.position == position


def test_name_segment_regex() -> None:
    assert NAME_SEGMENT_RE.fullmatch("a.b_c-9")
    assert not NAME_SEGMENT_RE.fullmatch(".")
    assert not NAME_SEGMENT_RE.fullmatch("..")
    assert not NAME_SEGMENT_RE.fullmatch("A")


@pytest.mark.parametrize("alias", ["production", "latest", "p", "a1.b_c-d", "a" * 100])
def test_validate_alias_ok(alias: str) -> None:
    assert validate_alias(alias) == alias


@pytest.mark.parametrize(
    ("alias", "message"),
    [
        ("", "empty"),
        ("1", "must start with a-z"),
        ("1.3", "must start with a-z"),
        ("_x", "must start with a-z"),
        ("Prod", "did you mean 'prod'?"),
        ("a/b", "'/' is not allowed in an alias"),
        ("a" * 101, "at most 100"),
    ],
)
def test_validate_alias_bad(alias: str, message: str) -> None:
    with pytest.raises(InvalidSpecError, match=message.replace(".", r"\.").replace("?", r"\?")):
        validate_alias(alias)


# --- versions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("0", (0,)),
        ("1", (1,)),
        ("1.3", (1, 3)),
        ("10.0.1", (10, 0, 1)),
        ("1.2.3.4.5.6", (1, 2, 3, 4, 5, 6)),
    ],
)
def test_version_parse_ok(text: str, parts: tuple[int, ...]) -> None:
    version = Version.parse(text)
    assert version.parts == parts
    assert str(version) == text
    assert version.depth == len(parts)
    assert parse_version(text) == version


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("", 0),
        ("a", 0),
        ("1.", 1),
        (".1", 0),
        ("1..1", 2),
        ("00", 0),
        ("1.01", 2),
        (" 1", 0),
        ("1 ", 1),
        ("-1", 0),
        ("1.2.3.4.5.6.7", 11),
        ("1e3", 1),
        ("1,2", 1),
    ],
)
def test_version_parse_bad(text: str, position: int) -> None:
    with pytest.raises(InvalidSpecError) as info:
        Version.parse(text)
    assert info.value.position == position


@pytest.mark.parametrize("parts", [(), (-1,), (10**18,), (1, 2, 3, 4, 5, 6, 7)])
def test_version_constructor_rejects_bad_values(parts: tuple[int, ...]) -> None:
    with pytest.raises(InvalidSpecError):
        Version(parts)


@pytest.mark.parametrize("parts", [[1, 2], (True,), (1.0,), ("1",)])
def test_version_constructor_rejects_bad_types(parts: object) -> None:
    with pytest.raises(TypeError):
        Version(parts)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("smaller", "larger"),
    [("1.9", "1.10"), ("1.0", "1.0.1"), ("1", "1.0"), ("0.9", "1"), ("2", "10"), ("1.99", "2.0")],
)
def test_version_ordering(smaller: str, larger: str) -> None:
    assert v(smaller) < v(larger)
    assert v(larger) > v(smaller)
    assert v(smaller) <= v(larger)
    assert v(larger) >= v(smaller)
    assert v(smaller) != v(larger)


def test_version_sorting_is_numeric() -> None:
    texts = ["1.10", "1.9", "10.0", "1.0.1", "1.0", "2", "1"]
    assert [str(x) for x in sorted(map(v, texts))] == [
        "1",
        "1.0",
        "1.0.1",
        "1.9",
        "1.10",
        "2",
        "10.0",
    ]


def test_version_compared_with_other_types() -> None:
    assert v("1") != "1"  # type: ignore[comparison-overlap]
    with pytest.raises(TypeError):
        _ = v("1") < "2"


def test_version_is_hashable() -> None:
    assert len({v("1.0"), v("1.0"), Version((1, 0)), v("1")}) == 2


@pytest.mark.parametrize(
    ("wanted", "candidate", "expected"),
    [
        ("1", "1.0", True),
        ("1", "1.9", True),
        ("1", "1.10", True),
        ("1", "1", True),
        ("1", "10.0", False),
        ("1", "10", False),
        ("1", "11.1", False),
        ("1.0", "1.0", True),
        ("1.0", "1.0.3", True),
        ("1.0", "1.1", False),
        ("1.0", "1", False),
        ("1.1", "1.10", False),
        ("2", "1.0", False),
    ],
)
def test_version_matches(wanted: str, candidate: str, expected: bool) -> None:
    assert v(wanted).matches(v(candidate)) is expected


@pytest.mark.parametrize(
    ("text", "minor", "major"),
    [("1.3", "1.4", "2.0"), ("1", "2", "2"), ("0.9", "0.10", "1.0"), ("1.2.3", "1.2.4", "2.0.0")],
)
def test_next_minor_and_major(text: str, minor: str, major: str) -> None:
    assert v(text).next_minor() == v(minor)
    assert v(text).next_major() == v(major)


def test_next_minor_past_the_limit_is_an_error() -> None:
    with pytest.raises(InvalidSpecError):
        Version((10**18 - 1,)).next_minor()


def test_latest_matching() -> None:
    versions = [v(t) for t in ["1.0", "1.9", "1.10", "10.0", "2.0", "1.10.1"]]
    assert latest_matching(versions, None) == v("10.0")
    assert latest_matching(versions, v("1")) == v("1.10.1")
    assert latest_matching(versions, v("1.10")) == v("1.10.1")
    assert latest_matching(versions, v("1.9")) == v("1.9")
    assert latest_matching(versions, v("2")) == v("2.0")
    assert latest_matching(versions, v("3")) is None
    assert latest_matching([], None) is None
    assert latest_matching(iter(versions), v("10")) == v("10.0")


# --- AssetSpec -------------------------------------------------------------------------------


def test_ref_and_is_latest() -> None:
    assert AssetSpec("x").ref == "@latest"
    assert AssetSpec("x").is_latest
    assert AssetSpec("x", alias="latest").is_latest
    assert AssetSpec("x", alias="latest").ref == "@latest"
    assert AssetSpec("x", alias="prod").ref == "@prod"
    assert not AssetSpec("x", alias="prod").is_latest
    assert AssetSpec("x", v("1.3")).ref == "1.3"
    assert not AssetSpec("x", v("1.3")).is_latest


def test_with_version_pins_and_clears_alias() -> None:
    spec = parse_spec("nlp/sentiment@production/vocab.txt")
    pinned = spec.with_version(v("1.3"))
    assert pinned == AssetSpec("nlp/sentiment", v("1.3"), path="vocab.txt")
    assert str(pinned) == "nlp/sentiment:1.3/vocab.txt"
    assert spec.alias == "production"  # the original is unchanged


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "X"}, "lower-case"),
        ({"name": ""}, "empty"),
        ({"name": "x", "version": Version((1,)), "alias": "prod"}, "not both"),
        ({"name": "x", "alias": "1"}, "must start with a-z"),
        ({"name": "x", "path": "a"}, "needs a version or an alias"),
        ({"name": "x", "alias": "p", "path": ""}, "empty"),
        ({"name": "x", "alias": "p", "path": "a/"}, "ends with '/'"),
        ({"name": "x", "alias": "p", "path": "/a"}, "empty sub path segment"),
        ({"name": "x", "alias": "p", "path": "a/../b"}, "'..'"),
        ({"name": "x", "alias": "p", "path": "a "}, "whitespace"),
    ],
)
def test_asset_spec_validates(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidSpecError) as info:
        AssetSpec(**kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)


def test_asset_spec_rejects_version_text() -> None:
    with pytest.raises(TypeError):
        AssetSpec("x", "1.3")  # type: ignore[arg-type]


def test_asset_spec_is_frozen_and_hashable() -> None:
    spec = parse_spec("x:1")
    with pytest.raises(AttributeError):
        spec.name = "y"  # type: ignore[misc]
    assert len({spec, parse_spec("x:1"), parse_spec("x:1.0")}) == 2
