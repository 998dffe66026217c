"""``file://`` stores: a folder on a local or mounted filesystem (the embedded default).

The folder's content is outside input, like a bucket's: whoever can write there can plant
symbolic links, and a link leads anywhere on this machine (``etclink -> /etc``, a blob that is
``/etc/shadow``). So no link in the store is followed: the listing is our own walk
(:mod:`modelshelf.backends._local_walk`), which skips every entry that is a link or lies
behind one (and says how many), and every read, write or delete of a key that passes through
a link is refused (obstore's own walk and opens follow links, and a link loop fails its whole
listing). Links in the store folder's own path
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
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, NoReturn
from urllib.parse import unquote, urlsplit

from modelshelf._dir_fd import READ_FLAGS, open_folder, temp_name, walk
from modelshelf._paths import user_path
from modelshelf.backends._local_walk import UPLOAD_TAG, Skipped, file_meta, walk_store
from modelshelf.backends._obstore import ObstoreBackend, translate_error
from modelshelf.backends.base import ObjectMeta, PutMode
from modelshelf.errors import (
    ObjectNotFoundError,
    StoreNotFoundError,
    UnsupportedStoreError,
    UntrustedStoreDataError,
)
from modelshelf.trust import inside, show

__all__ = ["LocalBackend"]

logger = logging.getLogger(__name__)

_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
_CHUNK = 8 * 1024 * 1024


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
                f"cannot create the store folder {self.root}: {exc.strerror}"
            ).with_fix(
                "; choose a writable folder (file:///path) with {store} or MODELSHELF_STORE"
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
        (:mod:`modelshelf.transfer.local_copy`) opens it without following a link in any part."""
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
        return file_meta(key, info)

    def put(self, key: str, data: bytes | Path | BinaryIO, *, mode: PutMode = "overwrite") -> None:
        """Write a temporary file in the key's folder (opened through the descriptor chain,
        made as needed) and rename it into place; ``create`` links it instead, which fails if
        the name exists. The temporary name stays under NAME_MAX bytes (obstore's
        ``<name>#<n>`` did not for a 255-byte name) and is never listed."""
        with self._folder(key, make=True) as (folder, name):
            temp = temp_name(name, tag=UPLOAD_TAG)
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
        skipped = Skipped()
        try:
            yield from walk_store(self, top, skipped)
        finally:
            skipped.warn(self.url)

    def list_after(self, prefix: str, after: str) -> Iterator[ObjectMeta]:
        """The guarded walk of :meth:`list` (never obstore's own listing, which would follow
        links), passing over the names at or before ``after`` before they cost a ``stat``,
        then sorted."""
        top = prefix.strip("/")
        if top:
            self._check_prefix(prefix, top)
        skipped = Skipped()
        try:
            listed = [m for m in walk_store(self, top, skipped, after) if m.path > after]
        finally:
            skipped.warn(self.url)
        yield from sorted(listed, key=lambda meta: meta.path)

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
