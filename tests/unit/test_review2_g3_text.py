"""Every invisible or line-breaking character escaped, by category (issue 21, second review,
finding 2).

Class of attack: text from a store, a runner or a plugin that hides or reorders what a terminal
shows. The table listed characters by hand and missed ~150 of them (U+200B, U+00AD, U+2060,
the U+E0000 tags, ...). It is now computed: every character of category Cc, Cf, Zl, Zp or Cs is
escaped. One-line record fields refuse, by the same computed rule, the part of that set that
breaks a line or is no text (Cc, Zl, Zp, Cs); a format character there is kept and escaped
wherever it is shown (``log`` prints an odd action escaped, test_cli1_log pins it).
"""

from __future__ import annotations

import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelshelf.trust import check_text, escape_controls, foreign_error

_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def _hidden(char: str) -> bool:
    return unicodedata.category(char) in _HIDDEN


def test_the_reviewers_text_is_escaped() -> None:
    assert escape_controls("a\u200fb\u061cc\u200bd\u2028e") == ("a\\u200fb\\u061cc\\u200bd\\u2028e")


@pytest.mark.parametrize(
    ("char", "shown"),
    [
        ("\u00ad", "\\xad"),
        ("\u200b", "\\u200b"),
        ("\u200d", "\\u200d"),
        ("\u2060", "\\u2060"),
        ("\u2064", "\\u2064"),
        ("\u206f", "\\u206f"),
        ("\ufff9", "\\ufff9"),
        ("\ufffb", "\\ufffb"),
        ("\U000e0001", "\\U000e0001"),
        ("\U000e0041", "\\U000e0041"),
        # Today's escapes are kept.
        ("\n", "\\n"),
        ("\x1b", "\\x1b"),
        ("\x85", "\\x85"),
        ("\ud800", "\\ud800"),
        ("\ufeff", "\\ufeff"),
    ],
)
def test_each_hidden_character_is_escaped(char: str, shown: str) -> None:
    assert escape_controls(f"a{char}b") == f"a{shown}b"


def test_every_code_point_of_the_hidden_categories_is_escaped() -> None:
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if _hidden(char):
            out = escape_controls(char)
            assert out != char and out.startswith("\\") and out.isascii(), hex(code)


def test_printable_text_holds_no_hidden_character() -> None:
    # The escapes skip the Unicode table for text that is isprintable(): that is sound only if
    # no hidden character is ever printable.
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        assert not (char.isprintable() and _hidden(char)), hex(code)


def test_the_table_is_not_built_for_printable_text() -> None:
    import modelshelf._text as text_module

    text_module._tables.cache_clear()
    assert escape_controls("plain, naïve, 東京") == "plain, naïve, 東京"
    assert text_module.find_hidden("readme.txt") is None
    assert check_text("alice@host", "who") == "alice@host"
    assert text_module._tables.cache_info().currsize == 0
    assert escape_controls("a\u200bb") == "a\\u200bb"
    assert text_module._tables.cache_info().currsize == 1


@settings(max_examples=500, deadline=None)
@given(st.text(st.characters(codec=None, exclude_categories=()), max_size=50))
def test_escaped_text_holds_no_hidden_character_and_passes_a_one_line_check(text: str) -> None:
    out = escape_controls(text)
    assert not any(_hidden(c) for c in out), out
    assert check_text(out, "field") == out
    # What is not hidden is kept as it is (a backslash included).
    if not any(_hidden(c) for c in text):
        assert out == text


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(categories=("Cc", "Zl", "Zp", "Cs")), min_size=1, max_size=5))
def test_a_one_line_field_refuses_every_line_breaking_character(hidden: str) -> None:
    with pytest.raises(ValueError, match="control characters"):
        check_text(f"alice{hidden}", "who")


def test_the_one_line_rule_is_computed_from_the_same_categories() -> None:
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        try:
            check_text(char, "who")
        except ValueError:
            assert unicodedata.category(char) in ("Cc", "Zl", "Zp", "Cs"), hex(code)
        else:
            assert unicodedata.category(char) not in ("Cc", "Zl", "Zp", "Cs"), hex(code)


def test_a_foreign_message_shows_no_hidden_character() -> None:
    line = foreign_error(RuntimeError("ok\u200b\u202e\U000e0041 done"))
    assert not any(_hidden(c) for c in line), line
    assert "\\u200b" in line and "\\U000e0041" in line
