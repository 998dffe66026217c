"""Hypothesis properties of the config file: total error handling, and errors at the right line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelshelf.backends.base import is_secret_option
from modelshelf.config import is_store_name, key_lines, loads_config
from modelshelf.errors import ConfigError
from modelshelf.store.named import mask_options

pytestmark = pytest.mark.property

SETTINGS = settings(max_examples=300, deadline=None)
PATH = Path("/cfg/config.toml")

# Text TOML can hold in a basic string once json.dumps has escaped it (no DEL, no surrogates).
TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x7f"), max_size=12
)
NAMES = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,12}", fullmatch=True)
KEYS = st.sampled_from(["url", "endpoint", "region", "profile", "anonymous", "colour", "options"])
VALUES = st.one_of(
    st.just('"s3://bucket/p"'), st.just('"prod"'), st.just('""'), st.just("true"),
    st.just("3"), st.just("[1, 2]"), TEXT.map(lambda t: json.dumps(t, ensure_ascii=False)),
)  # fmt: skip


@SETTINGS
@given(
    st.one_of(
        st.text(max_size=200),
        st.lists(st.tuples(TEXT, KEYS, VALUES), max_size=3).map(
            lambda rows: "\n".join(
                f"[stores.{json.dumps(n, ensure_ascii=False)}]\n{k} = {v}" for n, k, v in rows
            )
        ),
    )
)
def test_any_text_is_a_config_or_one_config_error(text: str) -> None:
    try:
        loads_config(text, PATH)
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(f"config file {PATH}")


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.one_of(NAMES, TEXT),
            st.booleans(),  # a [table] header, or an inline table
            st.lists(st.tuples(KEYS, VALUES), max_size=5, unique_by=lambda kv: kv[0]),
            st.integers(0, 2),  # blank or comment lines before the store
        ),
        max_size=4,
        unique_by=lambda s: s[0],
    )
)
def test_an_error_names_the_line_of_its_key(
    stores: list[tuple[str, bool, list[tuple[str, str]], int]],
) -> None:
    lines: list[str] = []
    where: dict[str, int] = {}  # dotted key -> the line we wrote it on
    for name, header, entries, padding in stores:
        lines += ["# a comment", ""][:padding]
        quoted = json.dumps(name, ensure_ascii=False)
        if header:
            lines.append(f"[stores.{quoted}]")
            where[f"stores.{name}"] = len(lines)
            for key, value in entries:
                lines.append(f"{key} = {value}")
                where[f"stores.{name}.{key}"] = len(lines)
        else:
            body = ", ".join(f"{k} = {v}" for k, v in entries)
            lines.append(f"stores.{quoted} = {{ {body} }}")
            for key in [name, *(f"{name}.{k}" for k, _ in entries)]:
                where[f"stores.{key}"] = len(lines)
    text = "\n".join(lines) + "\n"
    try:
        config = loads_config(text, PATH)
    except ConfigError as exc:
        if exc.key.endswith(".url") and exc.key not in where:  # a missing url: its table's line
            assert exc.line == where[exc.key.removesuffix(".url")]
        elif exc.key in where:
            assert exc.line == where[exc.key], (exc, text)
        else:  # a syntax error (e.g. two stores whose names TOML reads as one)
            assert exc.line is None or 1 <= exc.line <= len(lines)
        return
    assert set(config.stores) == {name for name, *_ in stores}
    for name, _, entries, _ in stores:
        # the url as typed, trimmed (config strips it)
        assert config.stores[name].url == json.loads(dict(entries)["url"]).strip()


@SETTINGS
@given(st.lists(st.tuples(st.one_of(NAMES, TEXT), TEXT), max_size=6))
def test_key_lines_never_fail(pairs: list[tuple[str, str]]) -> None:
    text = "\n".join(f"{json.dumps(k, ensure_ascii=False)} = {json.dumps(v)}" for k, v in pairs)
    found = key_lines(text)
    for number, (key, _) in enumerate(pairs, start=1):
        if (key,) in found:
            assert found[(key,)] <= number


@SETTINGS
@given(st.text(max_size=40))
def test_urls_and_paths_are_never_store_names(text: str) -> None:
    for value in (f"s3://{text}", f"./{text}", f"/{text}", f"~{text}", f"pkg.mod:{text}"):
        assert not is_store_name(value)


@SETTINGS
@given(st.dictionaries(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), TEXT, max_size=8))
def test_masking_hides_every_secret_value(options: dict[str, str]) -> None:
    masked = mask_options(options)
    assert set(masked) == set(options)
    for key, value in masked.items():
        if is_secret_option(key):
            assert value == "***"
