"""The ``page`` parameter of every route that takes one: ASCII digits from 1 to a bound, one
parser for all; arbitrary text is a 400 (or a page), never a 500."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.pages.conftest import MakePages

from modelshelf.errors import InvalidInputError
from modelshelf.registry.pages.search import MAX_PAGE, page_number

ROUTES = ("/", "/log", "/api/v1/search", "/api/v1/log")


@pytest.mark.parametrize(
    "text", ["²", "0000001" + "9" * 5000, "00000019999999999", "0", "-1", "1e3", " 1", "\u0661"]
)
def test_what_is_no_page_number_is_refused(text: str) -> None:
    with pytest.raises(InvalidInputError):
        page_number(text)


@pytest.mark.parametrize(("text", "number"), [(None, 1), ("", 1), ("1", 1), ("0000002", 2)])
def test_page_numbers(text: str | None, number: int) -> None:
    assert page_number(text) == number
    assert page_number(str(MAX_PAGE)) == MAX_PAGE


@given(st.text())
def test_any_text_is_a_number_in_range_or_refused(text: str) -> None:
    try:
        number = page_number(text)
    except InvalidInputError:
        return
    assert 1 <= number <= MAX_PAGE


def test_no_page_parameter_makes_a_500(make_pages: MakePages, tokens: dict[str, str]) -> None:
    client = make_pages(tokens["admin"])
    bearer = {"authorization": f"Bearer {tokens['admin']}"}
    for text in ("²", "0000001" + "9" * 5000, "00000019999999999"):
        for route in ROUTES:
            assert client.get(route, params={"page": text}, headers=bearer).status_code == 400

    @settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(st.text(max_size=30), st.sampled_from(ROUTES))
    def check(text: str, route: str) -> None:
        status = client.get(route, params={"page": text}, headers=bearer).status_code
        assert status in (200, 400), (route, text)

    check()
