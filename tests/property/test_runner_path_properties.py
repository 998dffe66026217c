"""Properties of trust.check_import_path: the one gate for runner import paths from a store."""

from __future__ import annotations

import keyword

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelshelf import trust

pytestmark = pytest.mark.property

SETTINGS = settings(max_examples=400, deadline=None)

identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
dotted = st.lists(identifiers, min_size=1, max_size=4).map(".".join)
# Text near the syntax: identifiers, dots, colons, and the characters an attack would use.
near = st.text(alphabet="ab_.:/\\ -\n\x00é1*<>[]", max_size=24)


@SETTINGS
@given(module=dotted, qualname=dotted)
def test_every_dotted_identifier_pair_is_accepted_and_split_back(
    module: str, qualname: str
) -> None:
    if module == "__main__" or module.startswith("__main__."):
        return
    assert trust.check_import_path(f"{module}:{qualname}") == (module, qualname)


@SETTINGS
@given(text=near | st.text(max_size=40) | dotted)
def test_whatever_passes_is_ascii_identifiers_joined_by_dots_around_one_colon(text: str) -> None:
    try:
        module, qualname = trust.check_import_path(text)
    except ValueError as exc:
        assert "\n" not in str(exc)
        return
    assert f"{module}:{qualname}" == text
    assert text.isascii() and text.count(":") == 1
    for part in [*module.split("."), *qualname.split(".")]:
        assert part.isidentifier() or keyword.iskeyword(part)
    assert module != "__main__" and not module.startswith("__main__.")
    assert not any(c in text for c in "/\\ \n\x00*<>[]-")


@SETTINGS
@given(value=st.none() | st.integers() | st.lists(st.text(max_size=4), max_size=2))
def test_anything_but_text_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="must be text"):
        trust.check_import_path(value)
