"""Properties of SavedInstance.from_section: how a store's model section says an instance was
saved is parsed strictly: a known format (and a class path only for a torch state_dict), or
one-line ValueError; never anything else, never a format or path outside the known set."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelshelf import trust
from modelshelf.models.saved import FILES, SavedInstance

pytestmark = pytest.mark.property

SETTINGS = settings(max_examples=500, deadline=None)

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
formats = st.sampled_from([*FILES, "Pickle", "skops ", "torch_state_dict", "exe", ""])
paths = st.sampled_from(
    ["tests.m:Net", "os:system", "../x:Y", "a:b\nc", "__main__:Net", "pkg.mod:Outer.Inner"]
) | st.text(alphabet="ab_.:/ \n\x00", max_size=16)


@SETTINGS
@given(
    saved_as=st.none() | formats | json_values,
    saved_class=st.none() | paths | json_values,
    extra=st.dictionaries(st.text(max_size=8), json_values, max_size=3),
)
def test_a_section_gives_a_known_format_or_one_line_refusal(
    saved_as: Any, saved_class: Any, extra: dict[str, Any]
) -> None:
    section = {**extra, "saved_as": saved_as, "saved_class": saved_class}
    try:
        found = SavedInstance.from_section(section)
    except ValueError as exc:
        assert "\n" not in str(exc)
        return
    if found is None:
        assert saved_as is None and saved_class is None
        return
    assert found.saved_as in FILES and found.saved_as == saved_as
    assert found.model_class is None  # parsing imports nothing
    if found.saved_class is not None:
        assert found.saved_as == "torch-state-dict"
        assert trust.check_import_path(found.saved_class)
    assert found.fields() == {
        k: v for k, v in (("saved_as", saved_as), ("saved_class", saved_class)) if v is not None
    }
