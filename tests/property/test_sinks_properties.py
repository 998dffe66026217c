"""Properties of ``--to`` parsing (sinks.sink_from): every text is a URL, a class or a path."""

from __future__ import annotations

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from modelshelf import FileSystemDownloader, InvalidInputError, StoreDownloader
from modelshelf.downloaders import sink_from

pytestmark = pytest.mark.property

SETTINGS = settings(max_examples=300, deadline=None)

schemes = st.from_regex(r"[a-z][a-z0-9+.-]{0,8}", fullmatch=True)
identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
near = st.text(alphabet="ab_.:/\\ -~\x00é1*", min_size=1, max_size=24)


@SETTINGS
@given(scheme=schemes, rest=st.text(max_size=30))
def test_scheme_colon_slash_slash_is_always_a_store(scheme: str, rest: str) -> None:
    assert isinstance(sink_from(f"{scheme}://{rest}"), StoreDownloader)


@SETTINGS
@given(text=near)
def test_anything_else_is_a_path_or_a_refused_class(text: str) -> None:
    assume("://" not in text)
    try:
        sink = sink_from(text)
    except InvalidInputError as exc:
        assert "\n" not in str(exc)
        # Refused: class-shaped text that names nothing installed, or a folder name no
        # filesystem takes (NUL, ~user of an unknown user).
        assert ":" in text or "\x00" in text or text.startswith("~")
        return
    assert isinstance(sink, FileSystemDownloader)


@SETTINGS
@given(module=st.lists(identifiers, min_size=1, max_size=3).map(".".join), name=identifiers)
@example(module="A", name="__")
@example(module="a.__b", name="__a")
@example(module="__", name="a")  # the first part is zz_no_such_sink_pkg___: no dunder
def test_a_class_path_of_no_installed_module_is_refused_in_one_line(module: str, name: str) -> None:
    module = f"zz_no_such_sink_pkg_{module}"
    with pytest.raises(InvalidInputError) as info:
        sink_from(f"{module}:{name}")
    # A part starting with ``__`` (``__``, ``__call__``, ``__a``) is refused by name before any
    # import (issue 22's one rule); any other path names the module that is not installed.
    dunder = any(part.startswith("__") for part in [*module.split("."), name])
    assert ("dunder" if dunder else "no installed module") in str(info.value)
    assert "\n" not in str(info.value)
