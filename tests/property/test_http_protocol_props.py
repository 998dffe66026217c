"""The registry's error bodies and token text are outside input to the client: whatever a server
sends, the client gets one ModelshelfError with bounded, escaped text, never a crash."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from modelshelf import errors
from modelshelf.errors import (
    AliasConflictError,
    IntegrityError,
    ModelshelfError,
    StoreError,
    VersionExistsError,
    VersionRemovedError,
)
from modelshelf.store.http_protocol import (
    MAX_ERROR_TEXT,
    error_body,
    error_from_body,
    status_for,
    token_name_of,
)

pytestmark = pytest.mark.property

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
_types = st.sampled_from([*errors.__all__, "os", "__class__", "Exception", "KeyError"])


@given(
    status=st.integers(100, 599),
    kind=_types,
    message=st.text(max_size=6000),
    fix=st.text(max_size=80),
    values=st.dictionaries(st.text(max_size=10), _json, max_size=5),
    attrs=st.dictionaries(st.text(max_size=10), _json, max_size=5),
)
@example(
    status=409,
    kind="VersionExistsError",
    message="x",
    fix="{a.__class__}",
    values={"a": "b"},
    attrs={},
)
@example(status=400, kind="InvalidInputError", message="m", fix="; {0}", values={}, attrs={})
# a FileNotFoundError subclass: only OSError's __new__ makes one (LookupError's is found first)
@example(status=404, kind="PathNotInVersionError", message="", fix="", values={}, attrs={})
@example(status=400, kind="InvalidInputError", message="m", fix="; {", values={}, attrs={})
def test_any_error_body_gives_one_bounded_error(status, kind, message, fix, values, attrs):
    body = {
        "error": {
            "type": kind,
            "message": message,
            "fix": fix,
            "fix_values": values,
            "attrs": attrs,
        }
    }
    exc = error_from_body(status, json.loads(json.dumps(body)), "http://127.0.0.1:1")
    assert isinstance(exc, ModelshelfError)
    text = str(exc)
    assert "\n" not in text and "\x1b" not in text
    assert len(text) < MAX_ERROR_TEXT * 5 + 2000
    known = getattr(errors, kind, None)
    if not (isinstance(known, type) and issubclass(known, ModelshelfError)):
        assert type(exc) is StoreError


@given(body=_json)
def test_bodies_that_are_not_errors_are_store_errors(body):
    assert isinstance(error_from_body(502, body, "http://h"), StoreError)


@pytest.mark.parametrize(
    "exc",
    [
        VersionExistsError("nlp/a", "1.0", "s3://b/p"),
        VersionRemovedError("nlp/a", "1.0", "s3://b/p", "removed by ann@h at t"),
        AliasConflictError("nlp/a@prod moved to 1.4 meanwhile"),
        IntegrityError("model.bin", "a" * 64, "b" * 64, "s3://b/p"),
        errors.InvalidInputError("bad --meta").with_fix("; pass {trust}"),
    ],
)
def test_an_error_travels_as_itself_with_the_store_url_swapped(exc):
    body = json.loads(json.dumps(error_body(exc, store_url="s3://b/p", shown_as="https://reg")))
    back = error_from_body(status_for(exc), body, "https://reg")
    assert type(back) is type(exc)
    assert str(back) == str(exc).replace("s3://b/p", "https://reg")
    assert "s3://b/p" not in json.dumps(body)


@given(st.text(max_size=100))
@example("msr_ci_x")
@example("msr__x")
@example("msr_a_")
@example("msr_UP_x")
def test_token_name_of_takes_only_the_token_shape(text):
    name = token_name_of(text)
    if name is not None:
        assert text.startswith(f"msr_{name}_") and len(text) > len(name) + 5
        assert "_" not in name and name == name.lower()
