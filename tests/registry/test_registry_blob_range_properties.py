"""Properties of the blob routes' parsers of outside input: ``Range`` and ``Content-Length``."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelshelf.registry._blob_io import check_sha256, parse_range
from modelshelf.registry.bodies import Refusal

pytestmark = pytest.mark.property
SETTINGS = settings(max_examples=400, deadline=None)

sizes = st.integers(min_value=0, max_value=10**12)
positions = st.integers(min_value=0, max_value=10**13)


@SETTINGS
@given(st.text(max_size=60), sizes)
def test_any_header_gives_a_range_inside_the_blob_or_the_whole_or_416(
    header: str, size: int
) -> None:
    try:
        found = parse_range(header, size)
    except Refusal as refusal:
        assert refusal.status == 416
        assert refusal.headers == {"Content-Range": f"bytes */{size}"}
        return
    if found is not None:
        assert 0 <= found.start < found.end <= size
        assert found.size == size


@SETTINGS
@given(positions, st.one_of(st.none(), positions), sizes)
def test_first_last_ranges_are_what_slicing_gives(first: int, last: int | None, size: int) -> None:
    header = f"bytes={first}-{'' if last is None else last}"
    if last is not None and last < first:
        assert parse_range(header, size) is None  # not a range: the whole blob
        return
    if first >= size:
        with pytest.raises(Refusal):
            parse_range(header, size)
        return
    found = parse_range(header, size)
    assert found is not None
    stop = size if last is None else last + 1
    assert range(size)[first:stop] == range(found.start, found.end)
    assert found.content_range == f"bytes {found.start}-{found.end - 1}/{size}"


@SETTINGS
@given(st.integers(min_value=0, max_value=10**13), sizes)
def test_suffix_ranges_are_the_last_bytes(count: int, size: int) -> None:
    if count == 0 or size == 0:
        with pytest.raises(Refusal):
            parse_range(f"bytes=-{count}", size)
        return
    found = parse_range(f"bytes=-{count}", size)
    assert found is not None
    assert range(size)[-count:] == range(found.start, found.end)


@SETTINGS
@given(st.text(max_size=80))
def test_blob_names_are_exactly_64_lowercase_hex_digits(text: str) -> None:
    try:
        assert check_sha256(text) == text
    except ValueError:
        assert len(text) != 64 or any(c not in "0123456789abcdef" for c in text)
    else:
        assert len(text) == 64 and set(text) <= set("0123456789abcdef")


@SETTINGS
@given(st.text(alphabet=st.characters(categories=["Nd"]), min_size=1, max_size=5), sizes)
def test_only_ascii_digits_are_numbers(digits: str, size: int) -> None:
    # Python's \d and int() read Arabic-Indic and other digits: a Range never does.
    if not digits.isascii():
        assert parse_range(f"bytes={digits}-", size) is None
