"""The store seam: the layout operations the facade needs, as one small interface.

:class:`StoreLayout` is what push, pull, resolve and alias moves use; :class:`MaintainedStore`
adds what housekeeping needs (listing every asset and blob, removing versions and blobs, alias
history). :class:`~modelshelf.store.bucket.Store` (keys in a bucket, over any
:class:`~modelshelf.backends.Backend`) is the first implementation of both;
:class:`~modelshelf.store.http.HttpStore` (the client of a modelshelf registry) the second. An
OCI registry store is planned as the third; docs/design-notes.md ("The store seam, checked
against OCI") maps every operation onto the OCI distribution API and says which guarantees that
store can and cannot give.

Every method's contract is the guarantee the facade relies on; an implementation that cannot
keep one must say so in its ``guarantees`` rather than weaken it silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from modelshelf.backends.base import ObjectMeta
from modelshelf.errors import AssetNotFoundError, VersionExistsError
from modelshelf.manifest import Manifest
from modelshelf.spec import Version
from modelshelf.store.aliases import AliasRecord
from modelshelf.store.notes import Notes
from modelshelf.store.removal import Removal
from modelshelf.transfer.download import BlobReader
from modelshelf.transfer.verified_upload import HashedBytes

__all__ = ["LayoutGuarantees", "MaintainedStore", "StoreLayout"]


@dataclass(frozen=True)
class LayoutGuarantees:
    """What a layout can promise under concurrent writers.

    Attributes:
        create_only_commit: a version's manifest is committed only if absent, atomically, so two
            racing pushes of one version cannot both win (the bucket layout: yes).
        alias_compare_and_swap: an alias moves only from the version the mover read (yes).
        listable: every asset can be listed (registries may hide their catalog).
    """

    create_only_commit: bool = True
    alias_compare_and_swap: bool = True
    listable: bool = True


@runtime_checkable
class StoreLayout(Protocol):
    """The operations push, pull, resolve and alias moves need from a store."""

    url: str
    guarantees: LayoutGuarantees

    @property
    def id(self) -> str:
        """A short, filesystem-safe name of the store for its part of the local cache."""
        ...

    def create(self) -> None:
        """Make the store exist before a first write (a ``file://`` folder); reads never do."""
        ...

    # versions and manifests
    def versions(self, name: str) -> list[Version]:
        """The live versions of ``name``, oldest first; AssetNotFoundError if none ever."""
        ...

    def taken_versions(self, name: str) -> list[Version]:
        """Every version number ever used by ``name`` (removed ones too): never reused."""
        ...

    def read_manifest(self, name: str, version: str) -> Manifest:
        """The manifest of ``name:version``, checked at the trust boundary."""
        ...

    def commit_manifest(self, manifest: Manifest) -> None:
        """Make the version exist, create-only; VersionExistsError if the number is taken."""
        ...

    def version_taken_error(self, name: str, version: str) -> VersionExistsError:
        """The error for a taken number, saying whether it was removed (and by whom)."""
        ...

    def version_not_found(
        self, name: str, wanted: Version | None, live: list[Version]
    ) -> AssetNotFoundError:
        """The error for a version that is not there, saying whether it was removed."""
        ...

    # aliases
    def read_alias(self, name: str, alias: str) -> AliasRecord:
        """The alias's current record; AliasNotFoundError if it was never set or is removed."""
        ...

    def alias_target(self, name: str, alias: str) -> str:
        """The version ``name@alias`` points at; VersionNotFoundError if it was removed."""
        ...

    def set_alias(
        self, name: str, alias: str, version: str, *, expected: str | None = None
    ) -> AliasRecord:
        """Move the alias by compare-and-swap (AliasConflictError when another move won)."""
        ...

    # blobs
    def has_blob(self, sha256: str, size: int | None = None) -> bool:
        """Whether the blob is stored (at ``size`` bytes, when given)."""
        ...

    def blob_finder(self, expected: int) -> Callable[[str, int], bool]:
        """A thread-safe ``has_blob(sha256, size)`` for a push of about ``expected`` files
        (it may list blobs in bulk rather than ask for each)."""
        ...

    def put_blob(
        self, sha256: str, path: Path | BlobReader | HashedBytes, size: int | None = None
    ) -> None:
        """Store a file (another store's blob, or hashed bytes) as blob ``sha256``, verified."""
        ...

    def open_blob(self, sha256: str) -> BlobReader:
        """Read access to a blob (size, byte ranges), for verified downloads."""
        ...

    # audit log
    def append_log(self, name: str, action: str, **fields: Any) -> None:
        """Record a write (push, alias move, removal) in the asset's audit log."""
        ...

    def log(self, name: str) -> list[dict[str, Any]]:
        """The asset's audit records, oldest first."""
        ...


@runtime_checkable
class MaintainedStore(StoreLayout, Protocol):
    """What housekeeping (ls, rm, alias rm, gc, verify) and the notes (labels, descriptions)
    need beyond :class:`StoreLayout`."""

    def assets(self, prefix: str = "") -> list[str]:
        """Every asset name under ``prefix``."""
        ...

    def live_versions(self, prefix: str = "") -> set[tuple[str, str]]:
        """``(name, version)`` of every live version under ``prefix``."""
        ...

    def aliases(self, name: str) -> dict[str, AliasRecord]:
        """The current record of each alias of ``name``."""
        ...

    def alias_history(self, name: str, alias: str) -> list[AliasRecord]:
        """Every record of the alias, oldest first."""
        ...

    def remove_alias(self, name: str, alias: str, *, expected: str | None = None) -> AliasRecord:
        """Remove the alias by compare-and-swap (a ``version: null`` record)."""
        ...

    def read_notes(self, name: str, version: str | None = None) -> Notes:
        """The current labels and description of the asset (``version=None``) or of a version
        (``seq == 0``: never written)."""
        ...

    def notes_history(self, name: str, version: str | None = None) -> list[Notes]:
        """Every record of those notes, oldest first."""
        ...

    def write_notes(
        self,
        name: str,
        version: str | None,
        *,
        labels: Mapping[str, str],
        description: str,
        expected_seq: int,
        writer: Mapping[str, str] | None = None,
    ) -> Notes:
        """Replace the notes by compare-and-swap on the record number: record
        ``expected_seq + 1``, or NotesConflictError (naming the newest) when another write won;
        a version's notes need a live version. ``writer`` is who a bucket store records (a
        registry records its caller's token whatever is passed)."""
        ...

    def remove_version(
        self, name: str, version: str, message: str = "", *, dry_run: bool = False
    ) -> Removal:
        """Take a version back: a removal record, then a tombstone; the number stays taken."""
        ...

    def blobs(self) -> Iterator[tuple[str, ObjectMeta]]:
        """Every stored blob: ``(sha256, its metadata)``."""
        ...

    def delete_blob(self, sha256: str) -> None:
        """Delete one blob (garbage collection only)."""
        ...

    def quarantine_blob(self, sha256: str, run: str) -> None:
        """Move one blob to gc run ``run``'s quarantine (gc's first phase of a delete);
        ObjectNotFoundError if it is gone already."""
        ...

    def quarantined(self) -> Iterator[tuple[str, str, ObjectMeta]]:
        """Every quarantined blob of every gc run: ``(run, sha256, its metadata)``."""
        ...

    def restore_blob(self, sha256: str, run: str, size: int) -> None:
        """Put a quarantined blob back, verified (IntegrityError if its bytes are not it)."""
        ...

    def drop_quarantined(self, sha256: str, run: str) -> None:
        """Delete one blob from a run's quarantine (gc's second phase)."""
        ...
