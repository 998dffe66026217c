"""Hypothesis: a local verified copy is byte-exact at every size around the chunk boundaries."""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelshelf import IntegrityError, constants
from modelshelf.transfer import local_copy as _local_copy

pytestmark = pytest.mark.property

CHUNK = 4096
EDGES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK - 1, 2 * CHUNK, 2 * CHUNK + 1, 3 * CHUNK + 7]
SIZES = st.one_of(st.sampled_from(EDGES), st.integers(0, 4 * CHUNK))


def _refused(*args: object) -> int:
    raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))


@settings(max_examples=120, deadline=None)
@given(
    size=SIZES,
    fallback=st.booleans(),
    mapped=st.booleans(),
    damage=st.booleans(),
    seed=st.binary(max_size=8),
)
def test_copy_is_byte_exact_and_verified(
    size: int, fallback: bool, mapped: bool, damage: bool, seed: bytes
) -> None:
    """Copied by copy_file_range or the fallback, hashed back through a mapping or reads."""
    data = (hashlib.sha256(seed).digest() * (size // 32 + 1))[:size]
    expected = hashlib.sha256(data).hexdigest()
    claimed = expected if not (damage and size) else hashlib.sha256(data + b"!").hexdigest()
    with tempfile.TemporaryDirectory() as folder, mock.patch.object(constants, "CHUNK_SIZE", CHUNK):
        source, dest = Path(folder) / "blob", Path(folder) / "out"
        source.write_bytes(data)
        patch = mock.patch.object(os, "copy_file_range", _refused) if fallback else None
        if patch is not None:
            patch.start()
        try:
            if claimed != expected:
                with pytest.raises(IntegrityError):
                    _local_copy.download_local(source, size, claimed, dest, label="b", where=folder)
            else:
                _local_copy.download_local(source, size, claimed, dest, label="b", where=folder)
                assert dest.read_bytes() == data
        finally:
            if patch is not None:
                patch.stop()
