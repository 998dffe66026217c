"""Which engine format a plain model file or folder holds, from its bytes, never by loading it.

Detection is pure: it imports no ML library, never unpickles, never executes, and reads at most
:data:`HEAD_BYTES` from the start of a file plus :data:`TAIL_BYTES` from its end (for a zip,
only the central directory is listed with :mod:`zipfile`; no entry is read). Compressed joblib
containers are inflated in memory from that head, to at most :data:`INFLATE_BYTES`, only to see
whether a pickle header follows.

Extensions are hints: a signature always wins, and an extension only decides between formats
the signature cannot tell apart (a plain pickle named ``.joblib``), or admits a weak signature
(protocol 0/1 pickles, ONNX protobuf). The rules are tried in this order; the first match wins:

=====  =============  ==============================================================================
order  engine         signature
=====  =============  ==============================================================================
1      torchscript    zip (``PK\\x03\\x04``) whose entries hold ``<dir>/data.pkl`` plus
                      ``<dir>/code/...`` or ``<dir>/constants.pkl`` (torch.jit.save)
2      torch          zip with ``<dir>/data.pkl`` plus ``<dir>/version``, ``<dir>/.data/version``
                      or ``<dir>/data/...`` entries (torch.save, zip format)
3      skops          zip with ``schema.json`` at its root (skops.io.dump); any other zip is
                      not a model
4      safetensors    8-byte little-endian N, 2 <= N <= file size - 8 and <= 100 MB, then N bytes
                      of JSON starting with ``{`` (parsed and checked when N fits in the head)
5      joblib         a zlib, gzip, bz2, xz or lzma-alone stream, or joblib's old ``ZF`` file,
                      that inflates to a pickle (protocol 2-5) header; lz4 is not recognised
6      joblib         a pickle (``\\x80`` + protocol 2-5) naming ``joblib.numpy_pickle`` or
                      ``NumpyArrayWrapper`` in the head, or any such pickle named ``*.joblib``
7      pickle         ``\\x80`` + protocol 2-5
8      onnx           extension ``.onnx`` and a protobuf ModelProto prefix: the first fields
                      parse, have ModelProto numbers and wire types, lengths fit the file, and
                      ir_version (field 1, varint) is among them. Heuristic: protobuf has no magic
9      pickle         protocol 0/1 (heuristic): extension ``.pkl``/``.pickle``/``.joblib``/``.p``/
                      ``.sav``, first byte a pickle opcode, last byte STOP (``.``)
=====  =============  ==============================================================================

Why this order: zip archives first because their signature is exact and TorchScript archives
are torch archives plus code; safetensors before pickle because a header length can begin with
``\\x80\\x02``-``\\x80\\x05`` while its JSON check is strict; compressed containers before pickle
because their magic bytes are not pickle opcodes; ONNX and protocol 0/1 last as heuristics.

A folder: every regular file under it (links to files followed, hidden names skipped) is
detected. Exactly one recognised file is the model; with several, the single one whose name
without extension is ``model`` is; otherwise :class:`~modelshelf.errors.UnknownModelFormatError`
lists all of them. Nothing recognised: the same error names every file and the formats tried.

A custom loader given by import path, ``load_model(path, loader="package.module:function")``
(:mod:`modelshelf.models.plain`), checked with :func:`modelshelf.trust.check_import_path`,
skips detection entirely for formats not listed here.

Example:
    >>> detect_format("model.safetensors")  # doctest: +SKIP
    DetectedFormat(engine='safetensors', path=PosixPath('model.safetensors'), ...)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from modelshelf.errors import UnknownModelFormatError
from modelshelf.models._detect_rules import RULES, extension_note

__all__ = [
    "ENGINES",
    "HEAD_BYTES",
    "ORDER",
    "TAIL_BYTES",
    "DetectedFormat",
    "UnknownModelFormatError",
    "detect_format",
    "detect_listing",
]

HEAD_BYTES = 64 * 1024
"""Bytes read from the start of a file."""
TAIL_BYTES = 1024 * 1024
"""Bytes read from the end of a zip file: its central directory must fit (about 10,000 entries)."""

ENGINES = ("pickle", "joblib", "skops", "torch", "torchscript", "safetensors", "onnx")
"""Every engine name detection can answer."""
ORDER = ("torchscript", "torch", "skops", "safetensors", "joblib", "pickle", "onnx")
"""Engines in the order their rules are tried (see the table above)."""
# TorchScript is read by torch's own restricted loader (no arbitrary globals), as registered
# TorchScript models are, and its code is checked before it runs: operators beyond tensor math
# need trust (models/engines/_torchscript.py); a torch zip may hold a pickled module (a
# state_dict needs no trust).
NEEDS_TRUST = frozenset({"pickle", "joblib", "torch"})
"""Formats whose loading can run code stored in the file."""

RangeReader = Callable[[str, int, int], bytes]
"""``read(name, start, end)``: bytes ``[start, end)`` of a file known by name (a stored blob)."""


@dataclass(frozen=True)
class DetectedFormat:
    """What detection found.

    Attributes:
        engine: one of :data:`ENGINES`.
        path: the model file (inside the folder, when a folder was given).
        evidence: the bytes or entries that decided it, one phrase, for messages.
        needs_trust: loading it can run code (pickle-based formats): load only from trusted
            sources.
    """

    engine: str
    path: Path
    evidence: str
    needs_trust: bool


def _open_binary(path: Path) -> BinaryIO:
    """The one place detection opens a file (tests wrap it to count the bytes read)."""
    return path.open("rb")


def detect_format(path: str | os.PathLike[str]) -> DetectedFormat:
    """Say which engine format a model file, or the model file in a folder, holds.

    Args:
        path: a file, or a folder holding the model file (see the module docstring's rule).

    Returns:
        The detected format, with the model file's path.

    Raises:
        UnknownModelFormatError: the path does not exist, cannot be read, holds no recognised
            model file, or (a folder) holds several with no rule to choose between them.
    """
    root = Path(path)
    try:
        if root.is_dir():
            return _detect_folder(root)
        exists = root.exists()
    except OSError as exc:  # a name too long, a folder we may not list, ...
        raise UnknownModelFormatError(
            str(root), f"cannot be read: {exc.strerror or exc}", tried=ORDER
        ) from exc
    if not exists:
        raise UnknownModelFormatError(
            str(root), "does not exist", tried=ORDER, hint="Check the path and pull the asset."
        )
    found, why = _detect_file(root)
    if found is None:
        raise UnknownModelFormatError(
            str(root),
            "not a model file detection recognises",
            candidates={root.name: why},
            tried=ORDER,
        )
    return found


def _detect_folder(root: Path) -> DetectedFormat:
    files = _files_under(root)
    if not files:
        raise UnknownModelFormatError(
            str(root), "the folder holds no files", tried=ORDER, hint="Pull the asset again."
        )
    return _choose(str(root), {name: _detect_file(file) for name, file in files.items()})


def _choose(root: str, results: Mapping[str, tuple[DetectedFormat | None, str]]) -> DetectedFormat:
    """The folder rule (module docstring) over each file's detection, by relative name."""
    found = {name: hit for name, (hit, _) in results.items() if hit is not None}
    rejected = {name: why for name, (hit, why) in results.items() if hit is None}
    if len(found) == 1:
        return next(iter(found.values()))
    if not found:
        raise UnknownModelFormatError(
            root,
            f"no model file among its {len(rejected)} file(s)",
            candidates=rejected,
            tried=ORDER,
        )
    named = [hit for name, hit in found.items() if _stem(name) == "model"]
    if len(named) == 1:
        chosen = named[0]
        others = len(found) - 1
        return replace(
            chosen, evidence=f"{chosen.evidence}; named model.*, chosen over {others} other(s)"
        )
    raise UnknownModelFormatError(
        root,
        f"{len(found)} model files and no rule to choose one",
        candidates={name: f"{hit.engine} ({hit.evidence})" for name, hit in found.items()},
        hint="Give the model file's path itself, or keep one file named model.<ext>.",
    )


def detect_listing(
    root: str, sizes: Mapping[str, int], read: RangeReader, *, folder: bool
) -> DetectedFormat:
    """:func:`detect_format` for files known by relative name and size, whose bytes are read
    through ``read(name, start, end)``: a version in a store, before any pull. Only the ends
    detection reads are fetched (:data:`HEAD_BYTES` and :data:`TAIL_BYTES` a file).

    Args:
        root: what the files stand for, for messages (the asset and its sub-path).
        sizes: relative POSIX name -> size, as a manifest lists them.
        read: returns bytes ``[start, end)`` of the named file.
        folder: the files are a folder's (hidden names skipped, the folder rule applies);
            otherwise ``sizes`` holds the one file given, detected as :func:`detect_format`
            detects a file.

    Raises:
        UnknownModelFormatError: as :func:`detect_format`, with the same candidates.
    """
    if not folder:
        ((name, size),) = sizes.items()
        found, why = _classify(Path(name), *_ends(size, _one(read, name)))
        if found is None:
            reason = "not a model file detection recognises"
            candidates = {Path(name).name: why}
            raise UnknownModelFormatError(root, reason, candidates=candidates, tried=ORDER)
        return found
    visible = {
        name: size
        for name, size in sizes.items()
        if not any(part.startswith(".") for part in name.split("/"))
    }
    if not visible:
        raise UnknownModelFormatError(
            root, "the folder holds no files", tried=ORDER, hint="Pull the asset again."
        )
    results = {
        name: _classify(Path(name), *_ends(size, _one(read, name)))
        for name, size in visible.items()
    }
    return _choose(root, results)


def _one(read: RangeReader, name: str) -> Callable[[int, int], bytes]:
    return lambda start, end: read(name, start, end)


def _files_under(root: Path) -> dict[str, Path]:
    """Regular files (or links to them) under ``root``, by POSIX relative name; hidden skipped."""
    out: dict[str, Path] = {}
    for folder, dirs, names in os.walk(root):  # does not follow links to folders
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            file = Path(folder, name)
            if not name.startswith(".") and file.is_file():
                out[file.relative_to(root).as_posix()] = file
    return out


def _stem(name: str) -> str:
    return name.rsplit("/", 1)[-1].split(".", 1)[0]


def _detect_file(path: Path) -> tuple[DetectedFormat | None, str]:
    """Detect one file: the format, or ``None`` and why nothing matched."""
    try:
        if not path.is_file():
            return None, "not a regular file"
        head, tail, size = _read_ends(path)
    except OSError as exc:
        return None, f"cannot be read: {exc.strerror or exc}"
    return _classify(path, head, tail, size)


def _classify(path: Path, head: bytes, tail: bytes, size: int) -> tuple[DetectedFormat | None, str]:
    """The rules over a file's ends: the format, or ``None`` and why nothing matched."""
    ext = path.suffix.lower()
    for rule in RULES:
        result = rule(head, tail, size, ext)
        if result is not None:
            engine, evidence = result
            if not engine:
                return None, evidence
            note = extension_note(engine, ext)
            return DetectedFormat(engine, path, evidence + note, engine in NEEDS_TRUST), ""
    return None, f"no known signature ({size} bytes, starting {head[:8]!r})"


def _ends(size: int, read: Callable[[int, int], bytes]) -> tuple[bytes, bytes, int]:
    """What :func:`_read_ends` reads, through ``read(start, end)`` (a stored blob's range)."""
    if size <= HEAD_BYTES + TAIL_BYTES:
        data = bytes(read(0, size)) if size else b""
        return data[:HEAD_BYTES], data[-TAIL_BYTES:], len(data)
    return bytes(read(0, HEAD_BYTES)), bytes(read(size - TAIL_BYTES, size)), size


def _read_ends(path: Path) -> tuple[bytes, bytes, int]:
    """The first HEAD_BYTES and last TAIL_BYTES of a file (overlapping for small files)."""
    with _open_binary(path) as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(0)
        if size <= HEAD_BYTES + TAIL_BYTES:
            data = f.read(size)
            return data[:HEAD_BYTES], data[-TAIL_BYTES:], len(data)
        head = f.read(HEAD_BYTES)
        f.seek(size - TAIL_BYTES)
        return head, f.read(TAIL_BYTES), size
