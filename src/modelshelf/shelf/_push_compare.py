"""What an idempotent push (``if_changed``) compares, and the version it compares with.

A version's *content* is its kind, its files (path, size, sha256) and everything the user gave
to describe it: metadata and the named sections (``Manifest.extra``: the model section, ...).
What describes the push instead (the message, the source folder and its git commit, the time,
the author) differs from one run of a pipeline to the next and never counts.

Metadata and sections compare as the JSON text a manifest writes
(:func:`~modelshelf.manifest.written_json`), never as Python values: ``True == 1 == 1.0`` in
Python, but ``true``, ``1`` and ``1.0`` are different JSON, and a loader reading the version
back would see the difference. Only the order of an object's keys does not count (JSON objects
are unordered).

The version compared with is read from the store: outside input. One that cannot be read or
does not pass the trust checks is never "the same" as anything; the push then creates a version.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from modelshelf.errors import (
    InvalidManifestError,
    ObjectNotFoundError,
    SourcePathError,
    VersionNotFoundError,
)
from modelshelf.manifest import Manifest, written_json
from modelshelf.shelf.source import SourceFile
from modelshelf.spec import Version
from modelshelf.store.api import StoreLayout
from modelshelf.transfer.download import hash_file, run_concurrently
from modelshelf.transfer.progress import Progress

__all__ = [
    "candidate_of",
    "readable",
    "same_files",
    "same_listing",
]

logger = logging.getLogger("modelshelf")


def same_listing(
    manifest: Manifest,
    kind: str,
    sized: Iterable[tuple[str, int]],
    metadata: Mapping[str, str],
    extra: Mapping[str, Any],
) -> bool:
    """Whether ``manifest`` may hold this push, known before anything is hashed: the same
    kind, paths, sizes, metadata and sections as written JSON (``written_json``); only the
    files' sha256 is left to compare."""
    theirs = sorted((f.path, f.size) for f in manifest.files)
    return (
        manifest.kind == kind
        and sorted(sized) == theirs
        and written_json(manifest.metadata) == written_json(metadata)
        and written_json(manifest.extra) == written_json(extra)
    )


def candidate_of(
    store: StoreLayout,
    name: str,
    version: Version | None,
    within: Version | None,
    existing: list[Version],
) -> Manifest | None:
    """The version a push compares with: ``version`` itself when it was committed, else the
    newest live version (of ``within``, when given); ``None`` when there is none or it cannot
    be read.

    Args:
        existing: every version number taken (``taken_versions``), newest first.
    """
    if version is not None and version in existing:
        return readable(store, name, str(version))
    scope = [v for v in existing if within is None or within.matches(v)]
    if not scope:
        return None
    try:
        return readable(store, name, str(scope[0]), removed_too=True)
    except VersionNotFoundError:  # the newest was removed: the live ones need a listing
        live = [v for v in store.versions(name) if within is None or within.matches(v)]
        return readable(store, name, str(live[0])) if live else None


def readable(
    store: StoreLayout, name: str, version: str, *, removed_too: bool = False
) -> Manifest | None:
    """The manifest of ``name:version``, or ``None`` when it is absent, removed (raised with
    ``removed_too``) or damaged (with a warning: such a version is never the same as a push).
    """
    try:
        return store.read_manifest(name, version)
    except VersionNotFoundError:
        if removed_too:
            raise
        return None
    except ObjectNotFoundError:
        return None
    except InvalidManifestError as exc:
        logger.warning(
            "%s:%s cannot be compared with this push (%s); pushing a new version",
            name, version, exc,
        )  # fmt: skip
        return None


def same_files(
    candidate: Manifest, files: list[SourceFile], progress: Progress, label: str
) -> tuple[bool, dict[str, str]]:
    """Hash the files, whose paths and sizes match ``candidate``'s: whether every sha256
    matches too, and the digests found by path. Hashing stops at the first difference."""
    wanted = {f.path: f.sha256 for f in candidate.files}
    task = progress.task(f"compare {label}", sum(f.size for f in files), len(files))
    differs = threading.Event()
    known: dict[str, str] = {}

    def one(item: SourceFile) -> None:
        if differs.is_set():
            return
        try:
            digest = hash_file(item.local, task)
        except OSError as exc:
            raise SourcePathError(item.local, f"cannot read it ({exc.strerror})") from exc
        task.file_done()
        if item.changed():
            raise SourcePathError(item.local, "it changed while being hashed; push again")
        known[item.path] = digest
        if digest != wanted.get(item.path):
            differs.set()

    run_concurrently(one, files)
    return not differs.is_set(), known
