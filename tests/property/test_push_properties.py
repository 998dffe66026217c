"""Properties of what a push reads: the verifying upload reader and the public git URL."""

from __future__ import annotations

import hashlib
import io
from urllib.parse import urlsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from modelshelf.shelf.source import public_url
from modelshelf.transfer.verified_upload import SourceChanged, VerifyingReader

pytestmark = pytest.mark.property

SETTINGS = settings(max_examples=300, deadline=None)

contents = st.binary(max_size=300)


@st.composite
def file_changes(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """What was hashed, and what the file holds when it is uploaded (often a small edit)."""
    original = draw(contents)
    kind = draw(st.sampled_from(["same", "flip", "grow", "shrink", "other"]))
    if kind == "same" or (not original and kind in ("flip", "shrink")):
        return original, original
    if kind == "flip":
        at = draw(st.integers(0, len(original) - 1))
        return original, original[:at] + bytes([original[at] ^ 1]) + original[at + 1 :]
    if kind == "grow":
        return original, original + draw(st.binary(min_size=1, max_size=20))
    if kind == "shrink":
        return original, original[: draw(st.integers(0, len(original) - 1))]
    return original, draw(contents)


@SETTINGS
@given(file_changes(), st.lists(st.integers(1, 128), min_size=1, max_size=8))
def test_reader_hands_out_a_whole_body_only_if_it_is_the_hashed_one(
    change: tuple[bytes, bytes], read_sizes: list[int]
) -> None:
    original, now = change
    reader = VerifyingReader(io.BytesIO(now), len(original), hashlib.sha256(original).hexdigest())
    returned = b""
    try:
        for step in range(10_000):
            chunk = reader.read(read_sizes[step % len(read_sizes)])
            if not chunk:
                break
            returned += chunk
    except SourceChanged:
        assert now != original and reader.failure is not None
        return
    assert now == original
    assert returned == original and reader.verified


@SETTINGS
@example("ssh", "token", "0", "a.example")  # a user named token is no query's token
@given(
    st.sampled_from(["https", "http", "ssh", "git+ssh"]),
    st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=12),
    st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=12),
    st.from_regex(r"[a-z]{1,10}\.example", fullmatch=True),
)
def test_public_url_never_keeps_a_password(scheme: str, user: str, secret: str, host: str) -> None:
    url = f"{scheme}://{user}:{secret}@{host}/org/repo.git?token={secret}#{secret}"
    public = public_url(url)
    assert urlsplit(public).password is None
    assert urlsplit(public).hostname == host
    assert f":{secret}@" not in public and "token=" not in public
    assert urlsplit(public).query == "" and urlsplit(public).fragment == ""
