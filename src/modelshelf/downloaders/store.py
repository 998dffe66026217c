"""The store downloader: a readable tree ``<prefix>/<name>/<version>/<path>`` in any store,
streamed from the verified cache."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelshelf import trust
from modelshelf.backends.base import without_password
from modelshelf.backends.registry import open_guarded
from modelshelf.downloaders.version import PulledVersion
from modelshelf.errors import ExportError, ObjectExistsError, UntrustedStoreDataError
from modelshelf.manifest import FileEntry

if TYPE_CHECKING:
    from modelshelf.backends.base import Backend

__all__ = ["StoreDownloader"]


class StoreDownloader:
    """A readable tree ``<prefix>/<name>/<version>/<path>`` in any store, streamed from the cache.

    An object already there with the same content is kept; one with other content is refused
    unless ``overwrite``. If a write fails, the objects this export created are deleted again.

    Args:
        url: the store URL, e.g. ``s3://serving/models`` (its prefix is the tree's root).
        overwrite: replace objects that hold other content.
        **backend_options: settings for the backend, as for :class:`~modelshelf.Shelf`.
    """

    def __init__(self, url: str, *, overwrite: bool = False, **backend_options: Any) -> None:
        self.url = url.rstrip("/") if not url.endswith("://") else url
        self._shown = without_password(self.url)
        self.overwrite = overwrite
        self._options = backend_options

    def __repr__(self) -> str:
        return f"StoreDownloader({self._shown!r}, overwrite={self.overwrite})"

    def __call__(self, pulled: PulledVersion) -> str:
        """Upload every file of ``pulled``; returns the URL of ``<url>/<name>/<version>``."""
        backend = open_guarded(self.url, **self._options)
        backend.create_store()  # an export may start a store (a file:// folder)
        base = _key(pulled.name, pulled.version)
        keys = [_key(base, entry.path) for entry in pulled.manifest.files]  # all, before writing
        created: list[str] = []
        try:
            for key, entry in zip(keys, pulled.manifest.files, strict=True):
                if self._put(backend, key, pulled.path_of(entry), entry):
                    created.append(key)
        except BaseException:
            for key in created:
                with contextlib.suppress(Exception):
                    backend.delete(key)
            raise
        return f"{self._shown}{'' if self._shown.endswith('/') else '/'}{base}"

    def _put(self, backend: Backend, key: str, source: Path, entry: FileEntry) -> bool:
        """Write one object; False when an equal one was there already."""
        try:
            backend.put(key, source, mode="overwrite" if self.overwrite else "create")
            return True
        except ObjectExistsError:
            if (
                backend.head(key).size == entry.size
                and _stored_sha256(backend, key) == entry.sha256
            ):
                return False
            raise ExportError(f"{self._shown}/{key} exists with other content").with_fix(
                "; pass {overwrite} to replace it"
            ) from None


def _key(*parts: str) -> str:
    """``parts`` joined by ``/``, refused unless a safe relative key (no ``..``, ``//``, ...)."""
    try:
        return trust.check_relative_path("/".join(parts))
    except ValueError as exc:
        raise UntrustedStoreDataError(f"refusing the object key: {exc}") from None


def _stored_sha256(backend: Backend, key: str) -> str:
    import hashlib

    digest = hashlib.sha256()
    for chunk in backend.get(key, chunk_size=1 << 20):
        digest.update(chunk)
    return digest.hexdigest()
