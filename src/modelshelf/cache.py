"""The local cache: verified blobs, snapshot trees linked to them, and the last resolutions.

```
blobs/sha256/ab/abcdef…                                  verified content, read-only
locks/sha256/ab/abcdef….lock                             per-blob download lock
manifests/<store-id>/<name>/versions/<version>.json      manifests of pulled versions
snapshots/<store-id>/<name>/versions/<version>/<path>    the tree, hard-linked to blobs
snapshots/<store-id>/<name>/versions/<version>.complete  written when every file is there
refs/<store-id>/<name>/aliases/<alias>                   last resolution of an alias
refs/<store-id>/<name>/versions/<partial>                last resolution of a partial version
```
Every write goes to a process-unique temporary name in the destination's folder and is renamed
into place, so a reader (or a process killed half-way) never sees a partial file; this, not the
lock, is what keeps the cache right. The completion marker sits beside the tree, not in it, so a
snapshot folder holds exactly the asset's files. ``versions``/``aliases`` are reserved name
segments, so no asset's folder can overlap another's.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

from modelshelf import constants
from modelshelf._lock import blob_lock
from modelshelf.errors import CacheWriteError, InvalidManifestError
from modelshelf.manifest import FileEntry, Manifest
from modelshelf.spec import Version

__all__ = ["COMPLETE_MARKER", "Cache", "atomic_write", "place_file"]

COMPLETE_MARKER = ".complete"
# Blobs this large are downloaded under a per-blob lock, so that processes pulling the same
# version fetch them once; smaller ones are cheaper to fetch twice than to lock.
LOCKED_DOWNLOAD_SIZE = 1024 * 1024
_READ_ONLY = 0o444


def _tmp_name(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def atomic_write(dest: Path, data: bytes) -> None:
    """Write ``data`` to ``dest`` through a temporary file and a rename.

    Raises:
        CacheWriteError: the folder cannot be written (a full disk); nothing is left behind.
    """
    tmp = _tmp_name(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, dest)
    except OSError as exc:
        raise CacheWriteError(dest.name, str(dest.parent), exc) from exc
    finally:
        tmp.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def place_file(source: Path, dest: Path, how: str) -> None:
    """Put ``source`` at ``dest`` atomically, as ``how``: hardlink, symlink, copy or reflink.

    ``hardlink`` falls back to a read-only copy across devices or where links are refused;
    ``reflink`` (a copy-on-write clone) falls back to a plain copy. Copies are writable.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    if how == "hardlink":
        # Creating a link is atomic, so no temporary name is needed unless ``dest`` exists or
        # links are refused; both cases take the careful path below.
        with contextlib.suppress(OSError):
            os.link(source, dest)
            return
    tmp = _tmp_name(dest)
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
            _copy(source, tmp, reflink=how == "reflink")
        os.replace(tmp, dest)
    finally:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()


_FICLONE = 0x40049409  # Linux ioctl: clone a file's extents (btrfs, XFS, bcachefs)


def _copy(source: Path, dest: Path, *, reflink: bool) -> None:
    if reflink and sys.platform.startswith("linux"):
        try:
            import fcntl

            with source.open("rb") as src, dest.open("wb") as dst:
                fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
            dest.chmod(0o644)
            return
        except (OSError, ImportError):
            dest.unlink(missing_ok=True)
    shutil.copyfile(source, dest)
    dest.chmod(0o644)


def _is_our_copy(dest: Path, entry: FileEntry) -> bool:
    """A read-only copy of the right size: what ``place_file`` makes where links are refused."""
    info = dest.lstat()
    return info.st_size == entry.size and info.st_mode & 0o222 == 0 and not dest.is_symlink()


class Cache:
    """The cache under ``root`` (default: ``MODELSHELF_CACHE_DIR`` or the user cache dir)."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else constants.cache_dir()

    # -- blobs ---------------------------------------------------------------------------------
    def blob_path(self, sha256: str) -> Path:
        return self.root / "blobs" / "sha256" / sha256[:2] / sha256

    def has_blob(self, sha256: str) -> bool:
        """A lock-free hit test: a blob is only ever renamed into place once verified."""
        return self.blob_path(sha256).is_file()

    def fetch_blob(self, entry: FileEntry, download: Callable[[Path], None]) -> Path:
        """Return the verified blob for ``entry``, downloading it once across processes.

        Args:
            download: writes and verifies the content into a new file at the given path,
                raising on any failure.
        """
        dest = self.blob_path(entry.sha256)
        if dest.is_file():
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        if entry.size < LOCKED_DOWNLOAD_SIZE:
            # A second download of a small blob costs less than taking a lock for it.
            self._download_into_place(dest, download)
            return dest
        lock_path = self.root / "locks" / "sha256" / entry.sha256[:2] / f"{entry.sha256}.lock"
        with blob_lock(lock_path, constants.lock_timeout(), entry.path):
            if not dest.is_file():  # else another process finished it while we waited
                self._remove_stale_temps(dest)
                self._download_into_place(dest, download)
        return dest

    @staticmethod
    def _download_into_place(dest: Path, download: Callable[[Path], None]) -> None:
        tmp = _tmp_name(dest)
        try:
            download(tmp)
            tmp.chmod(_READ_ONLY)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    @staticmethod
    def _remove_stale_temps(dest: Path) -> None:
        """Delete temporary files of this blob left by processes that died mid-download."""
        prefix = f".{dest.name}."
        for item in os.scandir(dest.parent):
            if not (item.name.startswith(prefix) and item.name.endswith(".tmp")):
                continue
            try:
                pid = int(item.name.split(".")[2])
            except (IndexError, ValueError):
                continue
            if not _pid_alive(pid):
                Path(item.path).unlink(missing_ok=True)

    # -- manifests and snapshots ---------------------------------------------------------------
    def _manifest_path(self, store_id: str, name: str, version: str) -> Path:
        return self.root / "manifests" / store_id / name / "versions" / f"{version}.json"

    def save_manifest(self, store_id: str, manifest: Manifest) -> None:
        path = self._manifest_path(store_id, manifest.name, manifest.version)
        atomic_write(path, manifest.to_json())

    def load_manifest(self, store_id: str, name: str, version: str) -> Manifest | None:
        """The cached manifest of a version, or ``None`` if it was never pulled (or is damaged)."""
        path = self._manifest_path(store_id, name, version)
        try:
            return Manifest.from_json(path.read_bytes(), where=str(path))
        except (FileNotFoundError, InvalidManifestError):
            return None

    def cached_versions(self, store_id: str, name: str) -> list[Version]:
        """Versions of ``name`` whose manifests are cached, newest first."""
        folder = self.root / "manifests" / store_id / name / "versions"
        found = []
        for path in folder.glob("*.json"):
            with contextlib.suppress(ValueError):
                found.append(Version.parse(path.stem))
        return sorted(found, reverse=True)

    def snapshot_dir(self, store_id: str, name: str, version: str) -> Path:
        return self.root / "snapshots" / store_id / name / "versions" / version

    def complete_marker(self, store_id: str, name: str, version: str) -> Path:
        """The file that says a snapshot is whole; its time is the snapshot's last use."""
        folder = self.snapshot_dir(store_id, name, version)
        return folder.with_name(folder.name + COMPLETE_MARKER)

    def is_complete(self, store_id: str, name: str, version: str) -> bool:
        """True once every file of the version is in its snapshot."""
        return self.complete_marker(store_id, name, version).is_file()

    def has_snapshot_files(
        self, store_id: str, manifest: Manifest, entries: tuple[FileEntry, ...]
    ) -> bool:
        """True if every entry is already linked into the snapshot."""
        folder = self.snapshot_dir(store_id, manifest.name, manifest.version)
        return all((folder / e.path).is_file() for e in entries)

    def link_snapshot(
        self, store_id: str, manifest: Manifest, entries: tuple[FileEntry, ...]
    ) -> Path:
        """Link verified blobs into the version's snapshot tree; mark it complete when whole.

        Every blob of ``entries`` must already be in the cache.
        """
        folder = self.snapshot_dir(store_id, manifest.name, manifest.version)
        for entry in entries:
            dest = folder / entry.path
            blob = self.blob_path(entry.sha256)
            if dest.is_file() and (os.path.samefile(dest, blob) or _is_our_copy(dest, entry)):
                continue
            place_file(blob, dest, "hardlink")
        marker = self.complete_marker(store_id, manifest.name, manifest.version)
        if not marker.is_file() and self.has_snapshot_files(store_id, manifest, manifest.files):
            atomic_write(marker, b"")
        return folder

    def mark_used(self, store_id: str, name: str, version: str) -> None:
        """Record a use of a complete snapshot, for least-recently-used pruning."""
        with contextlib.suppress(FileNotFoundError):
            os.utime(self.complete_marker(store_id, name, version))

    # -- refs ----------------------------------------------------------------------------------
    def _ref_path(self, store_id: str, name: str, ref: str) -> Path:
        kind, _, value = ref.partition(":")
        return self.root / "refs" / store_id / name / kind / value

    def write_ref(self, store_id: str, name: str, ref: str, version: str) -> None:
        """Remember that ``ref`` (``aliases:<a>`` or ``versions:<partial>``) meant ``version``."""
        atomic_write(self._ref_path(store_id, name, ref), version.encode())

    def read_ref(self, store_id: str, name: str, ref: str) -> str | None:
        try:
            return self._ref_path(store_id, name, ref).read_text().strip() or None
        except (FileNotFoundError, NotADirectoryError):
            return None
