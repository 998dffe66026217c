"""The detection rules: what a file's first and last bytes (and its extension, as a hint) say
it holds, one function per signature, tried in :data:`RULES` order (the table in
:mod:`modelshelf.models.detect`, which owns finding the files and choosing one).

Each rule takes ``(head, tail, size, extension)`` and answers ``None`` (not this format),
``(engine, evidence)``, or ``("", why)`` for a file that is certainly not a model. Pure: no
ML library, no unpickling, nothing executed; a compressed head is inflated only to
:data:`INFLATE_BYTES`.
"""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from collections.abc import Callable
from io import BytesIO

from modelshelf import trust

__all__ = ["RULES", "Rule", "extension_note"]

INFLATE_BYTES = 4096
"""Bytes inflated from a compressed container's head to look for a pickle header."""
MAX_SAFETENSORS_HEADER = 100 * 1000 * 1000
PICKLE_EXTENSIONS = frozenset({".pkl", ".pickle", ".joblib", ".p", ".sav"})
# Opcodes a protocol 0/1 pickle of a model-like object starts with: MARK, EMPTY_DICT, EMPTY_LIST,
# GLOBAL, EMPTY_TUPLE, NONE, INT, LONG, STRING, UNICODE, BININT1, BININT, BINUNICODE.
OLD_PICKLE_FIRST = frozenset(b"(}]c)NILSVKJX")
JOBLIB_MARKERS = (b"joblib.numpy_pickle", b"NumpyArrayWrapper")
# ModelProto field number -> wire type (0 varint, 2 length-delimited), from onnx.proto.
ONNX_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}
ONNX_FIELDS_CHECKED = 6


_EXPECTED_EXTENSIONS = {
    "pickle": PICKLE_EXTENSIONS,
    "joblib": PICKLE_EXTENSIONS | {".gz", ".z", ".bz2", ".xz", ".lzma", ".zlib"},
    "skops": frozenset({".skops", ".zip"}),
    "torch": frozenset({".pt", ".pth", ".ckpt", ".tar", ".zip"}),
    "torchscript": frozenset({".pt", ".pth", ".ptl", ".zip", ".torchscript"}),
    "safetensors": frozenset({".safetensors"}),
    "onnx": frozenset({".onnx"}),
}


def extension_note(engine: str, ext: str) -> str:
    known = set().union(*_EXPECTED_EXTENSIONS.values())
    if ext in known and ext not in _EXPECTED_EXTENSIONS[engine]:
        return f"; extension {ext} overruled by the signature"
    return ""


Rule = Callable[[bytes, bytes, int, str], "tuple[str, str] | None"]


def _zip_rule(head: bytes, tail: bytes, size: int, ext: str) -> tuple[str, str] | None:
    """Rules 1-3. An empty engine name means "a zip, but not a model": stop there."""
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return None
    try:
        with zipfile.ZipFile(BytesIO(tail)) as zf:
            names = zf.namelist()
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,  # a "version needed to extract" zipfile does not know
        ValueError,
        OSError,
        EOFError,
        KeyError,
    ):
        return "", "starts like a zip archive but its central directory is missing or too large"
    entries = set(names)
    for name in names:
        if (name == "data.pkl" or name.endswith("/data.pkl")) and name.count("/") <= 1:
            top = name[: -len("data.pkl")]
            code = any(n.startswith(f"{top}code/") for n in names)
            if code or f"{top}constants.pkl" in entries:
                what = f"{top}code/" if code else f"{top}constants.pkl"
                return "torchscript", f"zip archive with {name} and {what}"
            for marker in (f"{top}version", f"{top}.data/version"):
                if marker in entries:
                    return "torch", f"zip archive with {name} and {marker}"
            if any(n.startswith(f"{top}data/") for n in names):
                return "torch", f"zip archive with {name} and {top}data/ entries"
    if "schema.json" in entries:
        return "skops", "zip archive with schema.json at its root"
    # entry names come from the file: escaped and cut
    shown = ", ".join(trust.show(n, 60) for n in sorted(names)[:5]) + (
        ", ..." if len(names) > 5 else ""
    )
    return "", f"zip archive of {len(names)} entries ({shown}) with no torch or skops layout"


def _safetensors_rule(head: bytes, tail: bytes, size: int, ext: str) -> tuple[str, str] | None:
    if len(head) < 10:
        return None
    (n,) = struct.unpack("<Q", head[:8])
    if not (2 <= n <= size - 8 and n <= MAX_SAFETENSORS_HEADER) or head[8:9] != b"{":
        return None
    if 8 + n > len(head):
        return "safetensors", f"header of {n} bytes starting with '{{' (too long to check here)"
    try:
        header = json.loads(head[8 : 8 + n])
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(header, dict) or not all(isinstance(v, dict) for v in header.values()):
        return None
    tensors = sum(1 for k in header if k != "__metadata__")
    return "safetensors", f"JSON header of {n} bytes naming {tensors} tensor(s)"


def _inflate(kind: str, data: bytes) -> bytes:
    """At most INFLATE_BYTES of a compressed stream's start; b"" when it does not inflate."""
    try:
        if kind in ("zlib", "gzip"):
            return zlib.decompressobj(31 if kind == "gzip" else 15).decompress(data, INFLATE_BYTES)
        if kind == "bz2":
            import bz2

            return bz2.BZ2Decompressor().decompress(data, INFLATE_BYTES)
    except (zlib.error, OSError, EOFError, ValueError, MemoryError):
        return b""
    try:
        import lzma
    except ImportError:  # a Python built without lzma: xz and lzma are then not recognised
        return b""
    fmt = lzma.FORMAT_XZ if kind == "xz" else lzma.FORMAT_ALONE
    try:
        return lzma.LZMADecompressor(format=fmt).decompress(data, INFLATE_BYTES)
    except (lzma.LZMAError, EOFError, ValueError, MemoryError):
        return b""


def _compressed_kind(head: bytes) -> tuple[str, bytes] | None:
    if head.startswith(b"ZF0x"):
        return "old ZF (zlib)", head[21:]  # b"ZF" + hex length padded to 19 bytes
    if head.startswith(b"\x1f\x8b\x08"):
        return "gzip", head
    if head.startswith(b"BZh") and head[3:4] in b"123456789" and len(head) > 3:
        return "bz2", head
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz", head
    if head.startswith(b"\x5d\x00\x00"):
        return "lzma", head
    if len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return "zlib", head
    return None


def _compressed_rule(head: bytes, tail: bytes, size: int, ext: str) -> tuple[str, str] | None:
    found = _compressed_kind(head)
    if found is None:
        return None
    kind, data = found
    inner = _inflate("zlib" if kind.startswith("old") else kind, data)
    protocol = _pickle_protocol(inner)
    if protocol is None:
        return None
    return "joblib", f"{kind} stream holding a pickle (protocol {protocol})"


def _pickle_protocol(data: bytes) -> int | None:
    if len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5:
        return data[1]
    return None


def _pickle_rule(head: bytes, tail: bytes, size: int, ext: str) -> tuple[str, str] | None:
    protocol = _pickle_protocol(head)
    if protocol is None:
        return None
    for marker in JOBLIB_MARKERS:
        if marker in head:
            return "joblib", f"pickle (protocol {protocol}) naming {marker.decode()}"
    if ext == ".joblib":
        return "joblib", f"pickle (protocol {protocol}) named .joblib"
    return "pickle", f"pickle header, protocol {protocol}"


def _varint(data: bytes, pos: int) -> tuple[int, int] | None:
    value = shift = 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return value, pos
        shift += 7
    return None


def _onnx_rule(head: bytes, tail: bytes, size: int, ext: str) -> tuple[str, str] | None:
    if ext != ".onnx":
        return None
    pos = 0
    seen: list[int] = []
    while pos < len(head) and len(seen) < ONNX_FIELDS_CHECKED:
        tag = _varint(head, pos)
        if tag is None:
            return None
        field, wire = tag[0] >> 3, tag[0] & 7
        if ONNX_FIELDS.get(field) != wire:
            return None
        value = _varint(head, tag[1])
        if value is None:
            return None
        pos = value[1]
        if wire == 2:
            if pos + value[0] > size:
                return None
            pos += value[0]
        seen.append(field)
    if 1 not in seen:
        return None
    return "onnx", f"protobuf ModelProto fields {seen} incl. ir_version (heuristic, by .onnx)"


def _old_pickle_rule(head: bytes, tail: bytes, size: int, ext: str) -> tuple[str, str] | None:
    if ext not in PICKLE_EXTENSIONS or not head or head[0] not in OLD_PICKLE_FIRST:
        return None
    if not tail.endswith(b"."):
        return None
    return "pickle", f"pickle protocol 0/1 (heuristic: {ext}, opcode start, STOP at the end)"


RULES: tuple[Rule, ...] = (
    _zip_rule,
    _safetensors_rule,
    _compressed_rule,
    _pickle_rule,
    _onnx_rule,
    _old_pickle_rule,
)
