"""What a zip-based model archive from outside may inflate to, checked before an engine reads it.

skops files and torch files (``torch.save``, TorchScript) are zip archives. The engines inflate
their entries into memory (skops reads ``schema.json`` whole, ``torch.load`` each storage), so
a few hundred KB of deflated zeros or spaces in a store become hundreds of MB when loaded, with
no trust needed. :func:`check_archive` reads only the archive's central directory and local
headers (:mod:`._zip_layout`, which refuses an archive that readers could read differently)
and refuses, in one line:

- an archive not in canonical zip form (two central directories, a comment, trailing data,
  local headers that disagree with the directory: Python's ``zipfile`` and torch's reader
  would see different entries);
- more than :data:`MAX_ENTRIES` entries;
- an entry stored uncompressed whose two sizes differ (a reader could believe either);
- for a torch archive, a compressed tensor storage (``data/``, ``constants/``) or, for a
  weights file (``torch.save``: a state_dict), any compressed entry: torch writes them stored
  (measured with torch 2.13; TorchScript deflates only its code and debug records);
- entries that inflate, together, beyond :data:`MAX_INFLATE_RATIO` times the file's size
  plus :data:`MAX_INFLATE_SLACK` (skops writes its entries stored; a file written with
  ``compression=ZIP_DEFLATED`` inflates a few times, never a hundred).

A file that is not a zip at all is left to the engine, which refuses it (nothing to inflate).
Declared sizes are what the readers go by (Python's ``zipfile`` stops an entry at its declared
size, torch's reader allocates it), so checking them bounds what is inflated. A trusted load
skips the check: the user vouched for the store (a pickle could do worse).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from modelshelf import trust
from modelshelf.errors import UnknownModelFormatError
from modelshelf.models.engines._zip_layout import NotAZipError, ZipLayoutError, read_layout

__all__ = ["MAX_ENTRIES", "MAX_INFLATE_RATIO", "MAX_INFLATE_SLACK", "check_archive"]

MAX_INFLATE_RATIO = 8
"""The entries of an archive may inflate to at most this many times the file's size ..."""
MAX_INFLATE_SLACK = 32 * 2**20
"""... plus this many bytes (32 MiB: small archives of well-compressed text stay loadable)."""
MAX_ENTRIES = 100_000
"""The most entries an archive may list (a skops pipeline or a TorchScript model lists tens to a
few thousand)."""

_HINT = "Check the file; if you trust its source, load it with trust (no bound applies then)."


def _refuse(path: Path, kind: str, reason: str) -> UnknownModelFormatError:
    return UnknownModelFormatError(str(path), f"{kind}, but {reason}", hint=_HINT)


def check_archive(path: Path, kind: str) -> None:
    """Refuse the zip archive at ``path`` unless every bound of the module docstring holds.

    Args:
        path: the file (a skops or torch file).
        kind: ``"skops"``, ``"torch"`` (a ``torch.save`` file: only stored entries) or
            ``"torchscript"`` (stored tensor storages).

    Raises:
        UnknownModelFormatError: one line naming the entry or the sizes; nothing was inflated.
    """
    with path.open("rb") as source:
        size = os.fstat(source.fileno()).st_size
        try:
            entries = read_layout(source, MAX_ENTRIES)
        except NotAZipError:
            # Not a zip to any reader: nothing to inflate. The engine refuses it in its own
            # words (which the loaders turn into one line); trust would not help, no hint here.
            return
        except ZipLayoutError as exc:
            # Readers would disagree on its entries: no bound checked on one view holds
            raise _refuse(path, kind, f"it is not a canonical zip archive: {exc}") from None
    if len(entries) > MAX_ENTRIES:
        raise _refuse(path, kind, f"it lists {len(entries)} entries, over {MAX_ENTRIES}")
    total = 0
    for entry in entries:
        name = trust.show(entry.name, 100)
        stored = entry.method == zipfile.ZIP_STORED
        if stored and entry.file_size != entry.compress_size:
            raise _refuse(
                path,
                kind,
                f"its stored entry {name} declares {entry.file_size} bytes but holds"
                f" {entry.compress_size}",
            )
        if not stored and kind != "skops" and (kind == "torch" or _is_storage(entry.name)):
            raise _refuse(
                path,
                kind,
                f"its entry {name} is compressed; torch writes "
                + ("every entry of a weights file" if kind == "torch" else "tensors")
                + " uncompressed, so torch did not write this archive",
            )
        total += entry.file_size
    bound = MAX_INFLATE_RATIO * size + MAX_INFLATE_SLACK
    if total > bound:
        raise _refuse(
            path,
            kind,
            f"its entries inflate to {total} bytes from {size}, over the {bound} modelshelf"
            f" reads without trust ({MAX_INFLATE_RATIO} times the file plus"
            f" {MAX_INFLATE_SLACK // 2**20} MiB)",
        )


def _is_storage(name: str) -> bool:
    """A tensor storage record of a torch archive: ``<archive>/data/<n>`` or ``constants/``."""
    parts = name.split("/")
    return len(parts) >= 3 and parts[1] in ("data", "constants", ".data")
