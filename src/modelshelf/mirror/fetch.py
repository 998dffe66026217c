"""The fetches of a mirror: a bounded pool writes each object into DEST; the index is checkpointed.

:class:`Fetches` takes the planned objects with their user-folder steps
(:mod:`modelshelf.transfer.user_folder`): small objects go on a pool of ``max_workers``, larger
ones one at a time (each read in ranges, :mod:`modelshelf.mirror.read`). Each is streamed into a
temporary file beside its target, hashed on the way and renamed into place; the index is saved
every few seconds and at the end, also when interrupted, so a rerun fetches only what is missing.
An object gone or changed since the listing, or a user's file of other content, is named at the
end, once everything else was mirrored.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from modelshelf import constants
from modelshelf.backends.base import Backend
from modelshelf.errors import ObjectNotFoundError, StoreError, UserFolderRefusedError
from modelshelf.mirror.index import encode_index
from modelshelf.mirror.plan import INDEX_NAME, MirrorItem
from modelshelf.mirror.read import ChangedError as _ChangedError
from modelshelf.mirror.read import object_chunks
from modelshelf.transfer.progress import ProgressTask, make_progress
from modelshelf.transfer.user_folder import Slot, Step, UserFolder
from modelshelf.trust import show

__all__ = ["Fetches"]

_CHECKPOINT_SECONDS = 2.0


class Fetches:
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
            files = dict(sorted(self.index.items()))
            self.dirty, self.saved_at = False, now
        try:  # through the root's descriptor, as every file of the mirror
            self.folder.write_top(INDEX_NAME, encode_index(files))
        except OSError as exc:
            raise _write_error(exc, self.root, INDEX_NAME) from exc


def _write_error(exc: OSError, root: Path, what: str) -> OSError:
    """An OSError naming what could not be written, and that nothing partial was kept."""
    return OSError(
        exc.errno,
        f"cannot write {show(what, 120)} under {root}: {exc.strerror or exc}; nothing partial"
        " was kept, run the mirror again once it is fixed",
    )
