"""Size bounds of outside JSON and listings: what a store may make modelshelf hold in memory.

Part of the trust boundary (:mod:`modelshelf.trust` re-exports all of it). A manifest is bounded
before it is decoded (:func:`check_json_budget`: counts in the raw bytes), decoded refusing
non-finite numbers (:func:`loads_json`, as every store record is), its kept sections and metadata
after (:func:`check_section`, :func:`check_metadata`), and a store's listing while it
arrives (:func:`bounded_listing`: keys and bytes of key names). Pure: no I/O but the reads of
``MODELSHELF_MAX_MANIFEST_MIB`` and ``MODELSHELF_MAX_LIST_MIB``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from typing import Any, NoReturn, Protocol, TypeVar

from modelshelf import constants
from modelshelf._text import MAX_TEXT, check_text, show
from modelshelf.errors import UntrustedStoreDataError

__all__ = [
    "MAX_MANIFEST_BYTES",
    "MAX_METADATA_ITEMS",
    "MAX_SECTIONS_BYTES",
    "MAX_SECTION_DEPTH",
    "MAX_SECTION_NODES",
    "bounded_listing",
    "check_json_budget",
    "check_metadata",
    "check_section",
    "count_json_strings",
    "NonFiniteError",
    "loads_json",
    "manifest_cap",
]

MAX_MANIFEST_BYTES = 24 * 2**20
"""The default cap of a manifest: one of 20,000 files takes 3.2 MiB, of 100,000 files 16.5 MiB
(paths of 38 characters, measured). ``MODELSHELF_MAX_MANIFEST_MIB`` raises it."""
MAX_SECTIONS_BYTES = 2**20
"""All sections a manifest adds to the core fields (``model``, ...) take this much JSON at most;
so does its ``source``. They are small records (runner, engine, requirements, props), not data."""
MAX_SECTION_DEPTH = 32
MAX_SECTION_NODES = 100_000
"""Values (containers and scalars) in the sections of one manifest, e.g. a list of 21,000
class labels fits; its ``source`` has as many again."""
MAX_METADATA_ITEMS = 1000
"""User metadata (``--meta KEY=VALUE``) pairs in one manifest."""
# A file entry is at least ~99 bytes of compact JSON holding one object, three separators and
# five strings (three are keys, decoded once):
# a manifest with more containers or separators per byte is no list of files, and would grow
# many times its size as Python objects (``[{},{},...]`` takes 24 times its bytes).
_BYTES_PER_CONTAINER = 90
_BYTES_PER_SEPARATOR = 24
_BYTES_PER_STRING = 16
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')


def manifest_cap() -> int:
    """The largest manifest read or written, in bytes (``MODELSHELF_MAX_MANIFEST_MIB``)."""
    return constants.max_manifest_bytes(MAX_MANIFEST_BYTES)


def check_json_budget(raw: bytes) -> None:
    """Refuse JSON text whose values would outgrow its size many times in memory.

    Counted before decoding, in a few passes over the bytes and no copy: a manifest may hold an
    object or list per ~90 bytes, a ``,`` per ~24 and a string per ~16 (a list of files needs
    fewer), plus what its sections and metadata may hold. Brackets and commas are first
    counted everywhere; only text over that budget is counted again outside its strings, so an
    odd file name never refuses a real manifest.
    """
    size = len(raw)
    spare = 2 * MAX_SECTION_NODES + 2 * MAX_METADATA_ITEMS
    strings = count_json_strings(raw, size // _BYTES_PER_STRING + spare)
    if strings > size // _BYTES_PER_STRING + spare:
        raise ValueError(f"it holds {strings} strings in {size} bytes, more than a manifest may")
    containers = raw.count(b"{") + raw.count(b"[")
    separators = raw.count(b",")
    containers_max = size // _BYTES_PER_CONTAINER + spare
    separators_max = size // _BYTES_PER_SEPARATOR + spare
    if containers > containers_max or separators > separators_max:
        for match in _JSON_STRING.finditer(raw):  # at most the strings counted above
            begin, end = match.span()
            containers -= raw.count(b"{", begin, end) + raw.count(b"[", begin, end)
            separators -= raw.count(b",", begin, end)
    if containers > containers_max:
        raise ValueError(
            f"it holds {containers} objects and lists in {size} bytes, more than a manifest"
            f" may ({containers_max})"
        )
    if separators > separators_max:
        raise ValueError(
            f"it holds {separators} values in {size} bytes, more than a manifest may"
            f" ({separators_max})"
        )


def count_json_strings(raw: bytes, budget: int) -> int:
    """The strings (keys included) of the JSON text ``raw``, never fewer than it holds.

    Every string has two quotes that are not escaped, so half the quotes is an upper bound, one
    fast count. Only when that is over ``budget`` are the strings counted exactly (a pass of
    :data:`_JSON_STRING`, which reads escapes as the decoder does): subtracting each ``\\"``
    from the quotes, as this once did, also took away the closing quote of a string ending in
    an escaped backslash (``"a\\\\"``), so such strings counted as half a string each.
    """
    strings = raw.count(b'"') // 2
    if strings > budget:
        strings = sum(1 for _ in _JSON_STRING.finditer(raw))
    return strings


def _refuse_constant(name: str) -> NoReturn:
    raise NonFiniteError(f"{name} is not a finite number; JSON has none")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NonFiniteError(f"{show(text, 40)} is not a finite number (it reads as {value})")
    return value


class NonFiniteError(ValueError):
    """A JSON text holds ``NaN``, ``Infinity`` or a number beyond a float: not JSON (RFC 8259)."""


# A number that may be beyond a float: an exponent of three digits or more, or a run of 300
# digits. Only a text that holds one is decoded with a check of every float (twice as slow). The
# run is found by mapping every digit to '9' and searching once: a regex ``\d{300}`` tries each
# digit again and took 7 times the decoding of a body of a million floats.
_HUGE_EXPONENT = re.compile(rb"[eE][+-]?0*\d{3}")
_DIGIT_RUNS = bytes(0x39 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_RUN = b"9" * 300


def _maybe_huge(raw: bytes) -> bool:
    return _HUGE_EXPONENT.search(raw) is not None or _LONG_RUN in raw.translate(_DIGIT_RUNS)


def loads_json(raw: bytes | str) -> Any:
    """``json.loads`` for outside JSON (manifests, records, request bodies, ``predict`` input):
    ``NaN``, ``Infinity`` and numbers beyond a float (``1e999999``) are refused, not read as
    ``nan``/``inf``: modelshelf would write them back as text no standard JSON reader takes.

    Raises:
        NonFiniteError: a non-finite number (a ``ValueError``).
        ValueError: not JSON (``json.JSONDecodeError``).
    """
    if not _maybe_huge(raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")):
        return json.loads(raw, parse_constant=_refuse_constant)
    return json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)


def check_section(value: object, what: str, *, nodes: int = MAX_SECTION_NODES) -> int:
    """Check a JSON value kept from a manifest (sections, ``source``); return its node count.

    Objects with text keys, lists and scalars, at most :data:`MAX_SECTION_DEPTH` deep and
    ``nodes`` values in all, walked without recursion and stopped at the first excess; then at
    most :data:`MAX_SECTIONS_BYTES` as JSON.
    """
    count, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        count += 1
        if count > nodes:
            raise ValueError(f"{what}: more than {nodes} values")
        if depth > MAX_SECTION_DEPTH:
            raise ValueError(f"{what}: nested deeper than {MAX_SECTION_DEPTH} levels")
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise ValueError(f"{what}: the key {show(key)} is not text")
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif not isinstance(item, str | int | float | bool | type(None)):
            raise ValueError(f"{what}: {show(item)} is not a JSON value")
    size = len(json.dumps(value, ensure_ascii=False).encode())
    if size > MAX_SECTIONS_BYTES:
        raise ValueError(f"{what}: {size} bytes of JSON, over {MAX_SECTIONS_BYTES}")
    return count


def check_metadata(value: object) -> dict[str, str]:
    """User metadata: at most :data:`MAX_METADATA_ITEMS` pairs, keys of at most
    :data:`MAX_LINE` characters and values of :data:`MAX_TEXT`, each text (plain values read
    from older manifests are turned into text)."""
    if not isinstance(value, dict):
        raise ValueError(f"metadata must be an object, not {show(value)}")
    if len(value) > MAX_METADATA_ITEMS:
        raise ValueError(f"metadata holds {len(value)} pairs, over {MAX_METADATA_ITEMS}")
    found = {}
    for key, item in value.items():
        check_text(key, "a metadata key", one_line=False)
        if not isinstance(item, str | int | float | bool):
            raise ValueError(f"metadata {show(key)} holds {show(item)}, not a plain value")
        found[key] = check_text(str(item), f"metadata {show(key)}", limit=MAX_TEXT, one_line=False)
    return found


class _Keyed(Protocol):
    @property
    def path(self) -> str: ...


_Listed = TypeVar("_Listed", bound=_Keyed)


def bounded_listing(
    listing: Iterable[_Listed],
    limit: int,
    where: str,
    *,
    store: str = "",
    max_bytes: int | None = None,
) -> Iterator[_Listed]:
    """``listing`` as it arrives, refused once it holds more than ``limit`` keys or more than
    ``max_bytes`` bytes of key names (UTF-8; default ``MODELSHELF_MAX_LIST_MIB``).

    A store chooses how long its listing is: one that pages forever (or returns the same page
    again and again) would keep a mirror, a gc or an alias lookup reading, and growing, without
    end. Keys alone do not bound the memory: a million keys of 1,000 bytes (S3 allows 1,024)
    held 1,186 MiB in a mirror, which keeps every key. The listing is refused, never cut
    short: a caller must not act on part of it (gc would delete blobs referenced by the
    manifests it did not see).

    Raises:
        UntrustedStoreDataError: naming ``where``, the bound and how to raise it.
    """
    byte_limit = constants.max_list_bytes() if max_bytes is None else max_bytes
    total = 0
    for count, item in enumerate(listing):
        if count >= limit:
            raise UntrustedStoreDataError(
                f"{where}: the store listed more than {limit} keys, more than modelshelf reads"
                " from one listing; stopped, nothing was done with the part read. If the store"
                " really holds that many, raise MODELSHELF_MAX_LIST_KEYS",
                store=store,
            )
        key = item.path
        total += len(key) if key.isascii() else len(key.encode("utf-8", "surrogatepass"))
        if total > byte_limit:
            raise UntrustedStoreDataError(
                f"{where}: the store listed more than {byte_limit / 2**20:g} MiB of key names"
                f" ({count + 1} keys), more than modelshelf reads from one listing; stopped,"
                " nothing was done with the part read. If the store really holds keys that"
                " long, raise MODELSHELF_MAX_LIST_MIB",
                store=store,
            )
        yield item
