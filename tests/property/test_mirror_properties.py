"""Properties of the mirror's checks on listed keys: whatever a store lists, nothing lands outside
DEST, and a key that is accepted lands exactly at its own path."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from modelshelf.backends.base import ObjectMeta
from modelshelf.errors import UnsupportedStoreError, UntrustedStoreDataError
from modelshelf.mirror.plan import check_key, make_plan, matches, split_url
from modelshelf.trust import find_hidden, inside

pytestmark = pytest.mark.property

SETTINGS = settings(max_examples=400, deadline=None)
ROOT = Path("/var/dest")

# Windows would open a device, or drop a trailing '.' or ' ': another file than the key says.
_WINDOWS_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"{p}{n}" for p in ("COM", "LPT") for n in "123456789"),
}


def _windows_safe(segment: str) -> bool:
    stem = segment.split(".")[0].rstrip().upper()
    return (
        segment not in (".", "..")
        and not segment.endswith((".", " "))
        and (stem not in _WINDOWS_RESERVED)
    )


# Segments that are fine, and the pieces hostile keys are made of.
_SAFE = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\:"),
    min_size=1,
    max_size=12,
).filter(_windows_safe)
_HOSTILE = st.sampled_from(
    [
        *[
            "..",
            ".",
            "",
            "C:",
            "c:x",
            "\\",
            "a\\b",
            "\x00",
            "\x1b[2J",
            "\n",
            "\u202e",
            "\ud800",
            "/",
        ],
        *["a:b", "model.bin:hidden", "CON", "nul.txt", "Com1 .json", "lpt9", "x.", "x "],
    ]
)
_DRIVE_LIKE = st.builds(lambda c, rest: f"{c}:{rest}", st.characters(), st.text(max_size=3))
_SEGMENT = st.one_of(_SAFE, _HOSTILE, _DRIVE_LIKE, st.text(max_size=6))
_KEY = st.one_of(
    st.lists(_SEGMENT, min_size=1, max_size=6).map("/".join),
    st.text(max_size=40),
)


@SETTINGS
@given(_KEY)
def test_an_accepted_key_stays_inside_dest_at_its_own_path(key: str) -> None:
    try:
        check_key(key)
    except ValueError as exc:
        event(f"refused: {str(exc).split(' (')[0][:30]}")
        return
    event("accepted")
    joined = inside(ROOT, key)  # the last line of defence agrees
    assert joined.relative_to(ROOT).as_posix() == key
    assert os.path.normpath(joined) == str(joined)  # nothing to normalise away
    # The same key read as a Windows path keeps its drive and stays below the root.
    windows = PureWindowsPath("C:/dest").joinpath(*key.split("/"))
    assert windows.drive == "C:" and windows.parts[:2] == ("C:\\", "dest")
    assert len(windows.parts) == 2 + len(key.split("/"))
    assert all(_windows_safe(part) and ":" not in part for part in key.split("/"))


@SETTINGS
@given(st.lists(_SAFE, min_size=1, max_size=5), st.one_of(_HOSTILE, _DRIVE_LIKE))
def test_one_hostile_segment_anywhere_refuses_the_key(segments: list[str], bad: str) -> None:
    for position in range(len(segments) + 1):
        key = "/".join([*segments[:position], bad, *segments[position:]])
        with pytest.raises(ValueError):
            check_key(key)


@SETTINGS
@given(st.lists(_SAFE, min_size=1, max_size=4), st.lists(_KEY, max_size=8))
def test_a_plan_holds_only_safe_keys_under_the_prefix_and_refuses_the_rest(
    prefix_parts: list[str], keys: list[str]
) -> None:
    prefix = "/".join(prefix_parts)
    listing = [ObjectMeta(k, 1) for k in keys] + [ObjectMeta(f"{prefix}/{k}", 1) for k in keys]
    items, refused = make_plan(
        listing,
        source="s3://b",
        prefix=prefix,
        single=False,
        include=(),
        exclude=(),
        index={},
        local={},
    )
    for item in items:
        assert item.key.startswith(prefix + "/") and check_key(item.key) == item.key
        assert PurePosixPath(inside(ROOT, item.key)).is_relative_to(ROOT / prefix)
    planned = {item.key for item in items}
    refused_keys = {key for key, _ in refused}
    for meta in listing:  # every listed key is planned, or refused with a reason
        assert meta.path in planned or meta.path in refused_keys
    # No two planned keys are one file on macOS or Windows (NFC, case).
    folded = [unicodedata.normalize("NFC", key).casefold() for key in planned - refused_keys]
    assert len(folded) == len(set(folded))


@SETTINGS
@given(st.lists(_SAFE, min_size=1, max_size=5), st.sampled_from(["s3", "gs", "az", "memory"]))
def test_split_url_gives_the_bucket_and_the_prefix_back(parts: list[str], scheme: str) -> None:
    prefix = "/".join(parts)
    if "?" in prefix or "#" in prefix or "%" in prefix:
        return
    if find_hidden(prefix):  # a bidi or other format control (Cf): refused by design
        with pytest.raises(UnsupportedStoreError, match="control character"):
            split_url(f"{scheme}://bucket/{prefix}")
        return
    assert split_url(f"{scheme}://bucket/{prefix}") == (f"{scheme}://bucket", prefix, False)
    assert split_url(f"{scheme}://bucket/{prefix}/") == (f"{scheme}://bucket", prefix, True)


@SETTINGS
@given(st.text(max_size=30))
def test_no_filter_keeps_everything_and_star_excludes_everything(path: str) -> None:
    assert matches(path, (), ())
    assert not matches(path, (), ("*",))
    assert matches(path, ("*",), ())


@SETTINGS
@given(_KEY)
def test_inside_never_accepts_what_check_key_refuses_as_an_escape(key: str) -> None:
    """Belt and braces: even without check_key, trust.inside() keeps the key under DEST."""
    try:
        joined = inside(ROOT, key)
    except UntrustedStoreDataError:
        return
    assert os.path.normpath(joined).startswith(str(ROOT) + os.sep)
