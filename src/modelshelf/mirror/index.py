"""The resumable index of a mirror: ``DEST/.modelshelf-mirror.json``, read, checked and written.

For every file a mirror wrote it records the store, the object's size and ETag (or its time),
the sha256 of the bytes received, and the local file's size and mtime; the plan compares the
store's listing and the local files with it to skip what is there. One file, read and written
through DEST's descriptor (:class:`~modelshelf.transfer.user_folder.UserFolder`): a missing,
damaged or foreign index is an empty one and only costs fetching again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import stat
from pathlib import Path
from typing import Any

from modelshelf import constants
from modelshelf.mirror.plan import INDEX_NAME, MirrorItem, check_key
from modelshelf.transfer.user_folder import UserFolder
from modelshelf.trust import inside

__all__ = ["INDEX_FORMAT", "encode_index", "load_index", "local_stat", "reverified"]

logger = logging.getLogger(__name__)

INDEX_FORMAT = 1
_INDEX_LIMIT = 256 << 20
"""The largest index read (~1 KiB an object: 256k objects); a larger file is ignored."""


def load_index(folder: UserFolder) -> dict[str, dict[str, Any]]:
    """The index's entries by key; a missing, damaged or foreign file is an empty index.

    Read through the root's descriptor, never through a link, without blocking on a FIFO and
    up to :data:`_INDEX_LIMIT`: DEST may be shared, and what sits at the index's name may be
    anything another writer put there.
    """
    path = folder.root / INDEX_NAME
    try:
        raw = folder.read_top(INDEX_NAME, _INDEX_LIMIT)
        if raw is None:
            return {}
        data = json.loads(raw)
    except (OSError, ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        logger.warning("ignoring the mirror index %s (%s): every file is fetched again", path, exc)
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict) or data.get("format") != INDEX_FORMAT:
        logger.warning("ignoring the mirror index %s: not an index this version writes", path)
        return {}
    good: dict[str, dict[str, Any]] = {}
    for key, entry in files.items():
        with contextlib.suppress(ValueError):
            if isinstance(entry, dict):
                good[check_key(key, include_git=True)] = entry  # our own record
    return good


def local_stat(root: Path, key: str) -> tuple[int, int] | None:
    """``(size, mtime_ns)`` of the regular file at ``key`` below ``root``, else ``None``."""
    try:
        st = inside(root, key).lstat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns) if stat.S_ISREG(st.st_mode) else None


def _sha256_file(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb", buffering=0) as handle:
            while chunk := handle.read(constants.CHUNK_SIZE):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def reverified(root: Path, item: MirrorItem, index: dict[str, dict[str, Any]]) -> MirrorItem:
    """``item``, turned into a fetch if its local bytes no longer hash to the recorded sha256."""
    if item.action != "skip":
        return item
    if _sha256_file(inside(root, item.key)) == index[item.key].get("sha256"):
        return item
    return MirrorItem(item.key, item.size, item.etag, "fetch", "changed locally (sha256)")


def encode_index(files: dict[str, dict[str, Any]]) -> bytes:
    """The index file's bytes for ``files`` (its entries by key, in the order given)."""
    data = {"format": INDEX_FORMAT, "files": files}
    return json.dumps(data, separators=(",", ":")).encode()
