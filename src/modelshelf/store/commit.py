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

from modelshelf.errors import ModelshelfError
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

    Args:
        reused: the entries whose blobs were found present rather than written by the caller.
        restore: writes one vanished blob again (verified); it may log and return when it cannot.

    Raises:
        VersionExistsError: the number is taken (nothing was checked or restored).
    """
    store.commit_manifest(manifest)
    unique = list({entry.sha256: entry for entry in reused}.values())
    if not unique:
        return
    # Looked up after the commit (by listings too, when many): a blob gone by now shows as gone.
    stored = store.blob_finder(len(unique))

    def check(entry: FileEntry) -> None:
        if not stored(entry.sha256, entry.size):
            restore(entry)

    try:
        run_concurrently(check, unique)
    except ModelshelfError as exc:  # the version is committed: say so, do not fail the caller
        logger.warning(
            "%s:%s is committed, but its blobs could not be re-checked: %s; run"
            " `modelshelf verify %s:%s` to check it",
            manifest.name, manifest.version, exc, manifest.name, manifest.version,
        )  # fmt: skip
