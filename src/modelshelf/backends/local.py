"""``file://`` stores: a folder on a local or mounted filesystem (the embedded default).

The folder's content is outside input, like a bucket's: whoever can write there can plant
symbolic links, and a link leads anywhere on this machine (``etclink -> /etc``, a blob that is
``/etc/shadow``). So no link in the store is followed: the listing is this module's own walk,
which skips every entry that is a link or lies behind one (and says how many), and every read,
write or delete of a key that passes through a link is refused (obstore's own walk and opens
follow links, and a link loop fails its whole listing). Links in the store folder's own path
are the user's choice: the folder is resolved once, when the store is opened. A listing skips
only the exact names of our own uploads in progress (counted too), and refuses a prefix that
would leave the store folder, by the rule keys follow (:func:`~modelshelf.trust.inside`).

The folder's shape is outside input too: a listing holds open only the folders on its current
path (one subfolder is opened when its turn comes), and every descriptor taken here is closed
when its call or iterator ends, fails or is abandoned.

No check is made by path before a use by path (a folder swapped for a link in between would be
followed): reads, heads, puts, deletes and the listing go through directory descriptors, each
folder opened from the one before with ``O_NOFOLLOW`` (:mod:`modelshelf._dir_fd`); a read is of
the descriptor that was ``fstat``-ed. obstore is not used for any key here: its ETag format
(inode, mtime in microseconds, size, in hex) is kept, so listings, heads and older caches agree.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, NoReturn
from urllib.parse import unquote, urlsplit

from modelshelf._dir_fd import READ_FLAGS, open_folder, temp_name, walk
from modelshelf._paths import user_path
from modelshelf.backends._obstore import ObstoreBackend, translate_error
from modelshelf.backends.base import ObjectMeta, PutMode
from modelshelf.errors import (
    ObjectNotFoundError,
    StoreError,
    StoreNotFoundError,
    UnsupportedStoreError,
    UntrustedStoreDataError,
)
from modelshelf.trust import inside, show

__all__ = ["LocalBackend"]

logger = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UPLOAD_TAG = "modelshelf-upload"
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
_CHUNK = 8 * 1024 * 1024
# Exactly the names ``temp_name(name, tag=_UPLOAD_TAG)`` makes (``.<name>.<pid>.<8 hex>.<tag>``):
# only these are an upload in progress, never listed. A store's other files are listed, even
# named ``.x.1.2.modelshelf-upload`` or ``take#2`` (obstore's own temporary names: obstore
# writes no key here any more, so such a file is the store's, or an old leftover).
_UPLOAD_TEMP = re.compile(rf"\..+\.[0-9]+\.[0-9a-f]{{8}}\.{_UPLOAD_TAG}", re.DOTALL)


class LocalBackend(ObstoreBackend):
    """A store in a local folder, made by the first write (:meth:`create_store`, or a put).

    Opening one makes nothing: a read of a folder that does not exist raises
    :class:`~modelshelf.errors.StoreNotFoundError` (a mistyped path is said to be one, never
    made and listed as an empty store). Each object is written to a temporary file in its
    folder and renamed into place, so readers never see part of an object; create-only writes
    hard-link it into place, which fails if the name exists.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = user_path(root, "store folder").resolve()
        # No obstore store underneath: every key is read and written through descriptors
        # here (and copies go through get and put, as for any local folder).
        self.url = self.root.as_uri()

    def create_store(self) -> None:
        """Make the store folder (and its parents) if it is absent."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UnsupportedStoreError(
                f"cannot create the store folder {self.root}: {exc.strerror}. Choose a writable"
                " folder with --store file:///path or MODELSHELF_STORE."
            ) from exc

    def _open_root(self, *, make: bool = False) -> int:
        """The store folder's descriptor; absent, it is made for a write (``make``) and is
        :class:`StoreNotFoundError` for a read, as is a file in its place."""
        try:
            return open_folder(self.root)
        except FileNotFoundError:
            if not make:
                raise self._no_store("the folder does not exist", "or push to create it") from None
        except NotADirectoryError:
            raise self._no_store("not a folder", "a store is a folder") from None
        self.create_store()
        return open_folder(self.root)

    def _no_store(self, why: str, step: str) -> StoreNotFoundError:
        return StoreNotFoundError(
            f"no store at {self.url} ({why}): check the path, {step}", store=self.url
        )

    def local_path(self, key: str) -> Path:
        """The file that holds ``key``: the key joined under the store folder (checked to stay
        inside it, lexically). The store folder is a resolved path, so the reader
        (:mod:`modelshelf._local_copy`) opens it without following a link in any part."""
        return inside(self.root, key)

    @staticmethod
    def path_for(url: str) -> Path:
        """The folder a ``file://`` URL (or plain path) names, made absolute."""
        if "://" not in url:
            return user_path(url, "store folder").resolve()
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise UnsupportedStoreError(
                f"{url}: file URLs name a local folder, as file:///absolute/path"
                " (three slashes); a host is not supported"
            )
        return user_path(unquote(parts.path), "store folder").resolve()

    @classmethod
    def url_for(cls, url: str) -> str:
        """The canonical ``file://`` URL of a store folder."""
        return cls.path_for(url).as_uri()

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> LocalBackend:
        """Open ``file:///abs/path`` (or a plain path)."""
        return cls(cls.path_for(url), **kwargs)

    # -- no symbolic link is followed ------------------------------------------------------
    def _refusal(self, key: str, link: str) -> UntrustedStoreDataError:
        return UntrustedStoreDataError(
            f"{show(key, 120)} in the store {self.url}: {show(link, 120)} is a symbolic"
            " link, and a file:// store follows none (it could lead anywhere on this"
            " machine); replace it with the file or folder itself",
            store=self.url,
            key=key,
        )

    def _fail(self, exc: OSError, key: str) -> NoReturn:
        """Raise what ``exc`` means for ``key``: a link met is refused by name, a missing
        folder or file (or one that is not a folder) is a missing object."""
        if exc.errno == errno.ELOOP:
            raise self._refusal(key, exc.filename or key) from None
        if isinstance(exc, NotADirectoryError):
            exc = FileNotFoundError(errno.ENOENT, "not found")
        translate_error(exc, self.url, key, self.hints)

    @contextlib.contextmanager
    def _folder(self, key: str, *, make: bool = False) -> Iterator[tuple[int, str]]:
        """The descriptor of ``key``'s folder and its last part: every folder from the store
        folder down opened with ``O_NOFOLLOW`` from the one before (made when ``make``)."""
        *parts, name = self.local_path(key).relative_to(self.root).parts
        try:
            root = self._open_root(make=make)
            try:
                fd = walk(root, parts, make=make)
            finally:
                os.close(root)
        except StoreNotFoundError:
            raise
        except OSError as exc:
            self._fail(exc, key)
        try:
            yield fd, name
        finally:
            os.close(fd)

    def _open(self, key: str) -> tuple[int, os.stat_result]:
        """``key``'s regular file, open for reading through the descriptor chain, and its
        ``fstat`` (taken from the descriptor: what is read is what was looked at)."""
        with self._folder(key) as (folder, name):
            try:
                fd = os.open(name, READ_FLAGS, dir_fd=folder)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    exc.filename = key
                self._fail(exc, key)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):  # a folder or a FIFO is no object
                translate_error(FileNotFoundError(errno.ENOENT, "not a file"), self.url, key)
        except BaseException:
            os.close(fd)  # the caller gets no descriptor to close
            raise
        return fd, info

    def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
        fd, _ = self._open(key)
        try:
            while chunk := os.read(fd, chunk_size):
                yield chunk
        finally:
            os.close(fd)

    def get_range(self, key: str, start: int, end: int) -> memoryview:
        fd, info = self._open(key)
        try:
            return _pread(fd, start, min(end, info.st_size))
        finally:
            os.close(fd)

    def get_range_chunks(
        self, key: str, start: int, end: int, chunk_size: int
    ) -> Iterator[memoryview]:
        # Ranged reads of ``chunk_size`` from one descriptor, up to the end of the object
        # as it was opened.
        fd, info = self._open(key)
        try:
            end = min(end, info.st_size)
            for position in range(start, end, chunk_size):
                piece = _pread(fd, position, min(position + chunk_size, end))
                yield piece
                if piece.nbytes < min(chunk_size, end - position):
                    return  # the object was cut short while being read
        finally:
            os.close(fd)

    def head(self, key: str) -> ObjectMeta:
        fd, info = self._open(key)
        os.close(fd)
        return _file_meta(key, info)

    def put(self, key: str, data: bytes | Path | BinaryIO, *, mode: PutMode = "overwrite") -> None:
        """Write a temporary file in the key's folder (opened through the descriptor chain,
        made as needed) and rename it into place; ``create`` links it instead, which fails if
        the name exists. The temporary name stays under NAME_MAX bytes (obstore's
        ``<name>#<n>`` did not for a 255-byte name) and is never listed."""
        with self._folder(key, make=True) as (folder, name):
            temp = temp_name(name, tag=_UPLOAD_TAG)
            try:
                fd = os.open(temp, _CREATE_FLAGS, 0o666, dir_fd=folder)
            except OSError as exc:
                self._fail(exc, key)
            try:
                try:
                    _write_all(fd, data)
                finally:
                    os.close(fd)
                if mode == "create":
                    _link_new(folder, temp, name)
                else:
                    os.replace(temp, name, src_dir_fd=folder, dst_dir_fd=folder)
            except OSError as exc:
                self._fail(exc, key)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp, dir_fd=folder)

    def delete(self, key: str) -> None:
        try:
            with self._folder(key) as (folder, name):
                try:
                    os.unlink(name, dir_fd=folder)
                except FileNotFoundError:
                    return
                except OSError as exc:
                    self._fail(exc, key)
        except (ObjectNotFoundError, StoreNotFoundError):
            return  # a missing folder on the way, or no store: nothing to delete

    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        """Every regular file under ``prefix/``, as obstore lists them, but walked without
        following any link: links (and what lies behind them) are skipped and counted, and so
        are our own uploads in progress (only names our writer makes)."""
        top = prefix.strip("/")
        if top:
            self._check_prefix(prefix, top)
        skipped = _Skipped()
        try:
            yield from _walk(self, top, skipped)
        finally:
            skipped.warn(self.url)

    def _check_prefix(self, prefix: str, top: str) -> None:
        """Refuse a prefix that would lead out of the store folder (``..``) or that no key can
        start with (``.``, ``//``, NUL, backslash): the rule :meth:`local_path` applies to keys."""
        try:
            inside(self.root, top)
        except UntrustedStoreDataError:
            raise UntrustedStoreDataError(
                f"cannot list {show(prefix, 120)} in the store {self.url}: a file:// listing"
                " prefix is a folder of the store, without '.', '..', '//', NUL or '\\'"
                " parts; name the folder under the store itself",
                store=self.url,
                key=prefix,
            ) from None


def _link_new(folder: int, temp: str, name: str) -> None:
    """Give the written ``temp`` the name ``name`` only if nothing has it (a hard link fails
    with ``EEXIST``); where hard links are refused, the name is created exclusively and
    filled from ``temp`` (create-only objects are small records)."""
    try:
        os.link(temp, name, src_dir_fd=folder, dst_dir_fd=folder, follow_symlinks=False)
        return
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
    source = os.open(temp, READ_FLAGS, dir_fd=folder)
    try:
        target = os.open(name, _CREATE_FLAGS, 0o666, dir_fd=folder)
        try:
            while chunk := os.read(source, _CHUNK):
                _write_view(target, memoryview(chunk))
        finally:
            os.close(target)
    finally:
        os.close(source)


def _pread(fd: int, start: int, end: int) -> memoryview:
    """Bytes ``[start, end)`` of ``fd`` (fewer at its end), read into one buffer."""
    buffer = bytearray(max(end - start, 0))
    view = memoryview(buffer)
    got = 0
    while got < len(buffer):
        read = os.preadv(fd, [view[got:]], start + got)
        if read == 0:
            break
        got += read
    return view[:got]


def _write_all(fd: int, data: bytes | Path | BinaryIO) -> None:
    """Write ``data`` (bytes, a local file, or a file object read until ``b""``) to ``fd``;
    an exception while reading fails the put before anything is renamed."""
    if isinstance(data, bytes | bytearray | memoryview):
        _write_view(fd, memoryview(data))
        return
    if isinstance(data, Path):
        with data.open("rb") as handle:
            _copy_from(handle, fd)
        return
    _copy_from(data, fd)


def _copy_from(reader: BinaryIO, fd: int) -> None:
    while chunk := reader.read(_CHUNK):
        _write_view(fd, memoryview(chunk))


def _write_view(fd: int, view: memoryview) -> None:
    while view:
        view = view[os.write(fd, view) :]


class _Skipped:
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


def _walk(backend: LocalBackend, top: str, skipped: _Skipped) -> Iterator[ObjectMeta]:
    """The regular files below ``top`` (a folder of the store, ``""`` for all), depth first;
    each link found is added to ``skipped`` and not followed. Each folder is opened from the
    one before it without following a link, and read through its descriptor.

    A subfolder is opened only when its turn comes, so the descriptors held at once are the
    folders on the current path (the depth of the walk), not one per subfolder found (a
    folder with more subfolders than the open-file limit failed the listing with EMFILE and
    leaked them); every one is closed when the walk ends, fails or is abandoned.
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
        yield from _entries(backend, path[-1], skipped)
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
                yield from _entries(backend, path[-1], skipped)
    finally:
        for folder in path:
            os.close(folder.fd)


def _open_inner(
    backend: LocalBackend, folder: _Folder, name: str, key: str, skipped: _Skipped
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


def _entries(backend: LocalBackend, folder: _Folder, skipped: _Skipped) -> Iterator[ObjectMeta]:
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
            yield _file_meta(key, info)
    folder.pending = inner[::-1]  # depth first, in name order as before


def _list_failed(exc: OSError, backend: LocalBackend, key: str) -> NoReturn:
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


def _file_meta(key: str, st: os.stat_result) -> ObjectMeta:
    """What obstore's LocalStore says of a file: its ETag is inode, mtime (microseconds) and
    size in hex, so a listing here and a HEAD through obstore agree."""
    micros = st.st_mtime_ns // 1000
    return ObjectMeta(
        path=key,
        size=st.st_size,
        etag=f'"{st.st_ino:x}-{micros:x}-{st.st_size:x}"',
        last_modified=_EPOCH + timedelta(microseconds=micros),
    )
