"""Hypothesis properties of what the registry client reads from outside: store URLs, Retry-After,
listed blobs, and the running check of an upload sent in pieces (resent pieces included)."""

from __future__ import annotations

import hashlib
import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelshelf.errors import ModelshelfError, SourcePathError, UnsupportedStoreError
from modelshelf.store._http_blobs import _Checked
from modelshelf.store._http_transport import _retry_after
from modelshelf.store.http import HttpStore

pytestmark = pytest.mark.property

SETTINGS = settings(max_examples=300, deadline=None)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=70),
    lambda inner: st.lists(inner, max_size=5),
    max_leaves=10,
)


@SETTINGS
@given(st.one_of(st.none(), st.text(max_size=30), st.from_regex(r"-?[0-9]{1,6}(\.[0-9]+)?")))
def test_retry_after_is_always_a_wait_within_its_bound(value: str | None) -> None:
    wait = _retry_after(value, 2.0)
    assert 0.0 <= wait <= 2.0


@SETTINGS
@given(
    st.one_of(
        st.text(max_size=60),
        st.builds(
            lambda scheme, user, host, rest: f"{scheme}://{user}{host}{rest}",
            st.sampled_from(["http", "https", "HTTPS", "s3"]),
            st.sampled_from(["", "u@", "u:pw-SECRET@", "u:pw/SECRET/x@"]),
            st.sampled_from(["host", "127.0.0.1:8080", "[::1]:9", "h:port", ""]),
            st.text(max_size=20),
        ),
    )
)
def test_a_store_url_is_a_plain_base_or_refused_without_its_password(url: str) -> None:
    try:
        store = HttpStore(url)
    except UnsupportedStoreError as exc:
        assert "SECRET" not in str(exc)
        return
    except ModelshelfError:  # a token from the environment: none in these tests
        raise
    try:
        assert re.fullmatch(r"https?://[^@?#\s]+", store.url, re.IGNORECASE)
        assert "SECRET" not in store.url and not store.url.endswith("/")
    finally:
        store.close()


@SETTINGS
@given(JSON, st.booleans())
def test_a_listed_blob_is_valid_or_skipped(item: object, quarantined: bool) -> None:
    store = HttpStore.__new__(HttpStore)
    entry = store._blob_entry(item, 1 if quarantined else 0)
    if entry is not None:
        run, sha256, meta = entry
        assert re.fullmatch(r"[0-9a-f]{64}", sha256) and meta.size >= 0
        assert (run != "") == quarantined


def changed(reason: str) -> SourcePathError:
    return SourcePathError("f", reason)


@SETTINGS
@given(st.binary(max_size=300), st.data())
def test_an_upload_is_checked_across_pieces_and_resends(data: bytes, draw: st.DataObject) -> None:
    sha256 = hashlib.sha256(data).hexdigest()
    checked = _Checked(sha256, len(data), changed)
    position = 0
    while position < len(data):
        end = draw.draw(st.integers(position + 1, len(data)))
        cuts: list[int] = []
        if end - position > 1:
            cuts = sorted(draw.draw(st.sets(st.integers(position + 1, end - 1), max_size=3)))
        bounds = [position, *cuts, end]
        pieces = iter(data[a:b] for a, b in itertools.pairwise(bounds))
        sent = b"".join(checked.send(position, pieces, end))
        assert sent == data[position:end]
        # A chunk cut on the way is sent again from where it started: hashed once only.
        if draw.draw(st.booleans()):
            again = b"".join(checked.send(position, iter((data[position:end],)), end))
            assert again == data[position:end]
        position = end
    checked.check()
    wrong = _Checked(hashlib.sha256(data + b"!").hexdigest(), len(data), changed)
    with pytest.raises(SourcePathError):  # before the last piece leaves
        b"".join(wrong.send(0, iter((data,)), len(data)))
        wrong.check()  # an empty upload sends no piece: checked at the end
