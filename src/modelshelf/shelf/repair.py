"""Repair: put back the damaged or missing blobs of a version from copies that hash to them.

A push reuses a blob that is present at the right size, so pushing the same files again never
mends a blob whose bytes were damaged in place. ``repair`` verifies every blob of the version
(the full sha256, as ``verify`` does), and for each one that is missing or does not hash to its
name it looks for good bytes, in this order: a gc quarantine of the store (missing blobs only),
the local cache, then the files and folders given (``--from``): first the file at the blob's
path in each folder, then any file of the blob's size found under them. Every candidate is
hashed before it is used, and uploaded through the one verified upload path
(``Store.put_blob``: a key only ever receives the bytes whose sha256 it is), so a file with the
right name and size but other bytes is never stored, and a blob that verifies is never written.
A repair that wrote something leaves an audit record (``repair``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelshelf.backends.base import without_password
from modelshelf.cache.cache import Cache
from modelshelf.constants import CHUNK_SIZE
from modelshelf.errors import IntegrityError, ObjectNotFoundError, SourcePathError
from modelshelf.manifest import FileEntry, Manifest
from modelshelf.shelf import _push_read as _upload
from modelshelf.shelf.housekeeping import BlobFault, VerifyReport, verify_version
from modelshelf.store.api import MaintainedStore
from modelshelf.transfer.download import run_concurrently
from modelshelf.transfer.progress import Progress, ProgressTask
from modelshelf.transfer.verified_upload import HashedBytes

__all__ = ["BlobRepair", "RepairReport", "repair_version"]

_ABSENT = "no such file"


@dataclass(frozen=True)
class BlobRepair:
    """One damaged or missing blob of a version, and what repair did about it.

    Attributes:
        fault: what verify found (the first file that uses the blob).
        paths: every file of the version that uses the blob.
        source: where the good bytes came from (``None``: left broken).
        tried: the candidates refused, each with why, for people.
    """

    fault: BlobFault
    paths: tuple[str, ...]
    source: str | None
    tried: tuple[str, ...]

    @property
    def repaired(self) -> bool:
        """Whether good bytes were found and uploaded for the blob (:attr:`source` says where)."""
        return self.source is not None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``repair --json`` prints for the blob: the fields of :attr:`fault`
        (``path``, ``key``, ``sha256``, ``size``, ``problem``, ``actual``), then ``paths``,
        ``source``, ``repaired`` and ``tried`` (lists for the tuples)."""
        return {**self.fault.__dict__, "paths": list(self.paths), "source": self.source,
                "repaired": self.repaired, "tried": list(self.tried)}  # fmt: skip


@dataclass(frozen=True)
class RepairReport:
    """What :meth:`Shelf.repair <modelshelf.Shelf.repair>` checked, put back and left broken.

    Every blob of the version (or of the file or folder the spec named) was hashed in the
    store; :attr:`repairs` has one entry per blob found missing or damaged, whether it was put
    back or not. Nothing is left broken when :attr:`ok`.

    Attributes:
        name: the asset.
        version: the version repaired, e.g. ``"1.3"`` (an alias or partial version resolved).
        files: how many files of the version were checked.
        blobs: how many distinct blobs they use (files with equal bytes share one).
        size: the bytes of those blobs, each counted once.
        repairs: each missing or damaged blob and what was done about it (empty when every
            blob verified: then nothing was written).

    Example:
        >>> # report = shelf.repair("nlp/sentiment:1.3", ["./model"])
        >>> # report.ok, [r.source for r in report.repaired], report.next_step
    """

    name: str
    version: str
    files: int
    blobs: int
    size: int
    repairs: tuple[BlobRepair, ...]

    @property
    def repaired(self) -> tuple[BlobRepair, ...]:
        """The blobs put back, each with the copy it came from (:attr:`BlobRepair.source`)."""
        return tuple(r for r in self.repairs if r.repaired)

    @property
    def broken(self) -> tuple[BlobRepair, ...]:
        """The blobs still missing or damaged: no copy hashing to them was found; each says
        what was tried (:attr:`BlobRepair.tried`)."""
        return tuple(r for r in self.repairs if not r.repaired)

    @property
    def ok(self) -> bool:
        """True when no blob is left broken (none was, or every one was put back)."""
        return not self.broken

    @property
    def next_step(self) -> str | None:
        """What to do about the blobs left broken, for people (``None`` when :attr:`ok`)."""
        if self.ok:
            return None
        what = f"{self.name}:{self.version}"
        return (
            f"put the original files in a folder and run `modelshelf repair {what} --from DIR`;"
            " with no copy left, `modelshelf rm` it and push a new version"
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``repair --json`` prints: ``name``, ``version``, ``ok``, ``files``,
        ``blobs``, ``size``, ``repaired`` and ``broken`` (lists of :meth:`BlobRepair.to_dict`)
        and ``next`` (:attr:`next_step`, ``null`` when ok)."""
        return {
            "name": self.name,
            "version": self.version,
            "ok": self.ok,
            "files": self.files,
            "blobs": self.blobs,
            "size": self.size,
            "repaired": [r.to_dict() for r in self.repaired],
            "broken": [r.to_dict() for r in self.broken],
            "next": self.next_step,
        }


def check_sources(sources: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The ``--from`` files and folders, each checked to exist before anything is read.

    Raises:
        SourcePathError: one is missing.
    """
    checked = []
    for source in sources:
        path = Path(source)
        if not path.exists():
            raise SourcePathError(
                path, "no such file or folder; check the path", verb="repair from"
            )
        checked.append(path)
    return checked


def repair_version(
    store: MaintainedStore,
    cache: Cache,
    manifest: Manifest,
    entries: tuple[FileEntry, ...],
    sources: Sequence[Path],
    progress: Progress,
) -> RepairReport:
    """Verify the blobs of ``entries`` and put back each damaged or missing one that a copy
    hashing to it is found for (see the module docstring); log the repair if it wrote.

    Raises:
        StoreError: the store failed (faults of the blobs themselves are reported).
    """
    verified = verify_version(store, manifest, entries, quick=False, progress=progress)
    faults: dict[str, list[BlobFault]] = {}
    for fault in verified.faults:
        faults.setdefault(fault.sha256, []).append(fault)
    if not faults:
        return RepairReport(*_counts(verified), ())
    bar = progress.task(
        f"repair {manifest.name}:{manifest.version}",
        sum(found[0].size for found in faults.values()),
        len(faults),
    )
    quarantined = {sha: run for run, sha, _ in store.quarantined() if sha in faults}
    finder = _Finder(store, cache, sources, bar)

    def direct(found: list[BlobFault]) -> BlobRepair:
        first = found[0]
        if first.sha256 in quarantined:
            source = finder.from_quarantine(first, quarantined[first.sha256])
            if source is not None:
                return _done(found, source, finder)
        for candidate in finder.direct_candidates(first, [f.path for f in found]):
            source = finder.try_file(first, candidate)
            if source is not None:
                return _done(found, source, finder)
        return _done(found, None, finder)

    repairs = run_concurrently(direct, list(faults.values()))
    if any(not r.repaired for r in repairs) and sources:
        repairs = finder.search(repairs)
    report = RepairReport(*_counts(verified), tuple(repairs))
    if report.repaired:
        store.append_log(
            manifest.name,
            "repair",
            version=manifest.version,
            blobs=len(report.repaired),
            size=sum(r.fault.size for r in report.repaired),
            left=len(report.broken),
        )
    return report


def _counts(verified: VerifyReport) -> tuple[str, str, int, int, int]:
    return verified.name, verified.version, verified.files, verified.blobs, verified.size


def _done(found: list[BlobFault], source: str | None, finder: _Finder) -> BlobRepair:
    paths = tuple(f.path for f in found)
    return BlobRepair(found[0], paths, source, tuple(finder.tried.get(found[0].sha256, ())))


class _Finder:
    """Candidates for the blobs being repaired, each hashed before it is uploaded."""

    def __init__(
        self, store: MaintainedStore, cache: Cache, sources: Sequence[Path], bar: ProgressTask
    ) -> None:
        self.store, self.cache, self.sources, self.bar = store, cache, sources, bar
        self.tried: dict[str, list[str]] = {}
        self.seen: set[tuple[int, int]] = set()  # (device, inode) of files hashed already
        self.budget = _upload.ByteBudget(_upload.MEMORY_BUDGET)

    def refuse(self, sha256: str, why: str) -> None:
        self.tried.setdefault(sha256, []).append(why)

    def from_quarantine(self, fault: BlobFault, run: str) -> str | None:
        where = f"{without_password(self.store.url)}/gc/{run}/"  # shown and printed
        try:
            self.store.restore_blob(fault.sha256, run, fault.size)  # verified as it is copied
        except (IntegrityError, ObjectNotFoundError) as exc:
            self.refuse(fault.sha256, f"{where}: {exc}")
            return None
        self.bar.advance(fault.size)
        self.bar.file_done()
        return where

    def direct_candidates(self, fault: BlobFault, paths: list[str]) -> Iterator[Path]:
        """The cache's copy, then each source file, and the blob's paths in each folder."""
        yield self.cache.blob_path(fault.sha256)
        for source in self.sources:
            if not source.is_dir():
                yield source
                continue
            for path in paths:  # manifest paths: checked relative and safe when read
                yield source.joinpath(*path.split("/"))

    def try_file(self, fault: BlobFault, path: Path) -> str | None:
        """Upload ``path`` as the blob if its bytes hash to it; where it came from, or None."""
        loaded = self._load(path, fault.size)
        if isinstance(loaded, str):
            cached = path == self.cache.blob_path(fault.sha256)
            if not (cached and loaded == _ABSENT):  # the cache lacking a blob is no news
                self.refuse(fault.sha256, f"{path}: {loaded}")
            return None
        content, digest = loaded
        if digest != fault.sha256:
            self.refuse(fault.sha256, f"{path}: its bytes hash to {digest}")
            return None
        return self._send(fault, path, content)

    def _send(self, fault: BlobFault, path: Path, content: HashedBytes | Path) -> str | None:
        try:
            self.store.put_blob(fault.sha256, content, fault.size)  # verified as it is sent
        except SourcePathError:  # it changed after it was hashed: nothing was stored
            self.refuse(fault.sha256, f"{path}: it changed after it was hashed; nothing stored")
            return None
        self.bar.advance(fault.size)
        self.bar.file_done()
        return "the cache" if path == self.cache.blob_path(fault.sha256) else str(path)

    def _load(self, path: Path, size: int) -> tuple[HashedBytes | Path, str] | str:
        """``(content, sha256)`` of the regular file ``path`` of ``size`` bytes: its bytes when
        small, else the path (hashed here, verified again as it is sent); else why not."""
        try:
            # O_NONBLOCK: a FIFO put where a file was expected must not hang the repair.
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        except FileNotFoundError:
            return _ABSENT
        except OSError as exc:
            return f"cannot open it ({exc.strerror})"
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return "not a regular file"
            if info.st_size != size:
                return f"{info.st_size} bytes, not {size}"
            self.seen.add((info.st_dev, info.st_ino))
            if size > _upload.SINGLE_PASS_MAX:
                return path, _hash_fd(fd)
            with self.budget.hold(size):
                small = HashedBytes(_read_all(fd, size))
            return small, small.sha256
        except OSError as exc:
            return f"cannot read it ({exc.strerror})"
        finally:
            os.close(fd)

    def search(self, repairs: list[BlobRepair]) -> list[BlobRepair]:
        """Look for the blobs still broken among every file under the sources: each file of a
        size one of them has is hashed once (names are not trusted: any file may be it)."""
        left = {r.fault.sha256: r for r in repairs if not r.repaired}
        sizes = {r.fault.size for r in left.values()}
        hashed = dict.fromkeys(sizes, 0)
        for path in self._files():
            try:
                info = path.stat()
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode) or info.st_size not in sizes:
                continue
            if (info.st_dev, info.st_ino) in self.seen:
                continue  # hashed already, as a direct candidate
            loaded = self._load(path, info.st_size)
            if isinstance(loaded, str):
                continue
            hashed[info.st_size] += 1
            content, digest = loaded
            broken = left.get(digest)
            if broken is None:
                continue
            source = self._send(broken.fault, path, content)
            if source is not None:
                del left[digest]
                done = BlobRepair(broken.fault, broken.paths, source, broken.tried)
                repairs = [done if r.fault.sha256 == digest else r for r in repairs]
            if not left:
                break
        note = "other file(s) of its size under the folders to repair from hashed; none is it"
        return [
            BlobRepair(r.fault, r.paths, None, (*r.tried, f"{hashed[r.fault.size]} {note}"))
            if r.fault.sha256 in left
            else r
            for r in repairs
        ]

    def _files(self) -> Iterator[Path]:
        """Every file under the source folders (links to folders are not followed: no cycle)."""
        for source in self.sources:
            if not source.is_dir():
                continue
            for folder, _, names in os.walk(source):
                for name in sorted(names):
                    yield Path(folder, name)


def _read_all(fd: int, size: int) -> bytes:
    data = os.read(fd, size) if size else b""
    while 0 < len(data) < size:
        more = os.read(fd, size - len(data))
        if not more:
            break
        data += more
    return data


def _hash_fd(fd: int) -> str:
    import hashlib

    digest = hashlib.sha256()
    while chunk := os.read(fd, CHUNK_SIZE):
        digest.update(chunk)
    return digest.hexdigest()
