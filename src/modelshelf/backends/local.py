"""``file://`` stores: a folder on a local or mounted filesystem (the embedded default).

The folder's content is outside input, like a bucket's: whoever can write there can plant
symbolic links, and a link leads anywhere on this machine (``etclink -> /etc``, a blob that is
``/etc/shadow``). So no link in the store is followed: the listing is this module's own walk,
which skips every entry that is a link or lies behind one (and says how many), and every read,
write or delete of a key that passes through a link is refused (obstore's own walk and opens
follow links, and a link loop fails its whole listing). Links in the store folder's own path
are the user's choice: the folder is resolved once, when the store is opened.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

from modelshelf._paths import user_path
from modelshelf.backends._obstore import ObstoreBackend, translate_error
from modelshelf.backends.base import ObjectMeta, PutMode
from modelshelf.errors import UnsupportedStoreError, UntrustedStoreDataError
from modelshelf.trust import inside, show

__all__ = ["LocalBackend"]

logger = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class LocalBackend(ObstoreBackend):
    """A store in a local folder, created on first use.

    obstore writes each object to a temporary file and renames it, so readers never see part of
    an object, and create-only writes use the filesystem's exclusive create.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = user_path(root, "store folder").resolve()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UnsupportedStoreError(
                f"cannot create the store folder {self.root}: {exc.strerror}. Choose a writable"
                " folder with --store file:///path or MODELSHELF_STORE."
            ) from exc
        from obstore.store import LocalStore  # here: a cache hit never loads obstore

        super().__init__(LocalStore(str(self.root), mkdir=True), self.root.as_uri())

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
    def _link_in(self, key: str) -> str | None:
        """The first part of ``key`` (as a path below the store folder) that is a symbolic
        link, or ``None``. A part that does not exist ends the search: nothing below it can
        be followed."""
        path = self.root
        parts = key.split("/")
        for depth, part in enumerate(parts, 1):
            path = path / part
            try:
                if stat.S_ISLNK(os.lstat(path).st_mode):
                    return "/".join(parts[:depth])
            except (OSError, ValueError):  # missing, not a folder, NUL: nothing to follow
                return None
        return None

    def _refuse_links(self, key: str) -> None:
        link = self._link_in(key)
        if link is not None:
            raise UntrustedStoreDataError(
                f"{show(key, 120)} in the store {self.url}: {show(link, 120)} is a symbolic"
                " link, and a file:// store follows none (it could lead anywhere on this"
                " machine); replace it with the file or folder itself",
                store=self.url,
                key=key,
            )

    def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
        self._refuse_links(key)
        return super().get(key, chunk_size)

    def get_range(self, key: str, start: int, end: int) -> memoryview:
        self._refuse_links(key)
        return super().get_range(key, start, end)

    def head(self, key: str) -> ObjectMeta:
        self._refuse_links(key)
        return super().head(key)

    def put(self, key: str, data: bytes | Path | BinaryIO, *, mode: PutMode = "overwrite") -> None:
        self._refuse_links(key)  # a folder link would carry the write out of the store
        super().put(key, data, mode=mode)

    def delete(self, key: str) -> None:
        self._refuse_links(key)
        super().delete(key)

    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        """Every regular file under ``prefix/``, as obstore lists them, but walked without
        following any link: links (and what lies behind them) are skipped and counted."""
        top = prefix.strip("/")
        skipped: list[str] = []
        try:
            link = self._link_in(top) if top else None
            if link is not None:
                skipped.append(link)
                return
            yield from _walk(self, top, skipped)
        finally:
            if skipped:
                logger.warning(
                    "%s: skipped %d entries that are symbolic links (first: %s) and all behind"
                    " them; a file:// store follows no links: replace them with the files or"
                    " folders themselves to have them listed",
                    self.url, len(skipped), show(sorted(skipped)[0], 120),
                )  # fmt: skip

    def get_range_chunks(
        self, key: str, start: int, end: int, chunk_size: int
    ) -> Iterator[memoryview]:
        # obstore streams a local file in reads of about 8 KiB (277 MiB/s measured) while its
        # ranged reads run at GB/s: pieces are ranged reads of ``chunk_size``, up to the end
        # of the object as it is now (a ranged read starting past the end is an error here).
        end = min(end, self.head(key).size)
        for position in range(start, end, chunk_size):
            piece = self.get_range(key, position, min(position + chunk_size, end))
            yield piece
            if piece.nbytes < min(chunk_size, end - position):
                return  # the object was cut short while being read


def _walk(backend: LocalBackend, top: str, skipped: list[str]) -> Iterator[ObjectMeta]:
    """The regular files below ``top`` (a folder of the store, ``""`` for all), depth first;
    each link found is added to ``skipped`` and not followed."""
    folders = [top]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(backend.root / folder if folder else backend.root) as found:
                entries = sorted(found, key=lambda entry: entry.name, reverse=True)
        except (FileNotFoundError, NotADirectoryError):
            continue  # removed while listed, or the prefix names no folder
        except OSError as exc:
            translate_error(exc, backend.url, folder, backend.hints)
        for entry in entries:
            key = f"{folder}/{entry.name}" if folder else entry.name
            try:
                key.encode("utf-8")
            except UnicodeEncodeError:
                continue  # not a name a key can hold (obstore cannot read it either)
            try:
                if entry.is_symlink():
                    skipped.append(key)
                elif entry.is_dir(follow_symlinks=False):
                    folders.append(key)
                elif entry.is_file(follow_symlinks=False) and not _upload_temp(entry.name):
                    yield _file_meta(key, entry.stat(follow_symlinks=False))
            except FileNotFoundError:
                continue  # removed while listed


def _upload_temp(name: str) -> bool:
    """obstore's temporary file of an upload in progress (``name#3``): never listed, as
    obstore's own listing leaves it out (everything after the first ``#`` is digits)."""
    _, mark, suffix = name.partition("#")
    return bool(mark) and suffix.isascii() and suffix.isdigit()


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
