"""Properties of the signature parser (store input) and of the check of OIP inputs against it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelshelf import trust
from modelshelf.models.signature import (
    DATATYPES,
    MAX_DIMS,
    MAX_NAME,
    MAX_TENSORS,
    Signature,
    TensorSpec,
)

pytestmark = pytest.mark.property

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

names = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=40
)
dims = st.lists(st.integers(min_value=-1, max_value=64), max_size=6)
specs = st.builds(TensorSpec, names, st.sampled_from(DATATYPES), dims.map(tuple))


def _unique(items: list[TensorSpec]) -> bool:
    return len({t.name for t in items}) == len(items)


signatures = st.builds(
    Signature,
    st.lists(specs, min_size=1, max_size=5).filter(_unique).map(tuple),
    st.lists(specs, max_size=5).filter(_unique).map(tuple),
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=30,
)


@SETTINGS
@given(signatures)
def test_a_signature_survives_json(signature: Signature) -> None:
    text = json.dumps(signature.to_dict())
    assert Signature.from_dict(json.loads(text)) == signature


def _spec_like() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "name": st.one_of(names, json_values),
            "datatype": st.one_of(st.sampled_from(DATATYPES), json_values),
            "shape": st.one_of(dims, json_values),
        },
        optional={"extra": json_values},
    )


@SETTINGS
@given(
    st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"inputs": st.lists(_spec_like(), max_size=4)},
            optional={"outputs": st.lists(_spec_like(), max_size=4), "x": json_values},
        ),
    )
)
def test_any_json_parses_within_bounds_or_is_refused_in_one_line(data: object) -> None:
    try:
        signature = Signature.from_dict(data)
    except ValueError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 700
        return
    assert 1 <= len(signature.inputs) <= MAX_TENSORS and len(signature.outputs) <= MAX_TENSORS
    for spec in signature.inputs + signature.outputs:
        assert spec.datatype in DATATYPES
        assert 0 < len(spec.name) <= MAX_NAME and trust.check_text(spec.name, "name")
        assert len(spec.shape) <= MAX_DIMS
        assert all(type(d) is int and d >= -1 for d in spec.shape)
    assert Signature.from_dict(signature.to_dict()) == signature


@SETTINGS
@given(signatures, st.data())
def test_inputs_made_from_the_signature_never_contradict_it(
    signature: Signature, data: st.DataObject
) -> None:
    given_inputs = [
        (
            spec.name,
            spec.datatype,
            tuple(data.draw(st.integers(0, 9)) if d == -1 else d for d in spec.shape),
        )
        for spec in signature.inputs
    ]
    assert signature.contradiction(given_inputs) is None


@SETTINGS
@given(
    signatures,
    st.lists(
        st.tuples(names, st.sampled_from(DATATYPES), dims.map(lambda s: tuple(abs(d) for d in s))),
        min_size=1,
        max_size=5,
    ),
)
def test_any_inputs_get_an_answer_in_one_line(
    signature: Signature, inputs: list[tuple[str, str, tuple[int, ...]]]
) -> None:
    why = signature.contradiction(inputs)
    assert why is None or ("\n" not in why and why.startswith("input "))
