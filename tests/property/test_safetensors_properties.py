"""Properties of the safetensors loader: any file loads as its header says, or is refused by our
one error (never the package's, never a crash)."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelshelf.errors import ModelshelfError, UnknownModelFormatError
from modelshelf.models.engines import safetensors as st_engine

pytest.importorskip("safetensors.numpy")
pytestmark = pytest.mark.property


def write(path: Path, header: bytes, data: bytes, *, length: int | None) -> Path:
    size = len(header) if length is None else length
    path.write_bytes(struct.pack("<Q", size) + header + data)
    return path


SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=20,
)
entries = st.fixed_dictionaries(
    {
        "dtype": st.one_of(st.sampled_from(sorted(st_engine.DTYPES)), json_values),
        "shape": st.one_of(st.lists(st.integers(-2, 5), max_size=3), json_values),
        "data_offsets": st.one_of(st.lists(st.integers(-2, 64), max_size=3), json_values),
    }
)


@SETTINGS
@given(
    st.one_of(
        st.binary(max_size=200),
        st.dictionaries(st.text(max_size=6), st.one_of(entries, json_values), max_size=4).map(
            lambda h: json.dumps(h).encode()
        ),
    ),
    st.binary(max_size=80),
    st.one_of(st.none(), st.integers(0, 2**64 - 1)),
)
def test_any_file_loads_or_is_refused_by_our_error(
    tmp_path_factory: pytest.TempPathFactory, header: bytes, data: bytes, length: int | None
) -> None:
    path = write(tmp_path_factory.mktemp("st") / "x.safetensors", header, data, length=length)
    try:
        tensors = st_engine.load_file(path, framework="numpy")
    except ModelshelfError as exc:
        assert isinstance(exc, UnknownModelFormatError)
        return
    checked = st_engine.read_header(path)
    assert set(tensors) == set(checked)
    for name, array in tensors.items():
        assert tuple(array.shape) == checked[name].shape


NUMPY_DTYPES = sorted(set(st_engine.DTYPES) - st_engine.NUMPY_LACKS)


@SETTINGS
@given(
    st.dictionaries(
        st.text(st.characters(codec="utf-8"), min_size=1, max_size=8).filter(
            lambda n: n != "__metadata__"
        ),
        st.tuples(st.sampled_from(NUMPY_DTYPES), st.lists(st.integers(0, 4), max_size=3)),
        min_size=1,
        max_size=4,
    ),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
)
def test_a_well_formed_file_loads_as_its_header_says(
    tmp_path_factory: pytest.TempPathFactory,
    tensors: dict[str, tuple[str, list[int]]],
    metadata: dict[str, str],
) -> None:
    header: dict[str, object] = {"__metadata__": metadata} if metadata else {}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        size = st_engine.DTYPES[dtype] * math.prod(shape)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    data = b"\x01" * offset  # a valid element of every dtype (BOOL takes only 0 and 1)
    raw = json.dumps(header).encode()
    path = write(tmp_path_factory.mktemp("ok") / "x.safetensors", raw, data, length=None)
    loaded = st_engine.load_file(path, framework="numpy")
    assert {n: tuple(a.shape) for n, a in loaded.items()} == {
        n: tuple(shape) for n, (_, shape) in tensors.items()
    }
