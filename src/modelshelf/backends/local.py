"""``file://`` stores: a folder on a local or mounted filesystem (the embedded default)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from modelshelf._paths import user_path
from modelshelf.backends._obstore import ObstoreBackend
from modelshelf.errors import UnsupportedStoreError
from modelshelf.trust import inside

__all__ = ["LocalBackend"]


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
        inside it, lexically; the reader refuses a link there)."""
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
