"""A pull below the facade: which files a spec selects, fetching them, and the pull of a version.

:func:`pull_version` is :meth:`Shelf.pull_resolved <modelshelf.Shelf.pull_resolved>`: a warm
snapshot is answered from the cache; otherwise the version is pinned against a concurrent prune
while a snapshot that lost files is relinked, what the cache lacks is fetched and verified, and
the files are placed in the caller's folder (``output``). It takes the facade as a
:class:`Puller` (what it needs of a ``Shelf``), never imports it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from modelshelf import constants
from modelshelf.cache.cache import Cache
from modelshelf.errors import OfflineError, PathNotInVersionError
from modelshelf.manifest import FileEntry, Manifest
from modelshelf.spec import AssetSpec, Version
from modelshelf.transfer.progress import Progress, make_progress

if TYPE_CHECKING:  # a cache hit selects entries only: the transfer machinery loads to fetch
    from modelshelf.shelf.resolve import Resolved
    from modelshelf.store.api import StoreLayout

logger = logging.getLogger("modelshelf")

__all__ = [
    "Puller",
    "download_entries",
    "fetch_and_link",
    "heal_snapshot",
    "pull_version",
    "select_entries",
    "selection_root",
]


class Puller(Protocol):
    """What a pull needs of the facade (a ``Shelf`` is one)."""

    cache: Cache
    store_id: str
    url: str

    @property
    def store(self) -> StoreLayout: ...


def pull_version(
    shelf: Puller,
    resolved: Resolved,
    *,
    output: str | Path | None,
    link: str,
    progress: bool | Progress | None,
    force: bool,
    overwrite: bool,
) -> Path:
    """Pull the version ``resolved`` pins into the cache (and ``output``); see ``Shelf.pull``."""
    target, manifest = resolved.spec, resolved.manifest
    entries = select_entries(target, manifest)
    heal = (
        not force
        and output is None
        and shelf.cache.is_complete(shelf.store_id, manifest.name, manifest.version)
    )
    if heal and shelf.cache.snapshot_is_whole(shelf.store_id, manifest):
        shelf.cache.mark_used(shelf.store_id, manifest.name, manifest.version)
        return shelf.cache.snapshot_path(shelf.store_id, manifest, target.path)  # warm
    # The pin keeps a concurrent prune from deleting what this pull fetches or links.
    pinned = manifest.files if heal else entries
    with shelf.cache.pin(
        shelf.store_id, manifest.name, manifest.version, [e.sha256 for e in pinned]
    ):
        if heal:  # marked complete but not whole: relink all it can, not just `entries`
            heal_snapshot(
                shelf.cache, shelf.store_id, manifest, whole=len(entries) == len(manifest.files)
            )
        store = lambda: shelf.store  # noqa: E731 - opened only if a blob is missing
        fetch_and_link(
            shelf.cache, store, shelf.store_id, shelf.url, resolved, entries, progress, force
        )
        if output is not None:
            from modelshelf.shelf.export import export_files

            single = (
                manifest.file(target.path) is not None if target.path else (manifest.kind == "file")
            )
            return export_files(
                shelf.cache,
                entries,
                selection_root(target, manifest),
                output,
                link,
                single_file=single,
                overwrite=overwrite,
                label=f"{manifest.name}:{manifest.version}",
            )
    return shelf.cache.snapshot_path(shelf.store_id, manifest, target.path)


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
    from modelshelf.transfer.download import LocalBlob, download_verified, run_per_blob

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


def fetch_and_link(
    cache: Cache,
    store: Callable[[], StoreLayout],
    store_id: str,
    url: str,
    resolved: Resolved,
    entries: tuple[FileEntry, ...],
    progress: bool | Progress | None,
    force: bool,
) -> None:
    """Download what the cache lacks (everything, with ``force``) and link the snapshot.

    ``store`` opens the store (``url``); it is called only when a blob must be fetched.
    """
    target, manifest = resolved.spec, resolved.manifest
    needed = {e.sha256: e for e in entries if force or not cache.has_blob(e.sha256, e.size)}
    if force and (resolved.offline or constants.offline()):
        raise OfflineError(
            f"a forced pull of {manifest.name}:{manifest.version} needs the store {url},"
            " which cannot be asked now; try again when it is reachable"
        )
    if needed and (resolved.offline or constants.offline()):
        raise OfflineError(
            f"{manifest.name}:{manifest.version} is known to this machine but"
            f" {len(needed)} of its files are not in the cache, and the store cannot be"
            " asked; pull it once while the store is reachable (or unset MODELSHELF_OFFLINE)"
        )
    if needed:
        chosen = progress if isinstance(progress, Progress) else make_progress(progress)
        with chosen as bar:
            download_entries(
                store(),
                cache,
                list(needed.values()),
                bar,
                str(target.with_version(Version.parse(manifest.version))),
                force=force,
            )
    cache.link_snapshot(store_id, manifest, entries, relink=force)
    cache.mark_used(store_id, manifest.name, manifest.version)


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
