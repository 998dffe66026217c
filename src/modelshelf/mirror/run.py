"""``modelshelf.mirror``: copy every object under a bucket prefix to a folder, keeping the key tree.

Any prefix of any store, written by modelshelf or not::

    mirror("s3://models/conduct/secrecy/en/version_1.2", "./ptms")
    # -> ./ptms/conduct/secrecy/en/version_1.2/models/lr/...

The path below DEST is the object's key below the container (bucket), prefix included. A
prefix stops at a folder boundary (``version_1.2`` never matches ``version_1.20``); a URL that
names one object fetches just that object, to the same path. How it runs:

1. **List and plan.** The store's listing (paged by obstore past 1,000 keys) is checked key by
   key (:func:`modelshelf.mirror.plan.check_key`) before anything is written: one key that
   could leave DEST (``..``, absolute, ``C:``, backslash, control characters, empty segments)
   refuses the whole mirror, naming the key; DEST is not even created. DEST is the user's
   folder, written under :mod:`modelshelf.transfer.user_folder`'s policy, planned before anything is
   written: no symbolic link at DEST, on the way or at a name (checked again before each
   rename); a file this mirror wrote (indexed, unchanged since) is replaced when the object
   changed; anything else there is refused unless ``overwrite``, except a file of the object's
   size whose content turns out the same once fetched.
2. **Skip what is there.** ``DEST/.modelshelf-mirror.json`` records, for every file a mirror
   wrote, the store, the object's size and ETag (or its time, when a store gives no ETag), the
   sha256 of the bytes received, and the local file's size and mtime. A file is fetched again
   when the object changed in the store, or the local file changed, went missing or is not in
   the index. ``verify=True`` also re-hashes local files against the recorded sha256.
3. **Fetch.** A bounded pool (``max_workers``, default ``MODELSHELF_MAX_CONCURRENCY``) streams
   objects in 1 MiB+ chunks into a temporary file beside the target, hashing on the way, and renames
   it into place; objects larger than one range go through the ranged, parallel reads of
   :mod:`modelshelf.transfer.download`, one at a time. The index is saved every few seconds and at
   the end, also when interrupted, so a rerun fetches only what is missing. No file is ever seen
   under its final name half written. Listings and sizes are outside input too: a listing is refused
   past ``MODELSHELF_MAX_LIST_KEYS`` keys or ``MODELSHELF_MAX_LIST_MIB`` MiB of key names, and no
   object is read past its listed size (:mod:`modelshelf.mirror.read`).

One index file rather than a sidecar per file: a sidecar doubles the files created (file
creation is what a many-small-objects mirror spends its time on) and litters the tree that the
user's tools read; a lost or damaged index only costs fetching again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import stat
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelshelf import constants
from modelshelf.backends.base import Backend
from modelshelf.backends.registry import open_guarded
from modelshelf.errors import (
    ObjectNotFoundError,
    StoreError,
    UntrustedStoreDataError,
    UserFolderRefusedError,
)
from modelshelf.mirror.plan import (
    GIT_REFUSAL,
    INDEX_NAME,
    MirrorItem,
    check_key,
    is_ours,
    local_judge,
    make_plan,
    split_url,
)
from modelshelf.mirror.read import ChangedError as _ChangedError
from modelshelf.mirror.read import mirror_listing, object_chunks
from modelshelf.transfer.progress import ProgressTask, make_progress
from modelshelf.transfer.user_folder import Slot, Step, UserFolder
from modelshelf.trust import inside, show

__all__ = ["MirrorItem", "MirrorResult", "mirror"]

logger = logging.getLogger(__name__)

_CHECKPOINT_SECONDS = 2.0
_INDEX_FORMAT = 1
_INDEX_LIMIT = 256 << 20
"""The largest index read (~1 KiB an object: 256k objects); a larger file is ignored."""


@dataclass(frozen=True)
class MirrorResult:
    """What a mirror did (or, for a dry run, would do).

    Attributes:
        url: the mirrored URL.
        dest: the destination folder.
        fetched, fetched_bytes: objects (and their bytes) fetched, or to fetch in a dry run.
        skipped, skipped_bytes: objects already present and unchanged.
        dry_run: nothing was written.
        plan: every object that passed the filters, with its action and reason, in key order.
    """

    url: str
    dest: Path
    fetched: int
    fetched_bytes: int
    skipped: int
    skipped_bytes: int
    dry_run: bool
    plan: tuple[MirrorItem, ...]

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready fields (``--json``)."""
        return {
            "url": self.url,
            "dest": str(self.dest),
            "dry_run": self.dry_run,
            "fetched": self.fetched,
            "fetched_bytes": self.fetched_bytes,
            "skipped": self.skipped,
            "skipped_bytes": self.skipped_bytes,
            "plan": [item.to_json() for item in self.plan],
        }


def mirror(
    url: str,
    dest: str | os.PathLike[str],
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    dry_run: bool = False,
    verify: bool = False,
    max_workers: int | None = None,
    progress: bool | None = False,
    overwrite: bool = False,
    include_git: bool = False,
    **backend_options: Any,
) -> MirrorResult:
    """Copy every object under ``url`` to ``dest``, keeping the key tree below the bucket.

    Args:
        url: ``scheme://container[/prefix]``: ``s3://bucket/a/b``, ``file:///srv/data``,
            ``memory://name/a``, any registered scheme. A trailing ``/`` means a folder only.
        dest: the local folder; created when there is something to write.
        include: globs on the path below the URL's prefix (for one object, its name); ``*``
            also matches ``/``. Kept if any matches (or none given).
        exclude: globs as ``include``; whatever matches one is left out.
        dry_run: plan only: list, check and compare, write nothing.
        verify: also re-hash local files of unchanged objects against the recorded sha256.
        max_workers: objects in flight (default ``MODELSHELF_MAX_CONCURRENCY``, 8).
        progress: draw a progress bar on stderr (``None``: when it is a terminal).
        overwrite: replace what DEST holds that this mirror did not write (or that changed
            since): otherwise such a file is refused before anything is written, unless its
            size matches and its content turns out the same (then kept).
        include_git: also mirror keys inside ``.git`` folders (any case); refused by default,
            since git obeys the config it finds there (``core.fsmonitor`` runs a command).
        **backend_options: settings of the backend (``endpoint``, ``region``, ...).

    Returns:
        The counts and the plan.

    Raises:
        UnsupportedStoreError: an unknown scheme or an unusable URL.
        UntrustedStoreDataError: a listed key could leave DEST or clashes with another;
            nothing was written.
        UserFolderRefusedError: DEST holds a link on the way, or other content at a path,
            and ``overwrite`` is false; nothing was written (or, for content found to differ
            only once fetched, everything else was).
        ObjectNotFoundError: nothing exists at the URL.
        StoreError: the store failed (missing bucket, refused credentials, unreachable), named.

    Example:
        >>> result = mirror("memory://doc-mirror/none/", "/nonexistent", dry_run=True)
        >>> result.fetched, result.skipped
        (0, 0)
    """
    store_url, prefix, folder_only = split_url(url)
    folder = UserFolder(dest, overwrite=overwrite, retry="pick another DEST")
    with folder:  # its root is opened once, closed here
        root = folder.root
        backend = open_guarded(store_url, **backend_options)  # a plugin's own errors: StoreError
        listing, single, prefix = mirror_listing(backend, url, prefix, folder_only)
        index = _load_index(folder)
        # Hidden folders this mirror made earlier (its index has files in them) take new files.
        folder.own_folders = {
            key.rsplit("/", i)[0] for key in index for i in range(1, key.count("/") + 1)
        }
        local = {key: _stat(root, key) for key in index}
        items, refused = make_plan(
            listing,
            source=store_url,
            prefix=prefix,
            single=single,
            include=include,
            exclude=exclude,
            index=index,
            local=local,
            include_git=include_git,
        )
        if refused:
            key, reason = refused[0]
            more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
            git = (
                "; mirror git's files only if you trust the bucket, with {include_git}"
                if reason.startswith(GIT_REFUSAL)
                else ""
            )
            raise UntrustedStoreDataError(
                f"refusing to mirror {url}: the key {show(key, 120)} {reason}{more}; nothing was"
                f" written to {root}",
                store=store_url,
                key=key,
            ).with_fix(git + " (leave such keys out with {exclude} to mirror the rest)")
        if verify:  # reads only: a dry run reports what it finds too
            items = [_reverified(root, item, index) for item in items]
        to_fetch = [item for item in items if item.action == "fetch"]
        # Before anything is written, a dry run included: the user-folder policy for every path.
        steps = folder.plan(
            (item.key, local_judge(item), is_ours(item, index, local.get(item.key), store_url))
            for item in to_fetch
        )
        if not dry_run and to_fetch:
            run = _Run(backend, folder, store_url, index, max_workers, progress)
            run.fetch_all(list(zip(to_fetch, steps, strict=True)))
        skipped = [item for item in items if item.action == "skip"]
        return MirrorResult(
            url=url,
            dest=root,
            fetched=len(to_fetch),
            fetched_bytes=sum(item.size for item in to_fetch),
            skipped=len(skipped),
            skipped_bytes=sum(item.size for item in skipped),
            dry_run=dry_run,
            plan=tuple(items),
        )


def _load_index(folder: UserFolder) -> dict[str, dict[str, Any]]:
    """The index's entries by key; a missing, damaged or foreign file is an empty index.

    Read through the root's descriptor, never through a link, without blocking on a FIFO and
    up to :data:`_INDEX_LIMIT`: DEST may be shared, and what sits at the index's name may be
    anything another writer put there.
    """
    path = folder.root / INDEX_NAME
    try:
        raw = folder.read_top(INDEX_NAME, _INDEX_LIMIT)
        if raw is None:
            return {}
        data = json.loads(raw)
    except (OSError, ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        logger.warning("ignoring the mirror index %s (%s): every file is fetched again", path, exc)
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict) or data.get("format") != _INDEX_FORMAT:
        logger.warning("ignoring the mirror index %s: not an index this version writes", path)
        return {}
    good: dict[str, dict[str, Any]] = {}
    for key, entry in files.items():
        with contextlib.suppress(ValueError):
            if isinstance(entry, dict):
                good[check_key(key, include_git=True)] = entry  # our own record
    return good


def _stat(root: Path, key: str) -> tuple[int, int] | None:
    """``(size, mtime_ns)`` of the regular file at ``key`` below ``root``, else ``None``."""
    try:
        st = inside(root, key).lstat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns) if stat.S_ISREG(st.st_mode) else None


def _sha256_file(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb", buffering=0) as handle:
            while chunk := handle.read(constants.CHUNK_SIZE):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _reverified(root: Path, item: MirrorItem, index: dict[str, dict[str, Any]]) -> MirrorItem:
    """``item``, turned into a fetch if its local bytes no longer hash to the recorded sha256."""
    if item.action != "skip":
        return item
    if _sha256_file(inside(root, item.key)) == index[item.key].get("sha256"):
        return item
    return MirrorItem(item.key, item.size, item.etag, "fetch", "changed locally (sha256)")


class _Run:
    """One mirror's fetches: the pool, the index being updated, its checkpoints."""

    def __init__(
        self,
        backend: Backend,
        folder: UserFolder,
        source: str,
        index: dict[str, dict[str, Any]],
        max_workers: int | None,
        progress: bool | None,
    ) -> None:
        self.backend, self.folder, self.source = backend, folder, source
        self.root = folder.root
        self.index = dict(index)
        self.workers = max(1, max_workers or constants.max_concurrency())
        self.progress = progress
        self.lock = threading.Lock()
        self.saved_at = time.monotonic()
        self.dirty = False
        self.unreadable: list[str] = []
        self.changed: list[str] = []
        self.refused: list[str] = []

    def fetch_all(self, items: list[tuple[MirrorItem, Step]]) -> None:
        """Fetch ``items``: small ones on the pool, large ones one by one (each ranged)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _write_error(exc, self.root, "the destination folder") from exc
        small = [pair for pair in items if pair[0].size <= constants.RANGE_SIZE]
        large = [pair for pair in items if pair[0].size > constants.RANGE_SIZE]
        with make_progress(self.progress) as bars:
            task = bars.task("mirror", sum(i.size for i, _ in items), len(items))
            try:
                self._pooled(small, task)
                for item, step in large:
                    self._one(item, step, task)
            finally:
                self._save(force=True)
        if self.refused:
            more = f" ({len(self.refused) - 1} more paths too)" if len(self.refused) > 1 else ""
            raise UserFolderRefusedError(f"{sorted(self.refused)[0]}{more}").with_fix(
                self.folder.overwrite_fix()
            )
        if self.changed:
            more = f" ({len(self.changed) - 1} more objects too)" if len(self.changed) > 1 else ""
            raise StoreError(f"{sorted(self.changed)[0]}{more}; everything else was mirrored")
        if self.unreadable:
            first = sorted(self.unreadable)[0]
            more = f" and {len(self.unreadable) - 1} more" if len(self.unreadable) > 1 else ""
            raise ObjectNotFoundError(
                f"{self.backend.url}: {show(first, 120)}{more} were listed but could not be"
                " read (deleted since the listing, or a key the store lists in a form it cannot"
                " read back); everything else was mirrored. Run the mirror again, or leave"
                " them out"
            ).with_fix(" with {exclude}")

    def _pooled(self, items: list[tuple[MirrorItem, Step]], task: ProgressTask) -> None:
        """Fetch ``items`` on a bounded pool; the first error (or an interrupt) cancels the
        work not yet started, and only the fetches in flight finish."""
        if not items:
            return
        with ThreadPoolExecutor(self.workers, thread_name_prefix="modelshelf-mirror") as pool:
            futures = [pool.submit(self._one, item, step, task) for item, step in items]
            try:
                wait(futures, return_when=FIRST_EXCEPTION)
            finally:
                for future in futures:
                    future.cancel()
            for future in futures:
                if not future.cancelled() and future.exception() is not None:
                    raise future.exception()  # type: ignore[misc]

    def _one(self, item: MirrorItem, step: Step, task: ProgressTask) -> None:
        try:
            # The folders are made (each level checked) and the file written through the
            # descriptor of its folder: a link swapped in on the way is never followed.
            with self.folder.slot(step, "mirror-partial") as slot:
                sha256 = self._download(item, slot, task)
                if step.action == "compare" and not self._same_there(step, item, sha256, slot):
                    return
                slot.commit()
                st = slot.stat()
        except BaseException as exc:
            if isinstance(exc, ObjectNotFoundError):
                with self.lock:  # gone since the listing; the rest goes on
                    self.unreadable.append(item.key)
                return
            if isinstance(exc, _ChangedError):
                with self.lock:  # nothing kept under its name, not indexed; the rest goes on
                    self.changed.append(str(exc))
                return
            if isinstance(exc, OSError) and not isinstance(exc, StoreError):
                raise _write_error(exc, self.root, item.key) from exc
            raise
        task.file_done()
        entry = {
            "source": self.source,
            "size": item.size,
            "etag": item.etag,
            "last_modified": item.last_modified,
            "sha256": sha256,
            "local_size": st.st_size,
            "local_mtime_ns": st.st_mtime_ns,
        }
        with self.lock:
            self.index[item.key] = entry
            self.dirty = True
        self._save()

    def _same_there(self, step: Step, item: MirrorItem, sha256: str, slot: Slot) -> bool:
        """For a file of the object's size that this mirror did not write: True if it holds
        the fetched content (the fetched copy then replaces it, nothing is lost); else it is
        left as it is and named at the end, the user's file."""
        if slot.hash_there(item.size) == sha256:
            return True
        with self.lock:
            self.refused.append(
                f"refusing to write into {self.root}: {step.path} holds other content than"
                f" {show(item.key, 120)}; it was left as it is and everything else was mirrored"
            )
        return False

    def _download(self, item: MirrorItem, slot: Slot, task: ProgressTask) -> str:
        digest = hashlib.sha256()
        received = 0
        fd = slot.create_file(0o666, read=True)  # new, never through a link; written via fd
        try:
            for chunk in self._chunks(item, fd):
                digest.update(chunk)
                received += len(chunk)
                task.advance(len(chunk))
        finally:
            os.close(fd)
        if received != item.size:
            raise _ChangedError(
                f"{self.backend.url}/{item.key}: received {received} bytes, the listing said"
                f" {item.size}; the object changed during the mirror: run it again"
            )
        return digest.hexdigest()

    def _chunks(self, item: MirrorItem, fd: int) -> Iterator[bytes | memoryview]:
        return object_chunks(self.backend, item, fd)

    def _save(self, force: bool = False) -> None:
        """Write the index if it changed and (unless ``force``) the last save is old enough."""
        with self.lock:
            now = time.monotonic()
            if not self.dirty or (not force and now - self.saved_at < _CHECKPOINT_SECONDS):
                return
            data = {"format": _INDEX_FORMAT, "files": dict(sorted(self.index.items()))}
            self.dirty, self.saved_at = False, now
        try:  # through the root's descriptor, as every file of the mirror
            self.folder.write_top(INDEX_NAME, json.dumps(data, separators=(",", ":")).encode())
        except OSError as exc:
            raise _write_error(exc, self.root, INDEX_NAME) from exc


def _write_error(exc: OSError, root: Path, what: str) -> OSError:
    """An OSError naming what could not be written, and that nothing partial was kept."""
    return OSError(
        exc.errno,
        f"cannot write {show(what, 120)} under {root}: {exc.strerror or exc}; nothing partial"
        " was kept, run the mirror again once it is fixed",
    )
