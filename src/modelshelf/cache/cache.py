"""The local cache: verified blobs, snapshot trees linked to them, and the last resolutions.

```
blobs/sha256/ab/abcdef…                                  verified content, read-only
locks/sha256/ab/abcdef….lock                             per-blob download lock
manifests/<store-id>/<name>/versions/<version>.json      manifests of pulled versions
snapshots/<store-id>/<name>/versions/<version>/<path>    the tree, hard-linked to blobs
snapshots/<store-id>/<name>/versions/<version>.complete  written when every file is there
refs/<store-id>/<name>/aliases/<alias>                   last resolution of an alias
refs/<store-id>/<name>/versions/<partial>                last resolution of a partial version
blobs/sha256/ab/.abcdef….<owner>.<rand>.tmp              a download in progress (or a killed one)
locks/owners/<owner>.lock                                flocked by its process while it lives
locks/maintenance.lock                                   prune/rm/verify exclusive, pins shared
pins/<owner>.<rand>.json                                 what a live pull needs: never pruned
stores/<store-id>.json                                   the identity of a store (never secrets)
<folder>/.<file>.<owner>.<rand>.tmp                      another write in progress (or a killed one)
```
Every write goes to a process-unique temporary name in the destination's folder and is renamed
into place, so a reader (or a process killed half-way) never sees a partial file; this, not the
lock, is what keeps the cache right. The completion marker sits beside the tree, not in it, so a
snapshot folder holds exactly the asset's files. ``versions``/``aliases`` are reserved name
segments, so no asset's folder can overlap another's.

Who owns a temporary file or a pin is decided by lock ownership, never by PID (PIDs mean nothing
across containers sharing a cache): each writing process holds the flock of its owner file for
its lifetime, and a file whose owner's lock is free belongs to a dead process. Prune and
``cache verify`` remove such leftovers.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Literal, overload

from modelshelf import constants
from modelshelf._dir_fd import copy_file, temp_name
from modelshelf._paths import user_path
from modelshelf.errors import CacheWriteError, InvalidManifestError
from modelshelf.manifest import FileEntry, Manifest
from modelshelf.spec import Version
from modelshelf.trust import inside, manifest_cap

__all__ = [
    "COMPLETE_MARKER",
    "Cache",
    "atomic_write",
    "copy_file",
    "is_blob_file",
    "place_file",
]

COMPLETE_MARKER = ".complete"
# Blobs this large are downloaded under a per-blob lock, so that processes pulling the same
# version fetch them once; smaller ones are cheaper to fetch twice than to lock.
LOCKED_DOWNLOAD_SIZE = 1024 * 1024
_READ_ONLY = 0o444


def _tmp_name(dest: Path, owner: str | None = None) -> Path:
    """``.<name>.<owner>.<rand>.tmp`` beside ``dest``, under NAME_MAX bytes however long the
    name (:func:`~modelshelf._dir_fd.temp_name`); the PID stands in for a missing owner."""
    return dest.with_name(temp_name(dest.name, owner=owner))


def _make_dir(folder: Path) -> None:
    """``folder.mkdir(parents=True, exist_ok=True)`` in one syscall when it exists (pathlib's
    takes a failed ``mkdir`` and a ``stat``): called for every blob and every linked file."""
    try:
        folder.mkdir()
    except FileExistsError:
        pass
    except FileNotFoundError:
        folder.mkdir(parents=True, exist_ok=True)


def _clear_way(dest: Path) -> None:
    """Remove a folder standing where a file is to be placed (a rename cannot replace it)."""
    try:
        info = dest.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(dest)


def atomic_write(dest: Path, data: bytes, *, owner: str | None = None) -> None:
    """Write ``data`` to ``dest`` through a temporary file and a rename.

    Args:
        owner: the writer's owner token, named in the temporary file so that a cleaner can tell
            a dead writer's leftover (see :meth:`Cache.owner`); ``None`` outside a cache.

    Raises:
        CacheWriteError: the folder cannot be written (a full disk); nothing is left behind.
    """
    tmp = _tmp_name(dest, owner)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, dest)
    except OSError as exc:
        raise CacheWriteError(dest.name, str(dest.parent), exc) from exc
    finally:
        tmp.unlink(missing_ok=True)


def place_file(source: Path, dest: Path, how: str, *, owner: str | None = None) -> None:
    """Put ``source`` at ``dest`` atomically, as ``how``: hardlink, symlink, copy or reflink.

    ``hardlink`` falls back to a read-only copy across devices or where links are refused;
    ``reflink`` (a copy-on-write clone) falls back to a plain copy. Copies are writable.
    A folder standing at ``dest`` is removed first; ``owner`` is as for :func:`atomic_write`.
    For the cache's own folders only (the cache is ours): a user's folder (``pull -o``,
    ``export``, ``mirror``) is written under :mod:`modelshelf.transfer.user_folder`'s policy
    instead.
    """
    _make_dir(dest.parent)
    if how == "hardlink":
        # Creating a link is atomic, so no temporary name is needed unless ``dest`` exists or
        # links are refused; both cases take the careful path below.
        with contextlib.suppress(OSError):
            os.link(source, dest)
            return
    tmp = _tmp_name(dest, owner)
    try:
        if how == "symlink":
            tmp.symlink_to(source)
        elif how == "hardlink":
            try:
                os.link(source, tmp)
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                    raise
                shutil.copyfile(source, tmp)
                tmp.chmod(_READ_ONLY)
        else:
            copy_file(source, tmp, reflink=how == "reflink")
        _clear_way(dest)
        os.replace(tmp, dest)
    finally:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()


@overload
def _files_under(folder: Path, *, sizes: Literal[False] = ...) -> set[str] | None: ...
@overload
def _files_under(folder: Path, *, sizes: Literal[True]) -> dict[str, os.stat_result] | None: ...
def _files_under(
    folder: Path, *, sizes: bool = False
) -> set[str] | dict[str, os.stat_result] | None:
    """The ``/``-joined paths of the regular files under ``folder`` (one ``scandir`` walk,
    links not followed), with their ``lstat`` when ``sizes``; ``None`` if it cannot be read."""
    found: dict[str, os.stat_result | None] = {}
    pending = [("", str(folder))]
    try:
        while pending:
            prefix, path = pending.pop()
            with os.scandir(path) as items:
                for item in items:
                    if item.is_dir(follow_symlinks=False):
                        pending.append((f"{prefix}{item.name}/", item.path))
                    elif item.is_file(follow_symlinks=False):
                        found[prefix + item.name] = (
                            item.stat(follow_symlinks=False) if sizes else None
                        )
    except OSError:
        return None
    if sizes:
        return {path: info for path, info in found.items() if info is not None}
    return set(found)


def is_blob_file(path: Path, size: int | None) -> bool:
    """True if ``path`` is what the cache puts at a blob's name: a regular file of ``size``
    bytes (any, when None) that nobody may write (blobs are made read-only once verified)."""
    try:
        info = path.lstat()
    except (OSError, ValueError):
        return False
    sized = size is None or info.st_size == size
    return stat.S_ISREG(info.st_mode) and sized and not info.st_mode & 0o222


def _is_our_copy(dest: Path, entry: FileEntry) -> bool:
    """A read-only copy of the right size: what ``place_file`` makes where links are refused."""
    info = dest.lstat()
    return info.st_size == entry.size and info.st_mode & 0o222 == 0 and not dest.is_symlink()


class Cache:
    """The cache under ``root`` (default: ``MODELSHELF_CACHE_DIR`` or the user cache dir)."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = user_path(root, "cache folder") if root is not None else constants.cache_dir()
        self._tagged = False
        self.mark()

    def mark(self) -> None:
        """Write the root's ``CACHEDIR.TAG`` if it is missing (once per Cache: a ``stat``):
        backup tools skip the cache, and a user-folder writer refuses to write in it (a file
        at a blob's name would be trusted)."""
        if self._tagged:
            return
        tag = self.root / constants.CACHEDIR_TAG
        try:
            tag.lstat()
        except FileNotFoundError:
            if not self.root.is_dir():
                return  # made by the first write, which marks it
            with contextlib.suppress(CacheWriteError):  # a read-only cache is still read
                atomic_write(tag, constants.CACHEDIR_TAG_TEXT, owner=self.owner())
        except OSError:
            return
        self._tagged = True

    # -- owners, pins and maintenance ----------------------------------------------------------
    @property
    def owners_dir(self) -> Path:
        return self.root / "locks" / "owners"

    @property
    def pins_dir(self) -> Path:
        return self.root / "pins"

    def owner(self) -> str:
        """This process's owner token in this cache (its lock is held while the process lives)."""
        from modelshelf.cache.locks import owner_token  # here: a cache hit never loads filelock

        return owner_token(self.owners_dir)

    def owner_alive(self, token: str, *, remove_if_dead: bool = False) -> bool:
        """True if the process that owns ``token`` still lives (by its lock, not its PID)."""
        from modelshelf.cache.locks import owner_alive

        return owner_alive(self.owners_dir, token, remove_if_dead=remove_if_dead)

    @contextlib.contextmanager
    def maintenance(self) -> Iterator[None]:
        """Exclusive hold for prune, rm and verify: no pull writes a pin meanwhile."""
        from modelshelf.cache.locks import maintenance_lock

        path = self.root / "locks" / "maintenance.lock"
        with maintenance_lock(path, shared=False, timeout=0):
            yield

    @contextlib.contextmanager
    def pin(self, store_id: str, name: str, version: str, shas: Iterable[str]) -> Iterator[None]:
        """Keep prune away from the blobs and the snapshot of a pull while it runs.

        Enter this before looking at which blobs the cache has: the pin is written under the
        shared maintenance lock, so a prune either sees it or has finished deleting. A pin
        whose owner died protects nothing and is removed by the next prune.
        """
        from modelshelf.cache.locks import maintenance_lock

        path = self.pins_dir / f"{self.owner()}.{os.urandom(4).hex()}.json"
        record = {"snapshot": [store_id, name, version], "blobs": sorted(set(shas))}
        lock = self.root / "locks" / "maintenance.lock"
        with maintenance_lock(lock, shared=True, timeout=constants.lock_timeout()):
            atomic_write(path, json.dumps(record).encode(), owner=self.owner())
        try:
            yield
        finally:
            path.unlink(missing_ok=True)

    # -- blobs ---------------------------------------------------------------------------------
    def blob_path(self, sha256: str) -> Path:
        return inside(self.root, "blobs", "sha256", sha256[:2], sha256)

    def has_blob(self, sha256: str, size: int | None = None) -> bool:
        """A lock-free hit test: a blob is only ever renamed into place once verified, and
        then read-only. A file at the blob's name that is not a read-only regular file of
        ``size`` bytes (any size when None) is not trusted (a hard link the user made writable
        and edited, a file put there by something else): it counts as missing, and a fetch
        replaces it."""
        return is_blob_file(self.blob_path(sha256), size)

    def fetch_blob(
        self, entry: FileEntry, download: Callable[[Path], None], *, force: bool = False
    ) -> Path:
        """Return the verified blob for ``entry``, downloading it once across processes.

        Args:
            download: writes and verifies the content into a new file at the given path,
                raising on any failure.
            force: download it even if the cache holds it, and replace what it holds (a new
                file: snapshots linked to the old one keep it until they are relinked).
        """
        dest = self.blob_path(entry.sha256)
        if not force and is_blob_file(dest, entry.size):
            return dest
        _make_dir(dest.parent)
        self.mark()
        if entry.size < LOCKED_DOWNLOAD_SIZE:
            # A second download of a small blob costs less than taking a lock for it.
            self._download_into_place(dest, download)
            return dest
        from modelshelf.cache.locks import blob_lock

        lock_path = inside(self.root, "locks", "sha256", entry.sha256[:2], f"{entry.sha256}.lock")
        with blob_lock(lock_path, constants.lock_timeout(), entry.path):
            if force or not is_blob_file(dest, entry.size):  # else fetched while we waited
                self._remove_stale_temps(dest)
                self._download_into_place(dest, download)
        return dest

    def temp_owner(self, name: str) -> str | None:
        """The owner token in a temp file's name (``.<name>.<owner>.<rand>.tmp``), else None."""
        if not (name.startswith(".") and name.endswith(".tmp")):
            return None
        parts = name[1:-4].rsplit(".", 2)
        return parts[1] if len(parts) == 3 and parts[0] and parts[1] else None

    def _download_into_place(self, dest: Path, download: Callable[[Path], None]) -> None:
        tmp = _tmp_name(dest, self.owner())
        try:
            download(tmp)
            tmp.chmod(_READ_ONLY)
            os.replace(tmp, dest)
        except BaseException:  # only a failure leaves a temp file (no unlink after a rename)
            tmp.unlink(missing_ok=True)
            raise

    def _remove_stale_temps(self, dest: Path) -> None:
        """Delete temporary files of this blob whose owner died (its lock is free)."""
        prefix = f".{dest.name}."
        for item in os.scandir(dest.parent):
            token = self.temp_owner(item.name)
            if item.name.startswith(prefix) and token and not self.owner_alive(token):
                Path(item.path).unlink(missing_ok=True)

    # -- manifests and snapshots ---------------------------------------------------------------
    def _manifest_path(self, store_id: str, name: str, version: str) -> Path:
        return inside(self.root, "manifests", store_id, name, "versions", f"{version}.json")

    def save_manifest(self, store_id: str, manifest: Manifest) -> None:
        path = self._manifest_path(store_id, manifest.name, manifest.version)
        atomic_write(path, manifest.to_json(), owner=self.owner())
        self.mark()

    def load_manifest(self, store_id: str, name: str, version: str) -> Manifest | None:
        """The cached manifest of a version, or ``None`` if it was never pulled (or is damaged)."""
        path = self._manifest_path(store_id, name, version)
        try:
            with path.open("rb") as file:  # one byte over the cap is enough to refuse it
                raw = file.read(manifest_cap() + 1)
            return Manifest.from_json(raw, where=str(path))
        except (FileNotFoundError, InvalidManifestError):
            return None

    def cached_versions(self, store_id: str, name: str) -> list[Version]:
        """Versions of ``name`` whose manifests are cached, newest first."""
        folder = inside(self.root, "manifests", store_id, name, "versions")
        found = []
        for path in folder.glob("*.json"):
            with contextlib.suppress(ValueError):
                found.append(Version.parse(path.stem))
        return sorted(found, reverse=True)

    def snapshot_dir(self, store_id: str, name: str, version: str) -> Path:
        return inside(self.root, "snapshots", store_id, name, "versions", version)

    def snapshot_path(self, store_id: str, manifest: Manifest, sub_path: str | None) -> Path:
        """What a pull returns: the snapshot folder, the file of a file, or the sub-path."""
        snapshot = self.snapshot_dir(store_id, manifest.name, manifest.version)
        if sub_path:
            return inside(snapshot, sub_path)
        if manifest.kind == "file":
            return inside(snapshot, manifest.files[0].path)
        return snapshot

    def complete_marker(self, store_id: str, name: str, version: str) -> Path:
        """The file that says a snapshot is whole; its time is the snapshot's last use."""
        return inside(self.root, "snapshots", store_id, name, "versions", version + COMPLETE_MARKER)

    def is_complete(self, store_id: str, name: str, version: str) -> bool:
        """True once every file of the version is in its snapshot."""
        return self.complete_marker(store_id, name, version).is_file()

    def snapshot_is_whole(self, store_id: str, manifest: Manifest) -> bool:
        """True if the snapshot folder holds a regular file at every path of the version.

        The warm pull's check: one ``scandir`` walk of the folder with an ``lstat`` of each
        file, each a read-only regular file of its entry's size (its blob, linked); no hashing.
        A file of the right size changed in place is ``cache verify``'s to find; one made
        writable, resized or missing is this check's (the heal then fetches its blob again).
        """
        folder = self.snapshot_dir(store_id, manifest.name, manifest.version)
        found = _files_under(folder, sizes=True)
        if found is None:
            return False
        for entry in manifest.files:
            info = found.get(entry.path)
            if info is None or info.st_size != entry.size or info.st_mode & 0o222:
                return False  # lost, or made writable / changed in place: healed
        return True

    def link_snapshot(
        self,
        store_id: str,
        manifest: Manifest,
        entries: tuple[FileEntry, ...],
        *,
        relink: bool = False,
    ) -> Path:
        """Link verified blobs into the version's snapshot tree; mark it complete when whole.

        Every blob of ``entries`` must already be in the cache. Files that are missing, or are
        neither the blob nor a read-only copy of its size, are (re)placed; ``relink`` replaces
        every one (after ``fetch_blob(force=True)`` put a new file in the blob's place).
        """
        folder = self.snapshot_dir(store_id, manifest.name, manifest.version)
        self._link(folder, entries, relink=relink)
        marker = self.complete_marker(store_id, manifest.name, manifest.version)
        if not marker.is_file() and self.snapshot_is_whole(store_id, manifest):
            atomic_write(marker, b"", owner=self.owner())
        return folder

    def heal_snapshot(self, store_id: str, manifest: Manifest) -> tuple[int, int]:
        """Relink every file of the version whose blob is cached; unmark it if a blob is gone.

        For a snapshot marked complete that is not whole. A file whose blob is gone too can
        only come from the store: the marker is removed, so the next whole pull fetches it.

        Returns:
            How many files were relinked, and how many could not be (their blob is gone).
        """
        folder = self.snapshot_dir(store_id, manifest.name, manifest.version)
        cached = tuple(e for e in manifest.files if self.has_blob(e.sha256, e.size))
        relinked = self._link(folder, cached)
        gone = {e.path for e in cached} ^ {e.path for e in manifest.files}
        lacking = sum(1 for path in gone if not inside(folder, path).is_file())
        if lacking:
            self.complete_marker(store_id, manifest.name, manifest.version).unlink(missing_ok=True)
        return relinked, lacking

    def _link(self, folder: Path, entries: tuple[FileEntry, ...], *, relink: bool = False) -> int:
        """Place the blob of each entry in ``folder`` where needed; how many were placed."""
        # One walk tells which files are there, instead of a stat per file: a first pull
        # of 2,000 files then only creates links.
        present = set() if relink else (_files_under(folder) or set())
        placed = 0
        for entry in entries:
            dest = inside(folder, entry.path)
            blob = self.blob_path(entry.sha256)
            if entry.path in present and (
                os.path.samefile(dest, blob) or _is_our_copy(dest, entry)
            ):
                continue
            place_file(blob, dest, "hardlink", owner=self.owner())
            placed += 1
        return placed

    def mark_used(self, store_id: str, name: str, version: str) -> None:
        """Record a use of a complete snapshot, for least-recently-used pruning."""
        with contextlib.suppress(FileNotFoundError):
            os.utime(self.complete_marker(store_id, name, version))

    # -- stores --------------------------------------------------------------------------------
    def remember_store(self, store_id: str, identity: Mapping[str, str]) -> None:
        """Record which store ``store_id`` stands for (its identity holds no secrets)."""
        path = self.root / "stores" / f"{store_id}.json"
        if not path.is_file():
            data = json.dumps(dict(identity), sort_keys=True, indent=2).encode()
            atomic_write(path, data, owner=self.owner())

    def store_url(self, store_id: str) -> str | None:
        """The URL of a store this cache has seen, or ``None`` if it was never recorded."""
        try:
            url = json.loads((self.root / "stores" / f"{store_id}.json").read_bytes())["url"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return url if isinstance(url, str) else None

    # -- refs ----------------------------------------------------------------------------------
    def _ref_path(self, store_id: str, name: str, ref: str) -> Path:
        kind, _, value = ref.partition(":")
        return inside(self.root, "refs", store_id, name, kind, value)

    def write_ref(self, store_id: str, name: str, ref: str, version: str) -> None:
        """Remember that ``ref`` (``aliases:<a>`` or ``versions:<partial>``) meant ``version``."""
        atomic_write(self._ref_path(store_id, name, ref), version.encode(), owner=self.owner())

    def forget_ref(self, store_id: str, name: str, ref: str) -> None:
        """Drop the last resolution of ``ref`` (an alias that was removed)."""
        self._ref_path(store_id, name, ref).unlink(missing_ok=True)

    def read_ref(self, store_id: str, name: str, ref: str) -> str | None:
        try:
            return self._ref_path(store_id, name, ref).read_text().strip() or None
        except (FileNotFoundError, NotADirectoryError):
            return None
