"""Housekeeping of a store: verify a version's blobs, remove versions.

``verify`` HEADs every blob of a version (``quick``: sizes only), then streams each through
sha256 with the same bounded window of ranged GETs a pull uses, writing nothing. Removal takes
the exact version only: taking a model back is deliberate, so ``rm nlp/x:1`` must not pick
"the latest 1.x" for the user. Removing an alias is moving it: :mod:`~modelshelf.shelf.aliases`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelshelf.errors import InvalidInputError, ObjectNotFoundError
from modelshelf.manifest import FileEntry, Manifest
from modelshelf.spec import AssetSpec
from modelshelf.store.api import MaintainedStore
from modelshelf.store.bucket import Removal
from modelshelf.transfer.download import hash_object, run_per_blob
from modelshelf.transfer.progress import Progress, ProgressTask

__all__ = [
    "BlobFault",
    "VerifyReport",
    "exact_version",
    "remove_version",
    "verify_version",
]


@dataclass(frozen=True)
class BlobFault:
    """One file of a version whose blob is missing or damaged in the store.

    Attributes:
        path: the file's path in the asset.
        key: the blob's key in the store.
        sha256: the sha256 the manifest records.
        size: the size the manifest records.
        problem: ``missing``, ``size`` or ``sha256``.
        actual: what the store holds instead, for people.
    """

    path: str
    key: str
    sha256: str
    size: int
    problem: str
    actual: str

    def describe(self) -> str:
        """One line for people: the file, the problem, the key, and what was expected and found,
        e.g. ``weights.bin: sha256 fault at blobs/ab/ab12...: expected 5000 bytes with sha256
        ab12..., found bytes hashing to 9f3c...``. Store text in it is not escaped: print it
        through ``trust.show``-style escaping (the CLI's ``printable``)."""
        return (
            f"{self.path}: {self.problem} fault at {self.key}: expected {self.size} bytes with"
            f" sha256 {self.sha256}, found {self.actual}"
        )


@dataclass(frozen=True)
class VerifyReport:
    """What :meth:`Shelf.verify <modelshelf.Shelf.verify>` checked and what it found wrong
    (nothing, when :attr:`ok`).

    Attributes:
        name: the asset.
        version: the version checked, e.g. ``"1.3"`` (an alias or partial version resolved).
        quick: only sizes were compared (``--quick``); a blob damaged at its size passes then.
        files: how many files of the version were checked.
        blobs: how many distinct blobs they use (files with equal bytes share one).
        size: the bytes of those blobs, each counted once.
        faults: one per file whose blob is missing, of another size or (unless ``quick``)
            hashing to something else; :meth:`Shelf.repair <modelshelf.Shelf.repair>` mends them.
    """

    name: str
    version: str
    quick: bool
    files: int
    blobs: int
    size: int
    faults: tuple[BlobFault, ...]

    @property
    def ok(self) -> bool:
        """True when every blob checked is whole (no :attr:`faults`)."""
        return not self.faults

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``verify --json`` prints: these attributes and ``ok``, each fault as
        an object of the :class:`BlobFault` fields."""
        return {
            "name": self.name,
            "version": self.version,
            "quick": self.quick,
            "ok": self.ok,
            "files": self.files,
            "blobs": self.blobs,
            "size": self.size,
            "faults": [fault.__dict__ for fault in self.faults],
        }


def verify_version(
    store: MaintainedStore,
    manifest: Manifest,
    entries: tuple[FileEntry, ...],
    *,
    quick: bool,
    progress: Progress,
) -> VerifyReport:
    """Check that the store holds every blob of ``entries`` whole (sizes only if ``quick``).

    Raises:
        StoreError: the store failed in a way that says nothing about the blobs (unreachable,
            refused credentials); faults of the blobs themselves are reported, not raised.
    """
    unique = {entry.sha256: entry for entry in entries}
    bar = progress.task(
        f"verify {manifest.name}:{manifest.version}",
        0 if quick else sum(e.size for e in unique.values()),
        len(unique),
    )

    def check(entry: FileEntry) -> tuple[str, str] | None:
        problem = _check_blob(store, entry, quick, bar)
        bar.file_done()
        return problem

    found = run_per_blob(check, list(unique.values()))
    _name_quarantined(store, found)
    faults = tuple(
        BlobFault(e.path, store.open_blob(e.sha256).name, e.sha256, e.size, *problem)
        for e in entries
        if (problem := found[e.sha256]) is not None
    )
    return VerifyReport(
        manifest.name,
        manifest.version,
        quick,
        len(entries),
        len(unique),
        sum(e.size for e in unique.values()),
        faults,
    )


def _name_quarantined(store: MaintainedStore, found: dict[str, tuple[str, str] | None]) -> None:
    """Say where a missing blob is when a gc's quarantine holds it (one listing, only when a
    blob is missing): a gc killed midway left it there, and the next gc puts it back. verify
    itself writes nothing."""
    missing = {sha for sha, problem in found.items() if problem and problem[0] == "missing"}
    if not missing:
        return
    for run, sha, _ in store.quarantined():
        if sha in missing:
            found[sha] = (
                "missing",
                f"nothing: the blob is missing, but {store.url}/gc/{run}/ holds it (a gc was"
                " stopped midway); `modelshelf gc` puts it back",
            )


def _check_blob(
    store: MaintainedStore, entry: FileEntry, quick: bool, bar: ProgressTask
) -> tuple[str, str] | None:
    """``(problem, what was found)`` for a bad blob, ``None`` for a good one."""
    blob = store.open_blob(entry.sha256)
    try:
        actual_size = blob.size()
        if actual_size != entry.size:
            return "size", f"an object of {actual_size} bytes"
        if quick:
            return None
        actual, received = hash_object(blob, entry.size, bar)
    except ObjectNotFoundError:
        return "missing", "nothing: the blob is missing"
    if received != entry.size:
        return "size", f"{received} bytes when read"
    if actual != entry.sha256:
        return "sha256", f"bytes with sha256 {actual}"
    return None


# -- removal -------------------------------------------------------------------------------------
def exact_version(store: MaintainedStore, spec: AssetSpec, command: str = "rm") -> str:
    """The version ``spec`` names exactly: no alias, no sub-path, no partial version.

    Raises:
        InvalidInputError: ``spec`` is not ``NAME:VERSION`` with the full version.
    """
    if spec.version is None or spec.alias is not None or spec.path:
        raise InvalidInputError(
            f"{command} takes NAME:VERSION with the exact version, not {str(spec)!r};"
            f" list them with `modelshelf versions {spec.name}`"
        )
    wanted = str(spec.version)
    live = store.versions(spec.name)
    if any(str(v) == wanted for v in live):
        return wanted
    partial = [str(v) for v in live if spec.version.matches(v)]
    if partial:
        raise InvalidInputError(
            f"{spec.name}:{wanted} is not a full version: it matches {', '.join(partial[:5])};"
            f" {command} takes the exact version, e.g. {spec.name}:{partial[0]}"
        )
    return wanted  # removed or missing: Store.remove_version says which (or finishes a removal)


def remove_version(
    store: MaintainedStore, spec: AssetSpec, message: str, *, dry_run: bool = False
) -> Removal:
    """Remove the exact version ``spec`` names and log the removal; see ``Store.remove_version``.

    With ``dry_run`` nothing is written and the returned record is the one that would be.
    """
    version = exact_version(store, spec)
    removal = store.remove_version(spec.name, version, message, dry_run=dry_run)
    if dry_run:
        return removal
    store.append_log(spec.name, "remove", version=version, message=message)
    return removal
