"""Properties of housekeeping's outside input: --grace text, removal records and tombstones."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelshelf.backends.memory import MemoryBackend
from modelshelf.errors import InvalidInputError, VersionNotFoundError
from modelshelf.store.bucket import Removal, Store
from modelshelf.store.gc import parse_grace

pytestmark = pytest.mark.property

SETTINGS = settings(max_examples=300, deadline=None)
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@SETTINGS
@given(st.integers(0, 10**6), st.sampled_from(sorted(UNITS)))
def test_grace_with_a_unit_parses(number: int, unit: str) -> None:
    assert parse_grace(f"{number}{unit}") == timedelta(seconds=number * UNITS[unit])


@SETTINGS
@given(st.text(max_size=12))
def test_any_grace_text_parses_or_is_refused_in_one_line(text: str) -> None:
    try:
        grace = parse_grace(text)
    except InvalidInputError as exc:
        assert "24h" in str(exc)
    else:
        assert grace >= timedelta(0)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
records = (
    st.binary(max_size=64)
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.fixed_dictionaries(
        {k: json_values for k in ("name", "version", "who", "host", "when")}
    ).map(lambda v: json.dumps(v).encode())
)


@SETTINGS
@given(records)
def test_a_forged_removal_record_still_hides_the_version_and_never_crashes(raw: bytes) -> None:
    MemoryBackend.reset("forged")
    store = Store(MemoryBackend("forged"))
    store.backend.put("assets/m/versions/1.0.json", b"{}")
    store.backend.put("assets/m/versions/1.0.removed", raw)
    removal = store.removal("m", "1.0")
    assert isinstance(removal, Removal)
    assert all(isinstance(value, str) for value in removal.__dict__.values())
    assert store.versions("m") == [] and store.taken_versions("m")[0].parts == (1, 0)
    with pytest.raises(VersionNotFoundError, match=r"m:1\.0 was"):
        raise store.version_not_found("m", store.taken_versions("m")[0], [])
