"""Hypothesis properties of the ``ls`` pattern matcher (:mod:`modelshelf._name_glob`).

Checked against independent models: a plain word is the whole-segment prefix rule ``ls`` always
had; a glob without ``**`` is :func:`fnmatch.fnmatchcase` segment by segment (so ``*`` can never
cross a ``/``); ``**`` only ever widens; and the listing prefix never hides a match.
"""

from __future__ import annotations

import fnmatch
import re

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

import modelshelf._name_glob as name_glob
from modelshelf._name_glob import MAX_WILDCARDS, is_glob, listing_prefix, name_matches
from modelshelf.errors import InvalidInputError

pytestmark = pytest.mark.property

SETTINGS = settings(max_examples=400, deadline=None)

# Small alphabets make matches likely; names are what trust.is_name lets through (no '/' ends,
# no empty segments), patterns anything a user may type at a shell.
segment = st.text("abn.-_", min_size=1, max_size=5)
names = st.lists(segment, min_size=1, max_size=4).map("/".join)
glob_segment = st.text("abn*?[]!-", min_size=1, max_size=6).filter(lambda s: "**" not in s)
plain_words = st.lists(segment, min_size=1, max_size=3).map("/".join)
globs = st.lists(glob_segment, min_size=1, max_size=3).map("/".join)
any_pattern = st.text("abn*?[]!/-", max_size=10)


def _segment_model(pattern: str, name: str) -> bool:
    """A pattern without ``**`` selects a name when each of its segments fnmatches the name's
    segment at the same place (the name may have more segments)."""
    wanted, have = pattern.strip("/").split("/"), name.split("/")
    return len(wanted) <= len(have) and all(
        fnmatch.fnmatchcase(part, glob) for part, glob in zip(have, wanted, strict=False)
    )


@SETTINGS
@given(plain_words, names)
def test_a_plain_word_is_a_whole_segment_prefix(word: str, name: str) -> None:
    assert name_matches(word, name) == (name == word or name.startswith(word + "/"))


@SETTINGS
@given(globs, names)
@example("[!/]", "_")  # '/' separates segments even inside brackets: no class spans one
@example("a[/]b", "a/b")
def test_a_glob_matches_segment_by_segment_as_fnmatch(pattern: str, name: str) -> None:
    assert name_matches(pattern, name) == _segment_model(pattern, name)


@SETTINGS
@given(globs, names)
def test_a_star_never_crosses_a_slash(pattern: str, name: str) -> None:
    if name_matches(pattern, name):
        assert len(pattern.strip("/").split("/")) <= len(name.split("/"))


@SETTINGS
@given(globs, names)
def test_double_star_only_widens(pattern: str, name: str) -> None:
    if name_matches(pattern, name):
        assert name_matches(pattern.replace("*", "**"), name)


@SETTINGS
@given(names)
def test_double_star_crosses_slashes(name: str) -> None:
    assume("/" in name)
    first, last = name[0], name.split("/")[-1]
    assert name_matches("**", name)
    assert name_matches(f"{first}**{last}", name)
    assert name_matches(f"**/{last}", name)  # zero or more whole segments before
    # One star stops at the first '/': it matches the first segment alone or nothing.
    head = name.split("/")[0]
    assert name_matches(f"{first}*{last}", name) == fnmatch.fnmatchcase(head, f"{first}*{last}")


@SETTINGS
@given(any_pattern, names)
def test_the_listing_prefix_never_hides_a_match(pattern: str, name: str) -> None:
    prefix = listing_prefix(pattern)
    if name_matches(pattern, name) and prefix:
        assert name == prefix or name.startswith(prefix + "/")
    assert not is_glob(prefix)


@SETTINGS
@given(any_pattern, st.text(max_size=12))
def test_any_pattern_and_any_name_answer_without_error(pattern: str, name: str) -> None:
    assert isinstance(name_matches(pattern, name), bool)


@pytest.mark.parametrize(
    ("pattern", "selected"),
    [
        ("nl*", ["nlp/sentiment", "nlp/sentiment/en", "nlu"]),
        ("nlp/*sent*", ["nlp/sentiment", "nlp/sentiment/en"]),
        ("nlp", ["nlp/sentiment", "nlp/sentiment/en"]),
        ("nl", []),
        ("*/sentiment", ["nlp/sentiment", "nlp/sentiment/en"]),
        ("**/en", ["nlp/sentiment/en"]),
        ("n?u", ["nlu"]),
        ("[!n]*", ["vision/detector"]),
        ("v[a-j]sion/**", ["vision/detector"]),
    ],
)
def test_examples(pattern: str, selected: list[str]) -> None:
    every = ["nlp/sentiment", "nlp/sentiment/en", "nlu", "vision/detector"]
    assert [n for n in every if name_matches(pattern, n)] == selected


# -- the matcher without backtracking, against the regular expression it replaced -----------
def _regex_of(pattern: str) -> re.Pattern[str]:
    """The regular expression ``name_matches`` used before (it backtracked: ``**?**?...Z``
    took minutes): the reference the automaton must agree with on small inputs."""
    parts: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if pattern.startswith("**", i):
            at_segment_start = i == 0 or pattern[i - 1] == "/"
            i += 2
            while i < n and pattern[i] == "*":
                i += 1
            if at_segment_start and pattern.startswith("/", i):
                parts.append(r"(?:.*/)?")
                i += 1
            else:
                parts.append(r".*")
        elif char == "*":
            parts.append(r"[^/]*")
            i += 1
        elif char == "?":
            parts.append(r"[^/]")
            i += 1
        elif char == "[":
            end = name_glob._class_end(pattern, i)
            if end is None:
                parts.append(re.escape(char))
                i += 1
            else:
                parts.append(r"(?!/)" + name_glob._class(pattern[i : end + 1]))
                i = end + 1
        else:
            parts.append(re.escape(char))
            i += 1
    return re.compile("".join(parts) + r"(?:/.*)?", re.DOTALL)


def _old_matches(pattern: str, name: str) -> bool:
    wanted = pattern.strip("/")
    if not wanted:
        return True
    if not is_glob(wanted):
        return name == wanted or name.startswith(wanted + "/")
    return _regex_of(wanted).fullmatch(name) is not None


@settings(max_examples=2000, deadline=None)
@given(st.text("ab*?[]!-/", max_size=12), st.text("ab/-", max_size=10))
@example("**/b", "b")
@example("a/**/b", "a/x/y/b/z")
@example("**?**?a", "bba")
@example("[!/]", "/")
@example("[]a]*", "]/")
def test_the_matcher_agrees_with_the_regular_expression_it_replaced(
    pattern: str, name: str
) -> None:
    assert name_matches(pattern, name) == _old_matches(pattern, name)


@pytest.mark.parametrize("repeat", [5, 10])
def test_a_hostile_glob_takes_a_bounded_number_of_steps(repeat: int) -> None:
    """``**?`` repeated made the regular expression backtrack exponentially; the automaton
    takes at most one step per (state, character)."""
    pattern = "**?" * repeat + "Z"
    name = "nlp/sentiment-analysis-multilingual-large"
    glob = name_glob._compiled(pattern)
    selected, steps = glob.run(name)
    assert not selected
    assert steps <= len(glob.moves) * len(name)  # 2 * repeat + 2 states: linear, not 2^n


def test_a_glob_with_too_many_wildcards_is_refused_naming_the_bound() -> None:
    with pytest.raises(InvalidInputError, match=f"more than the {MAX_WILDCARDS}"):
        name_matches("**?" * 20 + "Z", "nlp/a")
    assert name_matches("*" * 40, "nlp/a")  # a run of stars is one **: one wildcard
