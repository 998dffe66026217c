"""Promotion: copy one version, with its manifest, from one store to another.

Only the blobs the destination lacks travel, each streamed from store to store and verified on
the way; the manifest is committed last, create-only and unchanged, so the version keeps its
number and provenance (created, author, message, source). After the commit the blobs found
present are looked up again, and any that a concurrent gc deleted is copied again
(:func:`modelshelf.store.commit.commit_reusing`, the same step as a push's). A destination that
already holds the same version with the same content keeps its manifest, but its blobs are
looked up and any missing one is copied again (a version a gc or a hand broke is repaired by
copying it again); one that holds a *different* version of that number is refused. The
destination's audit log records the copy and where it came from.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from modelshelf.backends.base import without_password
from modelshelf.errors import ObjectNotFoundError, VersionExistsError, VersionNotFoundError
from modelshelf.manifest import FileEntry, Manifest, content_of_manifest
from modelshelf.store.api import StoreLayout
from modelshelf.store.commit import commit_reusing
from modelshelf.transfer.download import run_per_blob
from modelshelf.transfer.progress import Progress

__all__ = ["CopyReport", "copy_version"]

logger = logging.getLogger("modelshelf")


@dataclass(frozen=True)
class CopyReport:
    """What a copy did.

    Attributes:
        manifest: the version copied (as it now is in the destination).
        source, destination: the two store URLs.
        blobs_copied, bytes_copied: what travelled.
        blobs_present: blobs the destination already held.
        already_there: the destination held this very version already; nothing was written.
    """

    manifest: Manifest
    source: str
    destination: str
    blobs_copied: int
    bytes_copied: int
    blobs_present: int
    already_there: bool


def copy_version(
    manifest: Manifest, source: StoreLayout, destination: StoreLayout, progress: Progress
) -> CopyReport:
    """Copy the version ``manifest`` describes from ``source`` to ``destination``.

    Raises:
        VersionExistsError: the destination holds another version of that number (or removed
            it: its numbers are never reused).
        IntegrityError: a source blob is damaged; nothing of it was stored.
    """
    name, version = manifest.name, manifest.version
    # URLs as shown and recorded (the audit log is kept forever): never with a password.
    source_url, destination_url = without_password(source.url), without_password(destination.url)
    try:
        there = destination.read_manifest(name, version)
    except (ObjectNotFoundError, VersionNotFoundError):  # absent, or removed (checked next)
        there = None
    if there is not None:
        if content_of_manifest(there) != content_of_manifest(manifest):
            raise VersionExistsError(
                name,
                version,
                destination_url,
                hint="It holds different content there, so the copy is refused; compare with"
                f" `modelshelf show {name}:{version} --store {destination_url}`.",
            )
        return _repair(there, source, destination, progress, source_url, destination_url)
    if version in {str(v) for v in destination.taken_versions(name)}:
        raise destination.version_taken_error(name, version)
    unique = {f.sha256: f for f in manifest.files}
    missing = [f for f in unique.values() if not destination.has_blob(f.sha256, f.size)]
    _send(f"copy {name}:{version}", missing, source, destination, progress)

    def restore(entry: FileEntry) -> None:
        logger.warning(
            "%s:%s: the blob of %s vanished from %s during the copy (a concurrent gc?);"
            " copying it again",
            name, version, entry.path, destination_url,
        )  # fmt: skip
        destination.put_blob(entry.sha256, source.open_blob(entry.sha256), entry.size)

    sent = {f.sha256 for f in missing}
    # Blobs found present may be orphans a gc deletes before it sees this manifest.
    reused = [f for f in unique.values() if f.sha256 not in sent]
    commit_reusing(destination, manifest, reused, restore)
    destination.append_log(name, "copy", version=version, source=source_url)
    return _report(manifest, source_url, destination_url, missing, len(unique), False)


def _repair(
    there: Manifest,
    source: StoreLayout,
    destination: StoreLayout,
    progress: Progress,
    source_url: str,
    destination_url: str,
) -> CopyReport:
    """The version is in the destination already: copy again only the blobs it lacks there."""
    unique = {f.sha256: f for f in there.files}
    stored = destination.blob_finder(len(unique))
    missing = [f for f in unique.values() if not stored(f.sha256, f.size)]
    if missing:
        logger.warning(
            "%s:%s is in %s already but lacks %d blob%s; copying %s again",
            there.name, there.version, destination_url, len(missing),
            "s" if len(missing) != 1 else "", "it" if len(missing) == 1 else "them",
        )  # fmt: skip
        _send(f"repair {there.name}:{there.version}", missing, source, destination, progress)
        destination.append_log(there.name, "repair", version=there.version, source=source_url)
    return _report(there, source_url, destination_url, missing, len(unique), True)


def _report(
    manifest: Manifest,
    source_url: str,
    destination_url: str,
    missing: list[FileEntry],
    blobs: int,
    already_there: bool,
) -> CopyReport:
    """What travelled (``missing``, sent) out of the version's ``blobs`` distinct blobs."""
    sent = sum(f.size for f in missing)
    return CopyReport(
        manifest, source_url, destination_url, len(missing), sent, blobs - len(missing),
        already_there,
    )  # fmt: skip


def _send(
    label: str,
    missing: list[FileEntry],
    source: StoreLayout,
    destination: StoreLayout,
    progress: Progress,
) -> None:
    """Stream each of ``missing`` from ``source`` to ``destination`` (verified by ``put_blob``)."""
    bar = progress.task(label, sum(f.size for f in missing), len(missing))

    def send(entry: FileEntry) -> None:
        destination.put_blob(entry.sha256, source.open_blob(entry.sha256), entry.size)
        bar.advance(entry.size)
        bar.file_done()

    run_per_blob(send, missing)
