"""Committing a version that reuses blobs found present: commit, then restore any that vanished.

Push and copy both skip the blobs a store already holds. A blob found present may be an old
orphan that a concurrent ``gc`` deletes after the lookup and before the new manifest shows in
gc's listing; the version would then be committed without it (verify says ``missing``, pulls
raise IntegrityError). :func:`commit_reusing` is the one step both use: it commits the manifest
and then looks the reused blobs up again, handing each one that is gone to the caller's
``restore`` (the local file for a push, the source store for a copy). Either this check runs
after gc's delete, sees the blob gone and restores it, or it runs before, so the commit precedes
gc's listing after its deletes, which sees the new manifest and puts the blob back from gc's
quarantine (:mod:`modelshelf.store.gc`; docs/design-notes.md, "Removal and garbage collection").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from modelshelf.errors import InvalidInputError, ModelshelfError
from modelshelf.manifest import FileEntry, Manifest
from modelshelf.store.api import StoreLayout
from modelshelf.transfer.download import run_concurrently

__all__ = ["commit_reusing"]

logger = logging.getLogger("modelshelf")


def commit_reusing(
    store: StoreLayout,
    manifest: Manifest,
    reused: Iterable[FileEntry],
    restore: Callable[[FileEntry], None],
) -> None:
    """Commit ``manifest``, then call ``restore`` for each ``reused`` blob gone since its lookup.

    A registry checks the blobs before it commits and refuses a manifest naming one it lacks:
    reused blobs gone by then are restored the same way, and the commit sent again.

    Args:
        reused: the entries whose blobs were found present rather than written by the caller.
        restore: writes one vanished blob again (verified); it may log and return when it cannot.

    Raises:
        VersionExistsError: the number is taken (nothing was checked or restored).
        InvalidInputError: the store refused the manifest, and no reused blob was gone.
    """
    unique = list({entry.sha256: entry for entry in reused}.values())
    try:
        store.commit_manifest(manifest)
    except InvalidInputError:
        # A registry refuses a manifest naming a blob it lacks: a reused one that a concurrent
        # gc deleted after the lookup, before the registry's own check. Send those again and
        # commit; with none gone, the refusal is about something else and stands.
        if not _restore_gone(store, unique, restore):
            raise
        store.commit_manifest(manifest)
    try:
        # Looked up after the commit (by listings too, when many): a blob gone by now shows.
        _restore_gone(store, unique, restore)
    except ModelshelfError as exc:  # the version is committed: say so, do not fail the caller
        logger.warning(
            "%s:%s is committed, but its blobs could not be re-checked: %s; run"
            " `modelshelf verify %s:%s` to check it",
            manifest.name, manifest.version, exc, manifest.name, manifest.version,
        )  # fmt: skip


def _restore_gone(
    store: StoreLayout, entries: list[FileEntry], restore: Callable[[FileEntry], None]
) -> int:
    """Look ``entries`` up, call ``restore`` for each blob not stored; how many were gone."""
    if not entries:
        return 0
    stored = store.blob_finder(len(entries))
    found = run_concurrently(lambda entry: stored(entry.sha256, entry.size), entries)
    gone = [entry for entry, present in zip(entries, found, strict=True) if not present]
    run_concurrently(restore, gone)
    return len(gone)
