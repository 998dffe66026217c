"""The listing of a ``file://`` store: this package's own walk of its folder, following no link.

A listing holds open only the folders on its current path (a subfolder is opened when its turn
comes), and every descriptor taken is closed when the walk ends, fails or is abandoned. Links
(and all behind them) and our own uploads in progress are skipped and counted in one warning.
Split from :mod:`modelshelf.backends.local`, which owns the keys' reads and writes.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import NoReturn, Protocol

from modelshelf._dir_fd import open_folder, walk
from modelshelf.backends._obstore import StoreHints, translate_error
from modelshelf.backends.base import ObjectMeta
from modelshelf.errors import StoreError, StoreNotFoundError
from modelshelf.trust import show

__all__ = ["UPLOAD_TAG", "Skipped", "file_meta", "walk_store"]


class _Listed(Protocol):
    """What the walk needs of the store it lists: :class:`modelshelf.backends.local.LocalBackend`,
    which imports this module (named here by its shape, so that the two import one way only)."""

    url: str
    hints: StoreHints

    def _open_root(self) -> int: ...


logger = logging.getLogger("modelshelf.backends.local")  # where its warnings always came from

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
UPLOAD_TAG = "modelshelf-upload"
# Exactly the names ``temp_name(name, tag=UPLOAD_TAG)`` makes (``.<name>.<pid>.<8 hex>.<tag>``):
# only these are an upload in progress, never listed. A store's other files are listed, even
# named ``.x.1.2.modelshelf-upload`` or ``take#2`` (obstore's own temporary names: obstore
# writes no key here any more, so such a file is the store's, or an old leftover).
_UPLOAD_TEMP = re.compile(rf"\..+\.[0-9]+\.[0-9a-f]{{8}}\.{UPLOAD_TAG}", re.DOTALL)


class Skipped:
    """What a listing left out, counted, to be told once at its end: links (and all behind
    them) and our own uploads in progress."""

    def __init__(self) -> None:
        self.links: list[str] = []
        self.uploads: list[str] = []

    def warn(self, url: str) -> None:
        if self.links:
            logger.warning(
                "%s: skipped %d entries that are symbolic links (first: %s) and all behind"
                " them; a file:// store follows no links: replace them with the files or"
                " folders themselves to have them listed",
                url, len(self.links), show(min(self.links), 120),
            )  # fmt: skip
        if self.uploads:
            logger.warning(
                "%s: skipped %d files named like a modelshelf upload in progress (first: %s);"
                " an upload in progress, or a killed one, leaves such a file: if none runs,"
                " delete it (or rename it, if it is a file of yours)",
                url, len(self.uploads), show(min(self.uploads), 120),
            )  # fmt: skip


class _Folder:
    """One folder on the path of the walk: its descriptor (open while its subfolders are
    walked) and the names of the subfolders still to walk, the next one last."""

    __slots__ = ("fd", "key", "pending")

    def __init__(self, key: str, fd: int) -> None:
        self.key = key
        self.fd = fd
        self.pending: list[str] = []


def walk_store(
    backend: _Listed, top: str, skipped: Skipped, after: str = ""
) -> Iterator[ObjectMeta]:
    """The regular files below ``top`` (a folder of the store, ``""`` for all), depth first;
    each link found is added to ``skipped`` and not followed. Each folder is opened from the
    one before it without following a link, and read through its descriptor.

    A subfolder is opened only when its turn comes, so the descriptors held at once are the
    folders on the current path (the depth of the walk), not one per subfolder found (a
    folder with more subfolders than the open-file limit failed the listing with EMFILE and
    leaked them); every one is closed when the walk ends, fails or is abandoned.

    With ``after``, names whose keys sort at or before it (and lead to no key after it) are
    passed over before they cost a ``stat``: a follower of the store's log reads its folder
    from a cursor in one directory read.
    """
    try:
        root = backend._open_root()
    except StoreNotFoundError:
        raise
    except OSError as exc:
        _list_failed(exc, backend, top)
    try:
        try:
            start = walk(root, top.split("/")) if top else os.dup(root)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                skipped.links.append(exc.filename)
            return  # a link, or the prefix names no folder
    finally:
        os.close(root)
    path = [_Folder(top, start)]
    try:
        yield from _entries(backend, path[-1], skipped, after)
        while path:
            folder = path[-1]
            if not folder.pending:
                os.close(path.pop().fd)
                continue
            name = folder.pending.pop()
            key = f"{folder.key}/{name}" if folder.key else name
            fd = _open_inner(backend, folder, name, key, skipped)
            if fd is not None:
                path.append(_Folder(key, fd))
                yield from _entries(backend, path[-1], skipped, after)
    finally:
        for folder in path:
            os.close(folder.fd)


def _open_inner(
    backend: _Listed, folder: _Folder, name: str, key: str, skipped: Skipped
) -> int | None:
    """The subfolder ``name`` of ``folder``, opened without following a link; None when it
    went away or was swapped for a link (counted) or a file since it was listed."""
    try:
        return open_folder(name, folder.fd)
    except FileNotFoundError:
        return None  # removed while listed
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            skipped.links.append(key)
            return None
        if exc.errno == errno.ENOTDIR:
            return None
        _list_failed(exc, backend, key)


def _entries(
    backend: _Listed, folder: _Folder, skipped: Skipped, after: str = ""
) -> Iterator[ObjectMeta]:
    """The regular files of ``folder`` (read through its descriptor); its subfolders are
    noted in ``folder.pending`` by name, opened later by :func:`_walk`."""
    try:
        with os.scandir(folder.fd) as found:
            names = sorted((entry.name for entry in found), reverse=True)
    except OSError as exc:
        _list_failed(exc, backend, folder.key)
    inner: list[str] = []
    for name in names:
        key = f"{folder.key}/{name}" if folder.key else name
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            continue  # not a name a key can hold (obstore cannot read it either)
        if after and key <= after and f"{key}/" <= after and not after.startswith(f"{key}/"):
            continue  # neither it nor anything under it (were it a folder) sorts after the cursor
        try:
            info = os.stat(name, dir_fd=folder.fd, follow_symlinks=False)
        except FileNotFoundError:
            continue  # removed while listed
        except OSError as exc:
            _list_failed(exc, backend, key)
        if stat.S_ISLNK(info.st_mode):
            skipped.links.append(key)
        elif stat.S_ISDIR(info.st_mode):
            inner.append(name)
        elif not stat.S_ISREG(info.st_mode):
            continue  # a FIFO, socket or device is no object
        elif _UPLOAD_TEMP.fullmatch(name):
            skipped.uploads.append(key)
        else:
            yield file_meta(key, info)
    folder.pending = inner[::-1]  # depth first, in name order as before


def _list_failed(exc: OSError, backend: _Listed, key: str) -> NoReturn:
    """Raise what a failed step of the walk means; running out of descriptors (a store whose
    folders nest deeper than the open-file limit) is said as such, without loading anything
    (an import needs a descriptor too)."""
    if exc.errno in (errno.EMFILE, errno.ENFILE):
        raise StoreError(
            f"cannot list {show(key, 120)} in the store {backend.url}: its folders nest deeper"
            f" than this process may open files ({exc.strerror}); raise the limit (ulimit -n)"
            " or remove the nesting"
        ) from None
    translate_error(exc, backend.url, key, backend.hints)


def file_meta(key: str, st: os.stat_result) -> ObjectMeta:
    """What obstore's LocalStore says of a file: its ETag is inode, mtime (microseconds) and
    size in hex, so a listing here and a HEAD through obstore agree."""
    micros = st.st_mtime_ns // 1000
    return ObjectMeta(
        path=key,
        size=st.st_size,
        etag=f'"{st.st_ino:x}-{micros:x}-{st.st_size:x}"',
        last_modified=_EPOCH + timedelta(microseconds=micros),
    )
