"""The contract between export and a downloader: the :class:`Downloader` protocol (any callable
taking a :class:`PulledVersion` and returning where the version went) and that version.

No I/O: the version is already whole and verified in the cache when a downloader gets it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from modelshelf import trust
from modelshelf.downloaders.file_extension import extension_of
from modelshelf.manifest import FileEntry, Manifest

__all__ = ["Downloader", "PulledVersion"]


@dataclass(frozen=True)
class PulledVersion:
    """What a :class:`Downloader` receives: one version, whole and verified in the cache.

    Attributes:
        name: the asset name, e.g. ``nlp/sentiment``.
        version: the exact version, e.g. ``1.3``.
        manifest: the version's manifest (files with sizes and sha256, metadata, sections).
        snapshot: the version's snapshot folder in the cache. Read-only: its files are links to
            the cache's blobs, so copy them out, never write or move them.
        engine: the ``engine`` of the manifest's ``model`` section (``"onnx"``, ``"torch"``,
            ...), or None when the version is not a registered model.
        cache_root: the cache the snapshot is in (a folder sink never writes into it).
    """

    name: str
    version: str
    manifest: Manifest
    snapshot: Path
    engine: str | None = None
    cache_root: Path | None = None

    @property
    def single_file(self) -> FileEntry | None:
        """The version's only file, or None when it holds several."""
        files = self.manifest.files
        return files[0] if len(files) == 1 else None

    def path_of(self, entry: FileEntry) -> Path:
        """The cached file of ``entry`` inside :attr:`snapshot` (checked to stay under it)."""
        return trust.inside(self.snapshot, entry.path)

    @property
    def extension(self) -> str:
        """The extension of a single-file version's file (:func:`extension_of`)."""
        single = self.single_file
        return extension_of(self.manifest, self.engine, single.path if single else None)


@runtime_checkable
class Downloader(Protocol):
    """A sink: stores a pulled version somewhere and returns where (a path or URL, as text).

    Any callable with this signature is one; a class is instantiated by the caller (from
    ``--to package.module:Class``: with no arguments). It must not change ``pulled.snapshot``.
    An exception it raises reaches the caller as an :class:`~modelshelf.errors.ExportError`
    naming the sink; it should leave nothing half written.
    """

    def __call__(self, pulled: PulledVersion) -> str:
        """Store ``pulled`` and return where it went."""
        ...
