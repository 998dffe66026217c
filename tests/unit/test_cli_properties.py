"""Properties of the output helpers and error translation, which take store text as input."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from obstore import exceptions as obx

from modelshelf.backends._obstore import translate_error
from modelshelf.cli._common import format_time, printable
from modelshelf.errors import StoreError

pytestmark = pytest.mark.property

SETTINGS = settings(max_examples=300, deadline=None)

# What is escaped wherever outside text is shown (issue 21): controls, line and paragraph
# separators, surrogates, and every format character (bidi marks, zero-width, soft hyphen).
_HIDDEN_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs"}


def _unsafe(char: str) -> bool:
    return unicodedata.category(char) in _HIDDEN_CATEGORIES


@SETTINGS
@given(st.text())
def test_printable_leaves_no_control_character(text: str) -> None:
    shown = printable(text)
    assert not any(_unsafe(c) for c in shown)
    if not any(_unsafe(c) for c in text):
        assert shown == text  # ordinary text, of any script, is shown as it is


@SETTINGS
@given(st.text())
def test_format_time_never_fails_and_stays_one_line(text: str) -> None:
    assert not any(_unsafe(c) for c in format_time(text))


_STATUS = st.sampled_from(["", " - Server returned non-2xx status code: "]).flatmap(
    lambda lead: st.builds(
        lambda status, body: f"{lead}{status} {body}" if lead else body,
        st.integers(100, 599),
        st.text(max_size=200),
    )
)


@SETTINGS
@given(
    st.sampled_from([obx.GenericError, obx.NotFoundError, obx.PermissionDeniedError, OSError]),
    st.one_of(st.text(max_size=300), _STATUS),
    st.sampled_from(["", "<Code>NoSuchBucket</Code>", "<Code>x\n</Code><Message>\x1b</Message>"]),
)
def test_translate_error_always_gives_a_store_error(
    kind: type[BaseException], text: str, xml: str
) -> None:
    exc = kind(text + xml)
    with pytest.raises(StoreError) as info:
        translate_error(exc, "s3://b/p", "k")
    assert info.value.__cause__ is exc
    assert "\n" not in str(info.value)
