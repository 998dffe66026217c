"""Property: any pair list that ``PushSource.from_files`` accepts pulls back exactly as listed."""

from __future__ import annotations

import tempfile
import unicodedata
import uuid
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from modelshelf import PushSource, Shelf
from modelshelf.errors import InvalidInputError

pytestmark = pytest.mark.property

SETTINGS = settings(max_examples=150, deadline=None)

# Names a user might give, and names that must be refused or normalised: NFC/NFD twins,
# case twins, dots, backslashes, spaces and empty segments.
good = st.sampled_from(["a", "A", "b", "model.pt", "café", "cafe\u0301", ".x", " s", "d e"])
bad = st.sampled_from(["..", "", ".", "x\\y"])
good_targets = st.lists(good, min_size=1, max_size=3).map("/".join)
raw = st.text(alphabet="ab./\\é\u0301 ", max_size=8)
any_targets = st.one_of(
    st.lists(st.one_of(good, bad), min_size=1, max_size=3).map("/".join), good_targets, raw
)
contents = st.binary(max_size=64)


@SETTINGS
@given(
    st.one_of(
        st.lists(st.tuples(good_targets, contents), min_size=1, max_size=6),
        st.lists(st.tuples(any_targets, contents), min_size=1, max_size=6),
    ),
    st.booleans(),
    st.booleans(),
)
def test_an_accepted_pair_list_round_trips(
    listed: list[tuple[str, bytes]], as_mapping: bool, spread: bool
) -> None:
    if spread:  # one folder per pair: fewer twins and clashes, so more lists are accepted
        listed = [(f"f{index}/{target}", data) for index, (target, data) in enumerate(listed)]
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        locals_: list[tuple[Path, str]] = []
        for index, (target, data) in enumerate(listed):
            local = root / "src" / f"{index}.bin"
            local.parent.mkdir(exist_ok=True)
            local.write_bytes(data)
            locals_.append((local, target))
        try:
            source = PushSource.from_files(dict(locals_) if as_mapping else locals_)
        except InvalidInputError:
            event("refused")
            return  # refused as a whole, before anything is read
        event("accepted")
        expected = {
            unicodedata.normalize("NFC", target): local.read_bytes() for local, target in locals_
        }
        shelf = Shelf(f"memory://pairs-{uuid.uuid4().hex}", cache_dir=root / "cache")
        manifest = shelf.push(source, "p")
        assert [f.path for f in manifest.files] == sorted(expected)
        fresh = Shelf(shelf.url, cache_dir=root / "fresh")
        folder = fresh.pull(f"p:{manifest.version}")
        pulled = {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in folder.rglob("*")
            if p.is_file()
        }
        assert pulled == expected
