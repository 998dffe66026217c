"""Properties of engine detection: any bytes give a format or our error, read within bounds."""

from __future__ import annotations

import io
import pickle
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelshelf.errors import UnknownModelFormatError
from modelshelf.models import detect
from modelshelf.models.detect import DetectedFormat, detect_format

pytestmark = pytest.mark.property

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Small bounds so that short generated files cross them and the byte count means something.
SMALL_HEAD = 48
SMALL_TAIL = 200

EXTENSIONS = ["", ".pkl", ".joblib", ".pt", ".onnx", ".safetensors", ".skops", ".zip", ".gz"]
MAGICS = [
    b"",
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"\x80\x02",
    b"\x80\x05",
    b"\x1f\x8b\x08",
    b"BZh9",
    b"\xfd7zXZ\x00",
    b"\x5d\x00\x00",
    b"\x78\x9c",
    b"ZF0x",
    b"\x08\x08\x12",
    b"(dp0\n",
]


def _zip(entries: list[str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in entries:
            zf.writestr(name, b"x")
    return buf.getvalue()


def _safetensors_prefix(n: int) -> bytes:
    return struct.pack("<Q", n) + b"{"


entry_names = st.sampled_from(
    ["a/data.pkl", "a/version", "a/data/0", "a/code/x.py", "a/constants.pkl", "schema.json", "z"]
)
starts = st.one_of(
    st.sampled_from(MAGICS),
    st.integers(0, 2**64 - 1).map(_safetensors_prefix),
    st.lists(entry_names, max_size=5, unique=True).map(_zip),
    st.sampled_from([zlib.compress(pickle.dumps({"a": 1}, protocol=4))]),
)


def _mutate(data: bytes, cut: int, flips: list[tuple[int, int]]) -> bytes:
    out = bytearray(data[: max(0, len(data) - cut)])
    for pos, value in flips:
        if out:
            out[pos % len(out)] = value
    return bytes(out)


contents = st.builds(
    _mutate,
    st.builds(lambda a, b: a + b, starts, st.binary(max_size=600)),
    st.integers(0, 50),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=3),
)


@SETTINGS
@given(contents, st.sampled_from(EXTENSIONS))
def test_any_bytes_give_a_format_or_our_error_within_the_bound(data: bytes, ext: str) -> None:
    read = [0]
    real = detect._open_binary

    class Counting(io.RawIOBase):
        def __init__(self, path: Path) -> None:
            self._f: BinaryIO = real(path)

        def seek(self, offset: int, whence: int = 0) -> int:
            return self._f.seek(offset, whence)

        def read(self, n: int | None = -1) -> bytes:
            chunk = self._f.read(-1 if n is None else n)
            read[0] += len(chunk)
            return chunk

        def close(self) -> None:
            self._f.close()
            super().close()

    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        mp.setattr(detect, "HEAD_BYTES", SMALL_HEAD)
        mp.setattr(detect, "TAIL_BYTES", SMALL_TAIL)
        mp.setattr(detect, "_open_binary", Counting)
        path = Path(tmp, "model" + ext)
        path.write_bytes(data)
        try:
            got = detect_format(path)
        except UnknownModelFormatError as err:
            assert path.name in str(err)
        else:
            assert isinstance(got, DetectedFormat)
            assert got.engine in detect.ENGINES and got.path == path
            assert got.needs_trust == (got.engine in detect.NEEDS_TRUST)
        assert read[0] <= SMALL_HEAD + SMALL_TAIL
        assert read[0] == min(len(data), SMALL_HEAD + SMALL_TAIL)


@SETTINGS
@given(st.binary(max_size=2000), st.sampled_from(EXTENSIONS))
def test_raw_bytes_at_the_real_bounds(data: bytes, ext: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "m" + ext)
        path.write_bytes(data)
        try:
            got = detect_format(path)
        except UnknownModelFormatError:
            return
        assert got.engine in detect.ENGINES
