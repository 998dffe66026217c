"""What ``modelshelf mirror`` will do, decided before anything is written. Pure: no I/O.

A mirror URL is split into the store it opens and the prefix inside it::

    url     := scheme "://" container ["/" prefix] ["/"]     s3://models/conduct/en/version_1.2
    store   := scheme "://" container                        s3://models
    prefix  := segment ("/" segment)*                        conduct/en/version_1.2

Every key the store lists is outside input. :func:`check_key` turns one into the path below the
destination (the key itself: the tree below the bucket is kept, prefix included) or refuses it;
:func:`make_plan` checks every key before the first byte is written, so one hostile key stops
the whole mirror with nothing written.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from modelshelf.backends.base import ObjectMeta
from modelshelf.errors import UnsupportedStoreError
from modelshelf.transfer.user_folder import Judge, Verdict
from modelshelf.trust import check_size, describe_char, find_hidden, is_git_name, show

__all__ = [
    "GIT_REFUSAL",
    "INDEX_NAME",
    "MirrorItem",
    "check_key",
    "is_ours",
    "local_judge",
    "make_plan",
    "matches",
    "split_url",
]

GIT_REFUSAL = "is inside a .git folder"
"""How a key refused for a ``.git`` segment starts its reason (mirror names the way out)."""

INDEX_NAME = ".modelshelf-mirror.json"
"""The index beside the mirrored tree, in DEST: size, ETag and local stat of every file."""
MAX_SEGMENT_BYTES = 255  # NAME_MAX on Linux, macOS and Windows (in UTF-16 units there)
MAX_KEY = 4096

# Windows reads any "X:" at the start of a segment as a drive (ntpath.splitdrive), not only A-Z.
_DRIVE = re.compile(r".:", re.DOTALL)
# Device names Windows opens whatever the extension ("CON.txt", "com1 .json"), in any case.
_RESERVED = re.compile(
    r"(CON|PRN|AUX|NUL|CONIN\$|CONOUT\$|(COM|LPT)[1-9\u00b9\u00b2\u00b3])(\s*\..*)?", re.I | re.S
)

Action = Literal["fetch", "skip"]


@dataclass(frozen=True)
class MirrorItem:
    """One object of a mirror and what happens to it.

    Attributes:
        key: the object's key below the container (bucket), which is also its path below DEST.
        size: bytes, as the listing says.
        etag: the store's ETag, when it gives one.
        action: ``fetch`` or ``skip``.
        reason: why (``new``, ``changed in the store``, ``changed locally``, ``unchanged``...).
    """

    key: str
    size: int
    etag: str | None
    action: Action
    reason: str
    last_modified: str | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The item as JSON-ready fields."""
        return {
            "key": self.key,
            "size": self.size,
            "etag": self.etag,
            "action": self.action,
            "reason": self.reason,
        }


def split_url(url: str) -> tuple[str, str, bool]:
    """``(store URL, prefix, names a folder)`` of a mirror URL.

    The prefix is ``""`` for a whole container. ``names a folder`` is true when the URL ends in
    ``/`` (or has no prefix): such a URL never names a single object.

    Raises:
        UnsupportedStoreError: the URL has no scheme, holds a control character (tab, newline:
            ``urlsplit`` would drop them silently), or its path is not usable.

    Example:
        >>> split_url("s3://models/conduct/en/version_1.2")
        ('s3://models', 'conduct/en/version_1.2', False)
        >>> split_url("file:///srv/data/")
        ('file:///', 'srv/data', True)
    """
    if "://" not in url:
        raise UnsupportedStoreError(
            f"cannot mirror {show(url)}: give a URL such as s3://bucket/prefix,"
            " file:///path or memory://name/prefix"
        )
    if url.strip().lower().startswith(("http://", "https://")):
        raise UnsupportedStoreError(
            f"cannot mirror {show(url)}: an http(s):// URL is a registry, not a bucket prefix;"
            " mirror copies a bucket prefix; pull or export from a registry"
            " (`modelshelf pull NAME:VERSION -o DIR --store URL`)"
        )
    # urlsplit drops tabs and newlines (another prefix); an invisible one names another folder.
    hidden = find_hidden(url)
    if hidden is not None:
        raise UnsupportedStoreError(
            f"cannot mirror {show(url)}: the URL holds a tab, newline or other control character"
            f" ({describe_char(hidden)})"
        )
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise UnsupportedStoreError(f"{show(url)} is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    path = unquote(parts.path) if scheme == "file" else parts.path
    if parts.query or parts.fragment:
        raise UnsupportedStoreError(
            f"{show(url)}: a mirror URL has no '?' or '#' part; give scheme://bucket/prefix"
        )
    if scheme == "file" and parts.netloc not in ("", "localhost"):
        raise UnsupportedStoreError(
            f"{show(url)}: file URLs name a local folder, as file:///absolute/path (three"
            " slashes); a host is not supported"
        )
    prefix = path.strip("/")
    if prefix:
        try:
            check_key(prefix, include_git=True)  # typed by the user: asked for
        except ValueError as exc:
            raise UnsupportedStoreError(f"cannot mirror {show(url)}: its prefix {exc}") from None
    store = "file:///" if scheme == "file" else f"{scheme}://{parts.netloc}"
    return store, prefix, (not prefix) or path.endswith("/")


def check_key(key: object, *, include_git: bool = False) -> str:
    """``key`` if it can be placed below a folder as the same relative path, else ``ValueError``.

    Refused: non-text, empty, longer than 4096 characters, absolute (``/x``), holding a
    backslash, NUL or any character the escapes hide (:func:`modelshelf.trust.find_hidden`:
    Unicode categories Cc, Cf, Zl, Zp, Cs: controls, bidi marks, zero-width spaces), an
    empty, ``.`` or ``..`` segment (``a//b``, ``a/./b``, ``a/../b``, a trailing ``/``), a
    segment starting with a drive (``C:``, or any character then ``:``; it would reset the path on
    Windows), a segment that Windows would write as another file: holding ``:`` (``a:b`` is the
    stream ``b`` of ``a``), a device name (``CON``, ``NUL.txt``, ``com1``...) or ending in ``.``
    or a space; a segment of more than 255 bytes of UTF-8, or the name of the mirror's own index.
    Unless ``include_git``, also a segment a file system opens as ``.git``
    (:func:`modelshelf.trust.is_git_name`): git obeys the config it finds there, so a bucket's
    ``.git/config`` would run its ``core.fsmonitor`` at the next ``git status`` in DEST.

    Example:
        >>> check_key("models/lr/weights.bin")
        'models/lr/weights.bin'
    """
    if not isinstance(key, str):
        raise ValueError(f"is not text ({show(key)})")
    if not key:
        raise ValueError("is empty")
    if len(key) > MAX_KEY:
        raise ValueError(f"is longer than {MAX_KEY} characters")
    if key.startswith("/"):
        raise ValueError("is absolute (starts with '/')")
    if "\\" in key:
        raise ValueError("holds a backslash")
    # The escapes' own set (trust.find_hidden), not a list: a zero-width space or a bidi mark
    # would make a local file name that reads as another one.
    hidden = find_hidden(key)
    if hidden is not None:
        raise ValueError(f"holds NUL or control characters ({describe_char(hidden)} first)")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            what = "an empty" if not segment else f"a {segment!r}"
            raise ValueError(f"has {what} segment")
        if _DRIVE.match(segment):
            raise ValueError(f"has a segment starting with a drive letter ({show(segment[:2])})")
        if ":" in segment:
            raise ValueError(f"holds ':' ({show(segment)} is an NTFS stream on Windows)")
        if _RESERVED.fullmatch(segment):
            raise ValueError(f"has a segment Windows reads as a device ({show(segment)})")
        if segment.endswith((".", " ")):
            raise ValueError(
                f"has a segment ending in '.' or ' ' ({show(segment)}; Windows drops it)"
            )
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise ValueError(f"has a segment longer than {MAX_SEGMENT_BYTES} bytes")
        if not include_git and is_git_name(segment):
            # mirror/run.py names the way out (include_git) in each face's words.
            raise ValueError(f"{GIT_REFUSAL} ({show(segment)}), whose config git obeys")
    if key == INDEX_NAME:
        raise ValueError(f"is the name of the mirror's own index ({INDEX_NAME})")
    return key


def matches(path: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    """True if ``path`` (below the URL's prefix) passes the filters.

    Kept: matches any ``include`` glob (or there is none) and no ``exclude`` glob. Globs are
    :mod:`fnmatch` patterns, case-sensitive; ``*`` also matches ``/``, so ``*.json`` keeps JSON
    files at any depth and ``models/*`` everything below ``models/``.

    Example:
        >>> matches("models/lr/coef.npy", ["*.npy"], ["tmp/*"])
        True
    """
    if include and not any(fnmatch.fnmatchcase(path, glob) for glob in include):
        return False
    return not any(fnmatch.fnmatchcase(path, glob) for glob in exclude)


def _same_remote(meta: ObjectMeta, modified: str | None, entry: Mapping[str, Any]) -> bool:
    if entry.get("size") != meta.size:
        return False
    if meta.etag is not None and entry.get("etag") is not None:
        return bool(entry["etag"] == meta.etag)
    return modified is not None and entry.get("last_modified") == modified


def make_plan(
    listing: Iterable[ObjectMeta],
    *,
    source: str,
    prefix: str,
    single: bool,
    include: Sequence[str],
    exclude: Sequence[str],
    index: Mapping[str, Mapping[str, Any]],
    local: Mapping[str, tuple[int, int] | None],
    include_git: bool = False,
) -> tuple[list[MirrorItem], list[tuple[str, str]]]:
    """Decide, for every listed object, whether to fetch it.

    Args:
        listing: what the store listed (or the one object, if ``single``).
        source: the store URL, recorded in the index: an entry of another store never matches.
        prefix: the URL's prefix; keys must lie under ``prefix/`` (or be it, if ``single``).
        single: the URL names one object; filters then match its last segment.
        include, exclude: globs on the path below the prefix (see :func:`matches`).
        index: the index's entries by key (``source``, ``size``, ``etag``, ``last_modified``,
            ``local_size``, ``local_mtime_ns``).
        local: ``(size, mtime_ns)`` of the file now at each indexed key, ``None`` if missing.
        include_git: accept keys with ``.git`` segments (see :func:`check_key`).

    Returns:
        The items in key order, and the refused keys with their reasons (the caller raises).
    """
    items: list[MirrorItem] = []
    refused: list[tuple[str, str]] = []
    seen: set[str] = set()
    for meta in listing:
        key = meta.path
        if single:
            below = key.rsplit("/", 1)[-1] if isinstance(key, str) else ""
            if key != prefix:
                refused.append((key, f"is not the object {show(prefix)} that was asked for"))
                continue
        else:
            if not isinstance(key, str) or (prefix and not key.startswith(prefix + "/")):
                refused.append((key, f"does not lie under the prefix {show(prefix + '/')}"))
                continue
            below = key[len(prefix) + 1 :] if prefix else key
        if not matches(below, include, exclude):
            continue  # never written, so never refused: --exclude lets a user pass a bad key
        try:
            check_key(key, include_git=include_git)
        except ValueError as exc:
            refused.append((key, str(exc)))
            continue
        if key in seen:
            refused.append((key, "is listed twice"))
            continue
        try:
            check_size(meta.size)
        except ValueError as exc:
            refused.append((key, f"is listed with a {exc}"))
            continue
        seen.add(key)
        modified = meta.last_modified.isoformat() if meta.last_modified else None
        entry = index.get(key)
        action: Action
        if entry is None or entry.get("source") != source:
            action, reason = "fetch", "new"
        elif not _same_remote(meta, modified, entry):
            action, reason = "fetch", "changed in the store"
        elif local.get(key) is None:
            action, reason = "fetch", "missing locally"
        elif local[key] != (entry.get("local_size"), entry.get("local_mtime_ns")):
            action, reason = "fetch", "changed locally"
        else:
            action, reason = "skip", "unchanged"
        items.append(MirrorItem(key, meta.size, meta.etag, action, reason, modified))
    items.sort(key=lambda item: item.key)
    folders = _folders({item.key for item in items})
    # An empty object named like a folder of other keys is a folder marker ("a/b/", which
    # obstore lists as "a/b"): the folder is made anyway. A file there is a clash.
    items = [item for item in items if not (item.key in folders and item.size == 0)]
    refused.extend(
        (item.key, f"is both a file and the folder of {show(folders[item.key])}")
        for item in items
        if item.key in folders
    )
    refused.extend(_one_file_elsewhere([item.key for item in items], folders))
    return items, refused


def _fold(name: str) -> str:
    """``name`` as macOS and Windows compare names by default: Unicode NFC, case folded."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


def _one_file_elsewhere(keys: list[str], folders: Mapping[str, str]) -> list[tuple[str, str]]:
    """The keys that would be one file with another key (or a folder of one) on macOS or
    Windows: equal under Unicode NFC, or but for case. Mirrored there, one would silently
    replace the other, and every rerun would fetch both again."""
    first: dict[str, str] = {}
    folded_folders = {_fold(folder): folder for folder in sorted(folders, reverse=True)}
    refused: list[tuple[str, str]] = []
    for key in keys:  # in key order: the later key of a pair is named
        folded = _fold(key)
        other = first.setdefault(folded, key)
        if other == key:
            other = folded_folders.get(folded, key)
            what = f"the folder {show(other)}"
        else:
            what = show(other)
        if other == key:
            continue
        nfc = unicodedata.normalize("NFC", key) == unicodedata.normalize("NFC", other)
        why = "in Unicode NFC (one composed, one not)" if nfc else "but for case"
        refused.append((key, f"is the same name as {what} {why}: one file on macOS and Windows"))
    return refused


def _folders(keys: set[str]) -> dict[str, str]:
    """Each folder that holds one of ``keys``, with one key inside it."""
    folders: dict[str, str] = {}
    for key in sorted(keys):
        parts = key.split("/")
        for depth in range(1, len(parts)):
            folders.setdefault("/".join(parts[:depth]), key)
    return folders


def local_judge(item: MirrorItem) -> Judge:
    """A file already at ``item``'s path: other content if its size differs from the
    listing's, else known only once the object is fetched (compared then)."""

    def judge(path: Path, info: os.stat_result) -> Verdict:
        if not stat.S_ISREG(info.st_mode) or info.st_size != item.size:
            return "other"
        return "maybe"

    return judge


def is_ours(
    item: MirrorItem,
    index: dict[str, dict[str, Any]],
    local: tuple[int, int] | None,
    source: str,
) -> bool:
    """Whether the file at ``item``'s path is one this mirror wrote, unchanged since: indexed
    for this store with the size and mtime it has now, and not found edited by ``verify``."""
    entry = index.get(item.key)
    return (
        entry is not None
        and entry.get("source") == source
        and local == (entry.get("local_size"), entry.get("local_mtime_ns"))
        and item.reason not in ("changed locally", "changed locally (sha256)")
    )
