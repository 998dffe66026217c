"""The one reading of a zip archive's layout that every zip reader agrees on, or a refusal.

Readers find a zip's entries differently: Python's ``zipfile`` corrects the central
directory's offset by whatever precedes the end record (its ``concat``), torch's reader
(miniz) takes the offset the end record declares, streaming readers walk the local headers.
A forged archive can show each a different set of entries (a stored copy to the checker, a
deflated bomb to torch). :func:`read_layout` accepts only the canonical form, where they all
see the same entries, and reads it with :mod:`struct` (no reader's own leniency):

- the end record is the file's last 22 bytes (no comment; nothing written after it);
- a zip64 end record, when present (torch always writes one), is followed directly by its
  locator and the end record, the locator points at it, and the end record's counts and
  offsets either equal its own or are the zip64 placeholders;
- one disk; the central directory starts exactly at the declared offset and ends where the
  (zip64) end record begins, holding exactly the declared number of entries;
- each entry's local header is where its central entry says, with the same name, flags and
  method, and the same sizes (or zeros with a data descriptor, as torch writes); entries lie
  before the central directory and do not overlap.

Reading is bounded: the central directory at most :data:`MAX_DIRECTORY` bytes, one short read
per local header.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import BinaryIO

from modelshelf import trust

__all__ = ["MAX_DIRECTORY", "NotAZipError", "ZipEntry", "ZipLayoutError", "read_layout"]

MAX_DIRECTORY = 64 * 2**20
"""The largest central directory read (64 MiB: a hundred thousand entries with long names)."""

_EOCD = struct.Struct("<4sHHHHIIH")  # end of central directory record (22 bytes)
_EOCD64 = struct.Struct("<4sQHHIIQQQQ")  # zip64 end record, fixed part (56 bytes)
_LOCATOR = struct.Struct("<4sIQI")  # zip64 end record locator (20 bytes)
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")  # central directory entry, fixed part (46 bytes)
_LOCAL = struct.Struct("<4sHHHHHIIIHH")  # local file header, fixed part (30 bytes)
_EOCD_SIG, _EOCD64_SIG, _LOCATOR_SIG = b"PK\x05\x06", b"PK\x06\x06", b"PK\x06\x07"
_CENTRAL_SIG, _LOCAL_SIG = b"PK\x01\x02", b"PK\x03\x04"
_MAX16, _MAX32 = 0xFFFF, 0xFFFFFFFF
_DESCRIPTOR = 0x08  # general purpose flag bit 3: sizes and CRC follow the data
_TAIL = _EOCD.size + _MAX16  # where a reader looks for the end record (its comment at most 64 KiB)


class NotAZipError(Exception):
    """The file is not a zip archive to any reader: no local header at its start, no end
    record near its end."""


class ZipLayoutError(Exception):
    """The archive is not in canonical form; the message says where, in a few words."""


@dataclass(frozen=True)
class ZipEntry:
    """One entry as the central directory lists it (sizes from zip64 fields where used)."""

    name: str
    """The name, decoded as UTF-8 with replacement (for messages and prefixes only)."""
    method: int
    compress_size: int
    file_size: int


def read_layout(source: BinaryIO, max_entries: int) -> list[ZipEntry]:
    """The entries of the zip archive open in ``source`` (binary, seekable), if canonical
    and at most ``max_entries``.

    Raises:
        NotAZipError: neither a local header at the start nor an end record signature in the tail.
        ZipLayoutError: a zip, but not canonical (the message names the first difference).
    """
    size = source.seek(0, os.SEEK_END)
    head = _read_at(source, 0, 4)
    tail_start = max(0, size - _TAIL)
    tail = _read_at(source, tail_start, size - tail_start)
    if head != _LOCAL_SIG and _EOCD_SIG not in tail:
        raise NotAZipError
    eocd_pos = size - _EOCD.size
    if eocd_pos < 0 or tail[-_EOCD.size :][:4] != _EOCD_SIG:
        raise ZipLayoutError("its end record is not its last 22 bytes (a comment or trailing data)")
    _, disk, cd_disk, on_disk, count, cd_size, cd_offset, comment = _EOCD.unpack(
        tail[-_EOCD.size :]
    )
    if comment:
        raise ZipLayoutError("its end record declares a comment")
    if disk or cd_disk or on_disk != count:
        raise ZipLayoutError("it spans several disks")
    directory_end = eocd_pos
    if eocd_pos >= _LOCATOR.size and tail[-_EOCD.size - _LOCATOR.size :][:4] == _LOCATOR_SIG:
        directory_end, count, cd_size, cd_offset = _zip64(
            source, eocd_pos, (count, cd_size, cd_offset)
        )
    if cd_offset + cd_size != directory_end:
        raise ZipLayoutError(
            f"its central directory ({cd_size} bytes at {cd_offset}) does not end where its"
            f" end record begins ({directory_end})"
        )
    if cd_size > MAX_DIRECTORY:
        raise ZipLayoutError(f"its central directory is {cd_size} bytes, over {MAX_DIRECTORY}")
    if count > max_entries:
        raise ZipLayoutError(f"it lists {count} entries, over {max_entries}")
    directory = _read_at(source, cd_offset, cd_size)
    entries: list[tuple[int, int, ZipEntry]] = []
    at = 0
    for _ in range(count):
        start, end, entry = _central(source, directory, at, cd_offset)
        entries.append((start, end, entry))
        at += _entry_length(directory, at)
    if at != cd_size:
        raise ZipLayoutError(
            f"its central directory holds more than the {count} entries its end record declares"
        )
    previous_end = 0
    for start, end, entry in sorted(entries, key=lambda item: item[0]):
        if start < previous_end:
            raise ZipLayoutError(f"its entry {entry.name!r} overlaps the entry before it")
        previous_end = end
    return [entry for _, _, entry in entries]


def _zip64(source: BinaryIO, eocd_pos: int, small: tuple[int, int, int]) -> tuple[int, ...]:
    """(where the zip64 end record begins, count, directory size, directory offset)."""
    locator_pos = eocd_pos - _LOCATOR.size
    _, disk, record_pos, disks = _LOCATOR.unpack(_read_at(source, locator_pos, _LOCATOR.size))
    if disk or disks != 1:
        raise ZipLayoutError("its zip64 locator spans several disks")
    if record_pos + _EOCD64.size > locator_pos:
        raise ZipLayoutError("its zip64 locator points past itself")
    fields = _EOCD64.unpack(_read_at(source, record_pos, _EOCD64.size))
    sig, record_size, _, _, disk, cd_disk, on_disk, count, cd_size, cd_offset = fields
    if sig != _EOCD64_SIG or record_pos + 12 + record_size != locator_pos:
        raise ZipLayoutError("its zip64 end record is not directly before its locator")
    if disk or cd_disk or on_disk != count:
        raise ZipLayoutError("its zip64 end record spans several disks")
    for declared, placeholder, actual in zip(
        small, (_MAX16, _MAX32, _MAX32), (count, cd_size, cd_offset), strict=True
    ):
        if declared not in (placeholder, actual):
            raise ZipLayoutError("its end record and its zip64 end record disagree")
    return record_pos, count, cd_size, cd_offset


def _entry_length(directory: bytes, at: int) -> int:
    name_len, extra_len, comment_len = struct.unpack_from("<HHH", directory, at + 28)
    return int(_CENTRAL.size + name_len + extra_len + comment_len)


def _central(
    source: BinaryIO, directory: bytes, at: int, cd_offset: int
) -> tuple[int, int, ZipEntry]:
    """One central entry at ``at`` of ``directory``, checked against its local header:
    (where the entry begins, where its data ends, the entry)."""
    if at + _CENTRAL.size > len(directory):
        raise ZipLayoutError("its central directory holds fewer entries than declared")
    fields = _CENTRAL.unpack_from(directory, at)
    sig, _, _, flags, method, _, _, _, csize, usize, name_len, extra_len, _, disk = fields[:14]
    offset = fields[16]
    if sig != _CENTRAL_SIG:
        raise ZipLayoutError(f"its central directory has no entry signature at {cd_offset + at}")
    name_end = at + _CENTRAL.size + name_len
    if name_end + extra_len > len(directory):
        raise ZipLayoutError("its central directory ends inside an entry")
    raw_name = directory[at + _CENTRAL.size : name_end]
    name = raw_name.decode("utf-8", "replace")
    if disk:
        raise ZipLayoutError(f"its entry {trust.show(name, 100)} is on another disk")
    usize, csize, offset = _widen(
        directory[name_end : name_end + extra_len], (usize, csize, offset), name
    )
    local = _read_at(source, offset, _LOCAL.size + name_len) if offset < cd_offset else b""
    if len(local) != _LOCAL.size + name_len or local[:4] != _LOCAL_SIG:
        raise ZipLayoutError(
            f"its entry {trust.show(name, 100)} has no local header where the directory says"
        )
    _, _, lflags, lmethod, _, _, _, lcsize, lusize, lname_len, lextra_len = _LOCAL.unpack_from(
        local
    )
    same = (lflags, lmethod, lname_len) == (flags, method, name_len)
    if not same or local[_LOCAL.size :] != raw_name:
        raise ZipLayoutError(
            f"its entry {trust.show(name, 100)} has a local header unlike its directory entry"
        )
    if (lcsize, lusize) != (0, 0) or not flags & _DESCRIPTOR:
        sizes: tuple[int, ...] = (lusize, lcsize)
        if _MAX32 in sizes:
            extra = _read_at(source, offset + _LOCAL.size + name_len, lextra_len)
            sizes = _widen(extra, sizes, name)
        if sizes != (usize, csize):
            raise ZipLayoutError(
                f"its entry {trust.show(name, 100)} declares {usize} bytes ({csize} stored) in"
                f" the directory but {sizes[0]} ({sizes[1]}) in its local header"
            )
    end = offset + _LOCAL.size + name_len + lextra_len + csize
    if end > cd_offset:
        raise ZipLayoutError(f"its entry {trust.show(name, 100)} runs into the central directory")
    return offset, end, ZipEntry(name, method, csize, usize)


def _widen(extra: bytes, values: tuple[int, ...], name: str) -> tuple[int, ...]:
    """``values`` with each 32-bit placeholder replaced from the zip64 extra field, in order."""
    if _MAX32 not in values:
        return values
    at = 0
    while at + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, at)
        if tag == 1:
            data = extra[at + 4 : at + 4 + length]
            wide = list(values)
            used = 0
            for i, value in enumerate(values):
                if value == _MAX32:
                    if used + 8 > len(data):
                        break
                    wide[i] = struct.unpack_from("<Q", data, used)[0]
                    used += 8
            else:
                return tuple(wide)
            break
        at += 4 + length
    raise ZipLayoutError(
        f"its entry {trust.show(name, 100)} lacks the zip64 sizes its header promises"
    )


def _read_at(source: BinaryIO, offset: int, length: int) -> bytes:
    source.seek(offset)
    return source.read(length)
