"""The parts of a pull below the facade: which files a spec selects, and fetching them."""

from __future__ import annotations

import logging
from pathlib import Path

from modelshelf._progress import Progress
from modelshelf.cache import Cache
from modelshelf.errors import PathNotInVersionError
from modelshelf.manifest import FileEntry, Manifest
from modelshelf.spec import AssetSpec
from modelshelf.store_api import StoreLayout
from modelshelf.transfer import LocalBlob, download_verified, run_per_blob

logger = logging.getLogger("modelshelf")

__all__ = ["download_entries", "select_entries", "selection_root"]


def select_entries(target: AssetSpec, manifest: Manifest) -> tuple[FileEntry, ...]:
    """The files of ``manifest`` that ``target``'s sub-path names (all without one).

    Raises:
        PathNotInVersionError: the sub-path names no file or folder of the version.
    """
    entries = manifest.select(target.path)
    if not entries:
        sample = ", ".join(f.path for f in manifest.files[:5])
        raise PathNotInVersionError(
            f"{manifest.name}:{manifest.version} has no file or folder {target.path!r};"
            f" it holds {sample}{' ...' if len(manifest.files) > 5 else ''}"
            f" (see `modelshelf show {manifest.name}:{manifest.version}`)",
            name=manifest.name,
        )
    return entries


def selection_root(target: AssetSpec, manifest: Manifest) -> str:
    """The path inside the asset that a ``pull -o`` folder stands for."""
    if target.path:
        is_file = manifest.file(target.path) is not None
        return target.path.rpartition("/")[0] if is_file else target.path
    return ""


def download_entries(
    store: StoreLayout,
    cache: Cache,
    entries: list[FileEntry],
    progress: Progress,
    label: str,
    *,
    force: bool = False,
) -> None:
    """Fetch each entry's blob into the cache, verified (again, with ``force``)."""
    bar = progress.task(f"pull {label}", sum(e.size for e in entries), len(entries))

    def fetch(entry: FileEntry) -> None:
        def download(tmp: Path) -> None:
            download_verified(
                store.open_blob(entry.sha256),
                entry.size,
                entry.sha256,
                tmp,
                label=entry.path,
                progress=bar,
            )

        cache.fetch_blob(entry, download, force=force)
        bar.file_done()

    local = bool(entries) and isinstance(store.open_blob(entries[0].sha256), LocalBlob)
    run_per_blob(fetch, entries, local=local)


def heal_snapshot(cache: Cache, store_id: str, manifest: Manifest, *, whole: bool) -> None:
    """Relink a snapshot that lost files; a sub-path pull leaves the rest to a whole pull."""
    relinked, lacking = cache.heal_snapshot(store_id, manifest)
    label = f"{manifest.name}:{manifest.version}"
    if relinked:
        logger.warning("the cached %s lost %d file(s); relinked them", label, relinked)
    if lacking and whole:
        logger.warning("the cached %s lost %d file(s); fetching them again", label, lacking)
    elif lacking:
        logger.info("the cached %s lacks %d file(s); a pull of all of it fetches them",
                    label, lacking)  # fmt: skip
