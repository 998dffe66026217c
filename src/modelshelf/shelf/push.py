"""A push: hash the files, pick the version, upload missing blobs, commit the manifest.

With ``if_changed``, the files are hashed first and compared with the latest version in scope
(:mod:`modelshelf.shelf._push_compare`): when they and the sections are the same, that version is
returned and no version is written. Its blobs are still looked up by name and size, as every
push does, and any the store lacks is uploaded again from the files just hashed: "unchanged"
must never leave a version that cannot be pulled. Every push says which version it repeats.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelshelf import trust
from modelshelf.errors import (
    InvalidInputError,
    ModelshelfError,
    SourcePathError,
    VersionExistsError,
)
from modelshelf.manifest import CORE_KEYS, FileEntry, Manifest, content_of, content_of_manifest
from modelshelf.shelf import _push_read as _upload
from modelshelf.shelf._push_compare import candidate_of, readable, same_files, same_listing
from modelshelf.shelf._push_unchanged import put_back_missing
from modelshelf.shelf.source import PushSource, SourceFile
from modelshelf.spec import LATEST, Version, latest_is_not_movable, validate_alias
from modelshelf.store.api import StoreLayout
from modelshelf.store.bucket import actor, now_iso
from modelshelf.store.commit import commit_reusing
from modelshelf.transfer.download import hash_file, run_concurrently
from modelshelf.transfer.progress import Progress
from modelshelf.transfer.verified_upload import HashedBytes

__all__ = [
    "PushReport",
    "check_push_args",
    "check_sections",
    "next_version",
    "push_version",
]

logger = logging.getLogger("modelshelf")

FIRST_VERSION = Version((1, 0))
# Racing pushes without an explicit version take the next free number this many times.
_AUTO_VERSION_TRIES = 5
# Manifest sections are small records (runner, engine, requirements, props), not data: push
# bounds them as every reader does (modelshelf.trust).
MAX_SECTIONS_BYTES = trust.MAX_SECTIONS_BYTES
MAX_SECTION_DEPTH = trust.MAX_SECTION_DEPTH
_MAX_SECTION_NAME = 128


@dataclass(frozen=True)
class PushReport:
    """What a push did.

    Attributes:
        manifest: the version pushed, or (``new_version`` False) the version that already held the
            same content and sections, as stored (its own message, time and source).
        new_version: a new version was committed; False when ``if_changed`` found it unchanged, in
            which case nothing was uploaded or written (aliases aside).
        same_as: the version in scope whose content and sections equal this push's, if any
            (for a new version: the one it repeats).
        aliases_moved: aliases moved to ``manifest`` (each a numbered record and an audit one).
        aliases_kept: aliases that pointed at ``manifest`` already (nothing written for them).
        reuploaded: with ``new_version`` False, the paths whose blobs the store lacked (absent,
            or not at their size) and that this push uploaded again from its files; a blob of
            the right size with damaged bytes is not seen here (``Shelf.repair`` mends it).
    """

    manifest: Manifest
    new_version: bool = True
    same_as: str | None = None
    aliases_moved: tuple[str, ...] = ()
    aliases_kept: tuple[str, ...] = ()
    reuploaded: tuple[str, ...] = ()


def next_version(existing: list[Version], *, major: bool, within: Version | None = None) -> Version:
    """The version after the newest of ``existing`` (newest first): 1.3 -> 1.4, or 2.0.

    With ``within`` (a major version such as ``2``): the next minor of the newest version it
    matches (2.3 -> 2.4), or its first version (``2.0``) when none does yet.
    """
    if within is not None:
        depth = existing[0].depth if existing else FIRST_VERSION.depth
        found = [v for v in existing if within.matches(v)]
        if found:
            return max(found).next_minor()
        return Version(within.parts + (0,) * (depth - within.depth))
    if not existing:
        return FIRST_VERSION
    return existing[0].next_major() if major else existing[0].next_minor()


def _check_explicit(
    name: str, wanted: Version, existing: list[Version], store: StoreLayout
) -> None:
    if existing and existing[0].depth != wanted.depth:
        raise InvalidInputError(
            f"{name} uses {existing[0].depth}-part versions (newest {existing[0]}), so"
            f" {wanted} would be ambiguous; push as {name}:{'.'.join(['N'] * existing[0].depth)}"
        )
    if wanted in existing:
        raise store.version_taken_error(name, str(wanted))


def check_push_args(
    version: Version | None,
    *,
    major: bool,
    message: object,
    metadata: dict[Any, Any],
    aliases: Sequence[str],
) -> tuple[str, ...]:
    """Check the arguments of a push before anything is read or written; return the aliases.

    A push that is refused after its commit (an alias it cannot set) would make its retry take
    the next version number, so everything that can be refused is refused here first.

    Raises:
        InvalidInputError: a version with ``major``, a message or metadata that is not text, or
            the implicit alias ``latest``.
        InvalidSpecError: an alias that is not a valid alias name.
    """
    if version is not None and major:
        raise InvalidInputError("give an explicit version or").with_fix(" {major}, not both")
    if not isinstance(message, str):
        raise InvalidInputError(f"the message must be text, not {type(message).__name__}")
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidInputError(
                f"metadata {key!r}: {value!r}: keys and values must be text; convert them with"
                " str()"
            )
    if len(message) > trust.MAX_TEXT:
        raise InvalidInputError(
            f"the message has {len(message)} characters, over {trust.MAX_TEXT}; shorten it"
        )
    try:
        trust.check_metadata(metadata)
    except ValueError as exc:
        raise InvalidInputError(f"{exc}; keep large data in files of the version") from None
    if isinstance(aliases, str):  # "prod" would be four aliases p, r, o, d
        raise InvalidInputError(
            f"aliases must be a list of alias names, not the text {aliases!r}; pass [{aliases!r}]"
        )
    for alias in aliases:
        if alias == LATEST:
            raise latest_is_not_movable().with_fix(
                "; leave it out of {aliases} or choose another alias name"
            )
        validate_alias(alias)
    return tuple(dict.fromkeys(aliases))


def check_sections(sections: object) -> dict[str, Any]:
    """Check named manifest sections before anything is written; return a JSON copy of them.

    Each section is any JSON value: objects with text keys, lists (tuples read back as lists),
    text, finite numbers, booleans and ``None``, nested at most 32 deep; all sections together
    take at most 1 MiB of JSON. A name is one line of text that is not a core manifest key.

    Raises:
        InvalidInputError: a name or value that a manifest cannot hold; the message names the
            section and the place inside it.
    """
    if sections is None:
        return {}
    if not isinstance(sections, Mapping):
        raise InvalidInputError(
            f"sections must be a mapping of names to JSON values, not {type(sections).__name__}"
        )
    for name, value in sections.items():
        if not isinstance(name, str):
            raise InvalidInputError(f"section names must be text, not {name!r}")
        if not name or len(name) > _MAX_SECTION_NAME or not name.isprintable():
            raise InvalidInputError(
                f"section names must be printable text of 1 to {_MAX_SECTION_NAME} characters,"
                f" not {name!r}"
            )
        if name in CORE_KEYS:
            raise InvalidInputError(
                f"section {name!r} is a core field of every manifest; choose another name"
            )
        _check_json(name, value, name, 0)
    text = json.dumps(dict(sections), allow_nan=False)
    if len(text.encode()) > MAX_SECTIONS_BYTES:
        raise InvalidInputError(
            f"sections take {len(text.encode())} bytes of JSON, over {MAX_SECTIONS_BYTES}; keep"
            " large data in files of the version"
        )
    copy: dict[str, Any] = json.loads(text)
    try:
        trust.check_section(copy, "the sections")
    except ValueError as exc:
        raise InvalidInputError(f"{exc}; keep large data in files of the version") from None
    return copy


def _check_json(section: str, value: object, where: str, depth: int) -> None:
    """Refuse what JSON would not give back as it is (``where``: the place, e.g. ``model.a[1]``)."""
    if depth > MAX_SECTION_DEPTH:
        raise InvalidInputError(
            f"section {section!r} is nested deeper than {MAX_SECTION_DEPTH} levels (at {where});"
            " flatten it"
        )
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if math.isfinite(value):
            return
        problem = f"is {value}, which JSON cannot hold"
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInputError(
                    f"section {section!r}: {where} has the key {key!r}; JSON keys are text"
                )
            _check_json(section, item, f"{where}.{key}", depth + 1)
        return
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_json(section, item, f"{where}[{index}]", depth + 1)
        return
    else:
        problem = f"is {type(value).__name__}, not a JSON value"
    raise InvalidInputError(
        f"section {section!r}: {where} {problem}; use text, numbers, booleans, None, lists and"
        " dicts with text keys"
    )


def push_version(
    store: StoreLayout,
    source: PushSource,
    name: str,
    version: Version | None,
    *,
    message: str,
    metadata: dict[str, str],
    major: bool,
    progress: Progress,
    sections: dict[str, Any] | None = None,
    within: Version | None = None,
    if_changed: bool = False,
    recorded_source: dict[str, Any] | None = None,
) -> PushReport:
    """Push ``source`` as ``name`` (``version`` or the next one); see :meth:`Shelf.push`.

    The caller has checked the arguments with :func:`check_push_args` and the ``sections``
    (recorded as the manifest's ``extra``) with :func:`check_sections`. ``within`` (a major
    version, without ``version``) takes the next free minor version of that major.
    ``recorded_source`` is the manifest's ``source`` when the files' folder is not where they came
    from (``register_model`` saves them in a temporary folder); default ``source.describe()``.
    ``if_changed``: when the files and sections equal those of the latest version in scope
    (``version`` itself when it exists, else the latest of ``within``, else the latest), return
    that version and write nothing; a ``version`` shorter than the asset's (``NAME:2`` of an
    asset at ``1.4``) is then such a scope, and the next version in it when they differ.
    """
    if within is not None and (version is not None or major or within.depth != 1):
        raise InvalidInputError(
            f"the next version within a major takes a major number such as 2, not {within},"
            " and no explicit version"
        ).with_fix(" or {major}")
    kind, files = source.collect()
    store.create()  # a push may start a store; every read before it needs the store to exist
    existing = store.taken_versions(name)
    if if_changed and version is not None and existing and version.depth < existing[0].depth:
        # NAME:2 of an asset of 2-part versions: compare with the latest 2.x, else the next 2.x
        # (without if_changed it stays refused as ambiguous: NAME:2.N says which).
        version, within = None, version
    if within is not None and existing and existing[0].depth < 2:
        raise InvalidInputError(
            f"{name} uses 1-part versions (newest {existing[0]}), which have no minor versions;"
            f" push as {name}:N"
        )
    extra = dict(sections or {})
    # The version this push may repeat: read before hashing, so a different listing, size or
    # section decides "changed" without reading a byte of the files.
    candidate = candidate_of(store, name, version, within, existing)
    exact = version is None or (candidate is not None and candidate.version == str(version))
    known: dict[str, str] = {}  # sha256 of files hashed while deciding, by path
    if (
        if_changed
        and candidate is not None
        and exact
        and same_listing(candidate, kind, [(f.path, f.size) for f in files], metadata, extra)
    ):
        same, known = same_files(candidate, files, progress, source.label)
        if same:  # nothing is written, unless a blob of the version is gone
            reuploaded = put_back_missing(store, candidate, files, known, source.label)
            return PushReport(
                candidate, new_version=False, same_as=candidate.version, reuploaded=reuploaded
            )
    if version is not None:
        _check_explicit(name, version, existing, store)  # fail before hashing gigabytes

    total = sum(f.size for f in files)
    hashing = progress.task(f"hash {source.label}", total, len(files))
    uploading = progress.task(f"upload {name}", total, len(files))
    claimed: set[str] = set()
    uploaded: set[str] = set()  # blobs this push wrote itself (the rest were found present)
    claim_lock = threading.Lock()
    budget = _upload.ByteBudget(_upload.MEMORY_BUDGET)
    stored = store.blob_finder(len(files))  # a HEAD per blob, or one LIST per shard

    def push_one(item: SourceFile) -> FileEntry:
        try:
            return hash_and_upload(item)
        except ModelshelfError:
            raise
        except OSError as exc:  # the local file, not the store: those errors are ours above
            raise SourcePathError(item.local, f"cannot read it ({exc.strerror})") from exc

    def hash_and_upload(item: SourceFile) -> FileEntry:
        # Hash, then upload at once: one file's upload overlaps the next one's hashing.
        if item.size <= _upload.SINGLE_PASS_MAX:
            with budget.hold(item.size):  # read once; the bytes hashed are the bytes sent
                content = _upload.read_hashed(item)
                hashing.advance(item.size)
                hashing.file_done()
                digest = content.sha256
                upload_missing(item, digest, content)
                del content  # freed before the budget lets another file in
        else:
            digest = known.get(item.path) or hash_file(item.local, hashing)
            if item.path in known:
                hashing.advance(item.size)  # hashed while deciding: not read again here
            hashing.file_done()
            if item.changed():
                raise SourcePathError(item.local, "it changed while being hashed; push again")
            # Checked as it is sent: a changed file fails the upload and nothing is stored.
            upload_missing(item, digest, item.local)
        uploading.advance(item.size)
        uploading.file_done()
        return FileEntry(item.path, item.size, digest)

    def upload_missing(item: SourceFile, digest: str, content: HashedBytes | Path) -> None:
        with claim_lock:
            first = digest not in claimed  # identical files in one push: upload once
            claimed.add(digest)
        if first and not stored(digest, item.size):
            # Never delete a blob here: another push may have found it and committed it.
            store.put_blob(digest, content, item.size)
            uploaded.add(digest)

    entries = run_concurrently(push_one, files)
    ours = content_of(kind, entries, metadata, extra)
    repeats = candidate is not None and content_of_manifest(candidate) == ours
    same_as = candidate.version if candidate is not None and repeats else None
    who = actor()
    source_info = source.describe() if recorded_source is None else recorded_source
    restore = _restorer(store, files)
    reused = [entry for entry in entries if entry.sha256 not in uploaded]
    for attempt in range(_AUTO_VERSION_TRIES):
        chosen = version or next_version(existing, major=major, within=within)
        manifest = Manifest(
            name=name,
            version=str(chosen),
            kind=kind,
            files=tuple(entries),
            created=now_iso(),
            author=f"{who['user']}@{who['host']}",
            message=message,
            source=source_info,
            metadata=metadata,
            extra=extra,
        )
        try:
            commit_reusing(store, manifest, reused, restore)
        except VersionExistsError:
            # A racing push took the number: if it pushed this very content, it is the answer.
            racer = readable(store, name, str(chosen)) if if_changed else None
            if racer is not None and content_of_manifest(racer) == ours:
                return PushReport(racer, new_version=False, same_as=racer.version)
            if version is not None or attempt == _AUTO_VERSION_TRIES - 1:
                raise
            logger.info("%s:%s was taken by a concurrent push; trying the next", name, chosen)
            existing = store.taken_versions(name)
            continue
        store.append_log(
            name,
            "push",
            version=manifest.version,
            message=message,
            files=len(entries),
            size=manifest.size,
        )
        return PushReport(manifest, new_version=True, same_as=same_as)
    raise AssertionError("unreachable")  # pragma: no cover


def _restorer(store: StoreLayout, files: list[SourceFile]) -> Callable[[FileEntry], None]:
    """How a push restores a reused blob that vanished after its commit: from the local file,
    unless that changed since it was hashed (then the blob cannot be made again from it)."""
    by_path = {item.path: item for item in files}

    def restore(entry: FileEntry) -> None:
        item = by_path[entry.path]
        if item.changed():
            logger.error(
                "the stored copy of %s vanished during the push (a concurrent gc?) and the file"
                " has changed since; push the original file again to repair it",
                item.path,
            )
            return
        logger.warning("%s vanished from the store during the push; uploading it again", item.path)
        store.put_blob(entry.sha256, item.local, item.size)  # verified as sent

    return restore
