"""Hypothesis properties of MODELSHELF_ASSET_OVERRIDES, the one outside input ModelLibrary reads."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelshelf import constants
from modelshelf.errors import InvalidInputError

pytestmark = pytest.mark.property

SETTINGS = settings(max_examples=300, deadline=None)

segments = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,12}", fullmatch=True)
names = st.lists(segments, min_size=1, max_size=4).map("/".join)
# Text an environment can hold (no NUL), without a comma, not blank, no whitespace at its ends
# ('=' is allowed).
paths = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters=",\x00"), min_size=1, max_size=40
).filter(lambda p: p == p.strip() and p != "")
padding = st.sampled_from(["", " ", "  ", "\t"])


@SETTINGS
@given(st.dictionaries(names, paths, max_size=5), st.data())
def test_formatted_overrides_parse_back(overrides: dict[str, str], data: st.DataObject) -> None:
    entries = [
        f"{data.draw(padding)}{name}{data.draw(padding)}={data.draw(padding)}{path}"
        f"{data.draw(padding)}"
        for name, path in overrides.items()
    ]
    entries += [""] * data.draw(st.integers(0, 2))  # empty entries (a trailing comma) are skipped
    entries = data.draw(st.permutations(entries))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELSHELF_ASSET_OVERRIDES", ",".join(entries))
        assert constants.asset_overrides() == overrides


@SETTINGS
@given(st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=80))
def test_any_text_parses_or_is_refused_cleanly(raw: str) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELSHELF_ASSET_OVERRIDES", raw)
        try:
            parsed = constants.asset_overrides()
        except InvalidInputError as exc:
            assert "MODELSHELF_ASSET_OVERRIDES" in str(exc)
            return
    for name, path in parsed.items():
        assert name and path and "=" not in name and "," not in name + path
        assert name == name.strip() and path == path.strip()
