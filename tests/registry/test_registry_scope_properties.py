"""Hypothesis properties of what the registry parses from outside: scopes (a token record, a
``POST /tokens`` body), the token's text in an ``Authorization`` header, and expiry durations.

Checked against independent models: a prefix without ``/`` at its end covers whole segments
(the name's segments start with the prefix's), one with ``/`` covers the names that start with
it; ``admin`` > ``write`` > ``read``; any text either parses or raises InvalidInputError.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from modelshelf.backends.memory import MemoryBackend
from modelshelf.errors import InvalidInputError
from modelshelf.registry.context import CallerRefusedError
from modelshelf.registry.scopes import ACTIONS, Scope, parse_scope
from modelshelf.registry.tokens import TokenBook, parse_duration
from modelshelf.store.bucket import Store
from modelshelf.store.http_protocol import TOKEN_NAME, token_name_of

pytestmark = pytest.mark.property

SETTINGS = settings(max_examples=400, deadline=None)

segment = st.text("ab1.-", min_size=1, max_size=4).filter(lambda s: s[0].isalnum())
names = st.lists(segment, min_size=1, max_size=4).map("/".join)
prefixes = st.one_of(st.just("*"), names, names.map(lambda n: n + "/"))
actions = st.sampled_from(ACTIONS)
token_names = st.from_regex(TOKEN_NAME, fullmatch=True)
secrets_text = st.text(min_size=1, max_size=50)


def _covers_model(prefix: str, name: str) -> bool:
    if prefix == "*":
        return True
    if prefix.endswith("/"):
        return name.startswith(prefix)
    wanted = prefix.split("/")
    return name.split("/")[: len(wanted)] == wanted


@SETTINGS
@given(actions, prefixes)
def test_scope_text_round_trips(action: str, prefix: str) -> None:
    scope = parse_scope(f"{action}:{prefix}")
    assert scope == Scope(action, prefix)  # type: ignore[arg-type]
    assert parse_scope(str(scope)) == scope


@SETTINGS
@given(st.text(max_size=40))
@example("read:")
@example("read:nlp//x")
@example("own:*")
@example("read:/nlp")
def test_any_text_parses_or_is_invalid_input(text: str) -> None:
    try:
        scope = parse_scope(text)
    except InvalidInputError:
        return
    assert str(scope) == text


@SETTINGS
@given(actions, prefixes, names)
def test_a_scope_covers_what_the_model_says(action: str, prefix: str, name: str) -> None:
    scope = Scope(action, prefix)  # type: ignore[arg-type]
    assert scope.covers_name(name) == _covers_model(prefix, name)
    assert scope.allows(action, name) == _covers_model(prefix, name)  # type: ignore[arg-type]


@SETTINGS
@given(actions, actions, prefixes, st.one_of(st.none(), names))
def test_higher_actions_imply_lower(
    granted: str, asked: str, prefix: str, name: str | None
) -> None:
    scope = Scope(granted, prefix)  # type: ignore[arg-type]
    below = ACTIONS.index(asked) <= ACTIONS.index(granted)  # type: ignore[arg-type]
    covered = prefix == "*" if name is None else _covers_model(prefix, name)
    assert scope.allows(asked, name) == (below and covered)  # type: ignore[arg-type]


@SETTINGS
@given(token_names, secrets_text)
def test_token_name_is_found_in_its_text(name: str, secret: str) -> None:
    assert token_name_of(f"msr_{name}_{secret}") == name


@SETTINGS
@given(st.text(max_size=80))
@example("msr__x")
@example("msr_a_")
@example("msr_A_x")
def test_token_name_of_any_text_is_a_name_or_none(text: str) -> None:
    name = token_name_of(text)
    if name is not None:
        assert TOKEN_NAME.fullmatch(name)
        assert text.startswith(f"msr_{name}_") and len(text) > len(name) + 5


_BOOK = TokenBook(Store(MemoryBackend("memory://registry-properties")))
_REAL, _ = _BOOK.create("real", ["read:*"], None, created_by="test")


@SETTINGS
@given(st.one_of(st.text(max_size=80), st.builds("msr_real_{}".format, secrets_text)))
@example(text="modelshe")  # a word of the refusal's own text, not an echo of what was sent
def test_verify_refuses_any_other_text_with_401(text: str) -> None:
    if text == _REAL:
        return
    secret = text.split("_", 2)[-1]
    messages = []
    for sent in (text, text[: len(text) - len(secret)] + "Q" * len(secret)):
        with pytest.raises(CallerRefusedError) as refused:
            _BOOK.verify(sent)
        assert refused.value.status == 401
        messages.append(str(refused.value))
    # The refusal never echoes the secret: it reads the same whatever the secret was.
    assert messages[0] == messages[1], messages
    assert len(secret) < 8 or "Q" * len(secret) not in messages[1]


@SETTINGS
@given(st.text(max_size=12))
def test_durations_parse_or_are_invalid_input(text: str) -> None:
    try:
        span = parse_duration(text)
    except InvalidInputError:
        return
    assert span.total_seconds() > 0 and text[-1] in "dhm"
