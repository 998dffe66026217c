"""safetensors: tensors by name, loaded without trust, their header checked before any read.

A safetensors file is an 8-byte little-endian header length N, N bytes of JSON naming each
tensor's dtype, shape and byte range, then the bytes: nothing in it is code, so loading needs no
trust. The file is outside input (a pulled asset, a user's download), so :func:`read_header`
bounds and checks the header before the ``safetensors`` package reads anything: N fits the
file and :data:`MAX_HEADER_BYTES`, the JSON is not denser in values than a real header, every
entry names a known dtype, a shape of at most 32 sizes and a byte range inside the data that
holds exactly that many elements. A refusal is one :class:`UnknownModelFormatError`.

The ``safetensors`` package is the ``safetensors`` extra (``pip install modelshelf[safetensors]``).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelshelf import trust
from modelshelf.errors import RequirementsError, UnknownModelFormatError

__all__ = [
    "DTYPES",
    "MAX_HEADER_BYTES",
    "TensorEntry",
    "load_file",
    "load_numpy",
    "load_torch",
    "read_header",
]

MAX_HEADER_BYTES = 8 * 2**20
"""The largest header read: about 100,000 tensors of ~80 bytes each (a 70B-parameter model's
largest shard names a few hundred). The ``safetensors`` package itself allows 100 MB."""
DTYPES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}
"""The dtypes a header may name, and their size in bytes."""
NUMPY_LACKS = frozenset({"BF16", "F8_E5M2", "F8_E4M3"})
MAX_DIMS = 32
MAX_DIM = 2**53
"""The largest size of one dimension (and offset) a header may give: far beyond any file, small
enough that sizes multiply and print as plain numbers."""
_HINT = "Check the file; a safetensors file is an 8-byte header length, a JSON header, the data."


@dataclass(frozen=True)
class TensorEntry:
    """One tensor of the header: dtype, shape, and its byte range in the data part."""

    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


def _shown(value: object) -> str:
    """A JSON value from the header, quoted as JSON text (bounded, one line).

    Integers past :data:`MAX_DIM` are shown by their digit count: turning a 5,000-digit int
    into text is refused by Python (and slow well before that)."""
    return trust.show(json.dumps(_bounded(value)))


def _bounded(value: object) -> object:
    if type(value) is int and not -MAX_DIM <= value <= MAX_DIM:
        return f"<an int of about {value.bit_length() * 3 // 10 + 1} digits>"
    if isinstance(value, list):
        return [_bounded(v) for v in value[:40]] + (["..."] if len(value) > 40 else [])
    return value


def _refuse(path: Path, reason: str) -> UnknownModelFormatError:
    return UnknownModelFormatError(str(path), f"safetensors, but {reason}", hint=_HINT)


def read_header(path: Path) -> dict[str, TensorEntry]:
    """The tensors the header of ``path`` names, checked (see the module docstring).

    Raises:
        UnknownModelFormatError: the header is too large, not JSON, or does not describe the
            file; one line saying which, nothing beyond the header read.
    """
    with path.open("rb") as source:
        size = os.fstat(source.fileno()).st_size
        prefix = source.read(8)
        if len(prefix) < 8:
            raise _refuse(path, f"the file holds {size} bytes, fewer than a header length")
        length = int.from_bytes(prefix, "little")
        if length > size - 8:
            raise _refuse(
                path, f"its header length is {length} bytes, more than the file holds ({size})"
            )
        if length > MAX_HEADER_BYTES:
            raise _refuse(
                path,
                f"its header takes {length} bytes, over the {MAX_HEADER_BYTES} modelshelf reads",
            )
        raw = source.read(length)
    values = raw.count(b",") + raw.count(b"{") + raw.count(b"[")
    if values > length // 4 + 64:
        raise _refuse(path, f"its header holds {values} values in {length} bytes, not a header")
    try:
        header = trust.loads_json(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise _refuse(path, f"its header is not JSON ({trust.show(str(exc))})") from None
    if not isinstance(header, dict):
        raise _refuse(path, f"its header is {trust.show(header)}, not an object")
    return _entries(path, header, size - 8 - length)


def _entries(path: Path, header: dict[str, Any], data_size: int) -> dict[str, TensorEntry]:
    metadata = header.get("__metadata__", {})
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise _refuse(path, "its __metadata__ is not an object of text")
    entries: dict[str, TensorEntry] = {}
    for name, item in header.items():
        if name == "__metadata__":
            continue
        where = f"tensor {trust.show(name)}"
        if not isinstance(item, dict) or set(item) != {"dtype", "shape", "data_offsets"}:
            raise _refuse(path, f"{where} is not {{dtype, shape, data_offsets}}")
        dtype, shape, offsets = item["dtype"], item["shape"], item["data_offsets"]
        if not isinstance(dtype, str) or dtype not in DTYPES:
            raise _refuse(path, f"{where} has the unknown dtype {trust.show(dtype)}")
        if (
            not isinstance(shape, list)
            or len(shape) > MAX_DIMS
            or any(type(d) is not int or not 0 <= d <= MAX_DIM for d in shape)
        ):
            raise _refuse(path, f"{where} has the shape {_shown(shape)}")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or any(type(o) is not int for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= data_size
        ):
            raise _refuse(
                path,
                f"{where} has data_offsets {_shown(offsets)} outside its {data_size} bytes",
            )
        needed = math.prod(shape) * DTYPES[dtype]  # 32 sizes of at most 2**53: a bounded int
        if offsets[1] - offsets[0] != needed:
            wanted = needed if needed <= MAX_DIM else f"more than {MAX_DIM}"
            raise _refuse(
                path,
                f"{where} takes {offsets[1] - offsets[0]} bytes but {dtype} {shape} needs {wanted}",
            )
        entries[name] = TensorEntry(dtype, tuple(shape), offsets[0], offsets[1])
    return entries


def load_file(path: Path, *, framework: str = "auto") -> dict[str, Any]:
    """The tensors of a safetensors file by name, after :func:`read_header` accepted it.

    Args:
        path: the file.
        framework: ``"numpy"`` (arrays), ``"torch"`` (CPU tensors), or ``"auto"``: torch when
            it is installed, else numpy.

    Raises:
        UnknownModelFormatError: the header is refused, or the package refuses the file.
        RequirementsError: the ``safetensors`` package (or torch, when asked) is missing.
        ValueError: an unknown ``framework``.
    """
    if framework not in ("auto", "numpy", "torch"):
        raise ValueError(f"framework must be 'auto', 'numpy' or 'torch', not {framework!r}")
    entries = read_header(path)
    if framework == "auto":
        framework = "torch" if importlib.util.find_spec("torch") is not None else "numpy"
    lacking = sorted({e.dtype for e in entries.values()} & NUMPY_LACKS)
    if framework == "numpy" and lacking:
        raise _refuse(
            path,
            f"it holds {', '.join(lacking)} tensors, which numpy cannot hold; load it as torch"
            " tensors (modelshelf.models.engines.safetensors:load_torch, with torch installed)",
        )
    try:
        if framework == "torch":
            from safetensors.torch import load_file as load_torch_file

            return dict(load_torch_file(str(path), device="cpu"))
        from safetensors.numpy import load_file as load_numpy_file

        return dict(load_numpy_file(str(path)))
    except ModuleNotFoundError as exc:
        package = "safetensors" if (exc.name or "").startswith("safetensors") else exc.name
        raise RequirementsError(
            f"{path.name} is safetensors; loading it needs the package {package}: pip install"
            f" {package}" + (" (or modelshelf[safetensors])" if package == "safetensors" else "")
        ) from None
    except Exception as exc:  # the package's SafetensorError on what the header check allows
        raise _refuse(
            path, f"the safetensors package refused it: {trust.show(str(exc), 200)}"
        ) from None


def load_numpy(path: Path) -> dict[str, Any]:
    """``loader=`` for ``load_model``: the tensors as numpy arrays (a folder: its one
    safetensors file, as detection finds it)."""
    return load_file(_the_file(Path(path)), framework="numpy")


def load_torch(path: Path) -> dict[str, Any]:
    """``loader=`` for ``load_model``: the tensors as CPU torch tensors (a folder: its one
    safetensors file)."""
    return load_file(_the_file(Path(path)), framework="torch")


def _the_file(path: Path) -> Path:
    if not path.is_dir():
        return path
    from modelshelf.models.detect import detect_format

    found = detect_format(path)
    if found.engine != "safetensors":
        raise UnknownModelFormatError(
            str(path), f"its model file {found.path.name} is {found.engine}, not safetensors"
        )
    return found.path
