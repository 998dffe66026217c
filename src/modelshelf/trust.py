"""The trust boundary: the checks every string from a store passes before any use. Pure: no I/O.

A store may be shared, writable by others, or a custom backend, so what it sends is outside
input, like a command line. This module is the one place that says what is acceptable (the
size bounds live in :mod:`modelshelf._bounds` and the text primitives in :mod:`modelshelf._text`;
both are re-exported here, so callers name only ``trust``):

```
input from a store             check                                used by
manifest name, version         check_name, check_version; the       Manifest.from_json,
                               store compares them with the key     Store.read_manifest
file path, size, sha256        check_file_entry (no .git segment:   Manifest.from_json
                               is_git_name)
manifest bytes and shape       manifest_cap, check_json_budget      Manifest.from_json
other sections, user metadata  check_section, check_metadata        Manifest.from_json, push
runner/hook import path        check_import_path (syntax only; the  _imports.import_object
                               object rule is in _imports)
mirror key .git segments       is_git_name                          mirror.plan.check_key
mirror key and URL characters  find_hidden (Cc Cf Zl Zp Cs, as the  mirror.plan.check_key,
                               escapes)                             split_url
alias record                   check_alias_record                   Store alias reads
notes record (labels, text)    check_notes_record, check_labels,    Store notes reads and
                               check_description                    writes, the registry
audit record                   check_log_record                     Store.log
names in key listings          is_name, is_alias, listed_version    Store listings (skip junk)
any path joined into the cache inside (lexical)                     Cache; user_folder (on a
                                                                    root resolved first)
keys, key bytes of a listing   bounded_listing                      KeyLayout._listed, mirror
```

The ``check_*`` functions raise ``ValueError`` with a one-line reason; the caller, which knows
the store and the key, turns it into :class:`~modelshelf.errors.UntrustedStoreDataError`. Values
are quoted with :func:`show`, so a forged string never spans lines or floods a terminal.
:func:`inside` is the last line of defence: even a string that slipped past every check cannot
make the cache write outside its root.

Example:
    >>> check_version("1.3", expected="1.3")
    '1.3'
    >>> inside(Path("/cache"), "snapshots", "nlp/sentiment", "versions", "1.3").as_posix()
    '/cache/snapshots/nlp/sentiment/versions/1.3'
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from modelshelf._bounds import (
    MAX_MANIFEST_BYTES,
    MAX_METADATA_ITEMS,
    MAX_SECTION_DEPTH,
    MAX_SECTION_NODES,
    MAX_SECTIONS_BYTES,
    bounded_listing,
    check_json_budget,
    check_metadata,
    check_section,
    loads_json,
    manifest_cap,
)
from modelshelf._text import (
    MAX_LINE,
    MAX_TEXT,
    check_text,
    describe_char,
    escape_controls,
    find_hidden,
    foreign_error,
    show,
    show_time,
)
from modelshelf.errors import InvalidSpecError, UntrustedStoreDataError
from modelshelf.spec import Version, validate_alias, validate_name

__all__ = [
    "LABEL_KEY",
    "MAX_DESCRIPTION_BYTES",
    "MAX_LABELS",
    "MAX_LABEL_VALUE",
    "MAX_LINE",
    "MAX_LOG_BYTES",
    "MAX_MANIFEST_BYTES",
    "MAX_METADATA_ITEMS",
    "MAX_RECORD_BYTES",
    "MAX_SECTIONS_BYTES",
    "MAX_SECTION_DEPTH",
    "MAX_SECTION_NODES",
    "MAX_SIZE",
    "MAX_TEXT",
    "bounded_listing",
    "check_alias_record",
    "check_description",
    "check_labels",
    "check_notes_record",
    "check_file_entry",
    "check_import_path",
    "check_json_budget",
    "check_metadata",
    "check_section",
    "check_log_record",
    "check_removal_record",
    "check_name",
    "check_relative_path",
    "check_sha256",
    "check_size",
    "check_text",
    "check_version",
    "describe_char",
    "find_hidden",
    "foreign_error",
    "inside",
    "is_alias",
    "is_dotted_name",
    "is_git_name",
    "is_name",
    "listed_version",
    "loads_json",
    "manifest_cap",
    "escape_controls",
    "show",
    "show_time",
]

MAX_SIZE = 2**50
"""Sizes are below 1 PiB: a claim above it is a lie, not a file."""
MAX_RECORD_BYTES = 2**20
"""Alias and audit records are a few hundred bytes."""
MAX_LOG_BYTES = 32 * 2**20
"""The most bytes of audit records one read of an asset's log takes: some 80,000 records of
~400 bytes, years of pushes and alias moves. A log past it is refused, never cut short."""
MAX_PATH = 4096
MAX_LABELS = 64
"""The most labels one asset or version carries."""
MAX_LABEL_VALUE = 256
"""The longest label value (one line; may be empty: a free-text label such as ``gpu``)."""
MAX_DESCRIPTION_BYTES = 64 * 1024
"""The most bytes (UTF-8) of a description (Markdown)."""
LABEL_KEY = re.compile(r"[a-z0-9][a-z0-9._/-]{0,62}")
"""A label's key: lower case, digits, ``.``, ``_``, ``/``, ``-``; ``team``, ``k8s.io/x``."""
# In a description: the control characters of text (tabs and line ends) and nothing else.
_DESCRIPTION_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

_SHA256 = re.compile(r"[0-9a-f]{64}")
_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_IMPORT_PATH = re.compile(rf"({_DOTTED}):({_DOTTED})", re.ASCII)
MAX_IMPORT_PATH = 256
_LOG_SCALARS = (str, int, float, bool, type(None))
# Audit fields that `modelshelf log` prints on one line each.
_LOG_REQUIRED = ("action", "name", "when", "user", "host")
_LOG_OPTIONAL = ("version", "alias", "previous")


def check_name(value: object, expected: str | None = None, *, what: str = "name") -> str:
    """An asset name by :func:`~modelshelf.spec.validate_name`, equal to ``expected`` if given."""
    name = check_text(value, what)
    try:
        validate_name(name)
    except InvalidSpecError as exc:
        raise ValueError(f"{what} {show(name)} is not an asset name: {exc.reason}") from None
    if expected is not None and name != expected:
        raise ValueError(f"{what} is {show(name)}, not {expected!r}")
    return name


def check_version(value: object, expected: str | None = None, *, what: str = "version") -> str:
    """Canonical version text (:meth:`Version.parse`), equal to ``expected`` if given."""
    text = check_text(value, what)
    try:
        Version.parse(text)
    except InvalidSpecError as exc:
        raise ValueError(f"{what} {show(text)} is not a version: {exc.reason}") from None
    if expected is not None and text != expected:
        raise ValueError(f"{what} is {show(text)}, not {expected!r}")
    return text


def check_relative_path(path: object) -> str:
    """``path`` if it is a safe relative POSIX path, else raise ``ValueError``.

    Paths come from manifests in a store that may have been written by anyone, so a path that
    could escape the folder it is placed in (``..``, absolute, backslashes, NUL) is refused.
    """
    if not isinstance(path, str):
        raise ValueError(f"a path must be text, not {show(path)}")
    if not path or path.startswith("/") or "\\" in path or "\x00" in path:
        raise ValueError(f"unsafe path {show(path)}")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise ValueError(f"unsafe path {show(path)}")
    if any(is_git_name(part) for part in path.split("/")):
        raise ValueError(
            f"path {show(path)} is inside a .git folder; a version never carries git's files"
            " (git runs commands its config names)"
        )
    if len(path) > MAX_PATH:
        raise ValueError(f"path {show(path)} is longer than {MAX_PATH} characters")
    return path


# Code points HFS+ ignores in names (so ".g\u200cit" is ".git" on macOS), as git's own
# is_hfs_dotgit lists them.
_HFS_IGNORED = re.compile("[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]")


def is_git_name(segment: str) -> bool:
    """True if a file system could open ``segment`` as the ``.git`` folder.

    Case-insensitively (``.GIT`` is ``.git`` on macOS and Windows), with the trailing dots and
    spaces Windows drops, the code points HFS+ ignores, and NTFS's short name ``GIT~1``; as
    git itself refuses them in trees. ``.gitignore`` or ``a.git`` are other names.
    """
    folded = _HFS_IGNORED.sub("", segment).rstrip(". ").casefold()
    return folded in (".git", "git~1")


def is_dotted_name(value: str) -> bool:
    """True for ASCII identifiers joined by dots (``my_pkg.sub``), as an import path's parts."""
    return re.fullmatch(_DOTTED, value, re.ASCII) is not None


def check_import_path(value: object) -> tuple[str, str]:
    """The module and qualified name of ``module.path:Qual.Name``, else raise ``ValueError``.

    Only ASCII identifiers joined by dots on both sides of one colon pass: no ``/``, ``..``,
    spaces, relative imports or file names, and never the ``__main__`` module. What passes is
    only syntax; the caller still imports nothing that is not already installed.

    Example:
        >>> check_import_path("my_pkg.runners:Sentiment")
        ('my_pkg.runners', 'Sentiment')
    """
    text = check_text(value, "import path", limit=MAX_IMPORT_PATH)
    match = _IMPORT_PATH.fullmatch(text)
    if match is None:
        raise ValueError(
            f"import path {show(text)} is not 'package.module:ClassName' (ASCII identifiers"
            " joined by dots, one colon)"
        )
    module, qualname = match.group(1), match.group(2)
    if module == "__main__" or module.startswith("__main__."):
        raise ValueError(f"import path {show(text)} names the __main__ module")
    return module, qualname


def check_size(value: object) -> int:
    """A byte count: an ``int`` (not ``bool``) from 0 to below :data:`MAX_SIZE`."""
    if type(value) is not int or not 0 <= value < MAX_SIZE:
        raise ValueError(f"bad size {show(value)}: sizes are integers from 0 to 2**50")
    return value


def check_sha256(value: object) -> str:
    """64 lower-case hex digits."""
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise ValueError(f"bad sha256 {show(value)}: 64 lower-case hex digits expected")
    return value


def check_file_entry(item: object) -> tuple[str, int, str]:
    """One entry of a manifest's ``files``: ``(path, size, sha256)``, each checked."""
    if not isinstance(item, dict):
        raise ValueError(f"a file entry must be an object, not {show(item)}")
    for field in ("path", "size", "sha256"):
        if field not in item:
            raise ValueError(f"a file entry has no {field!r}")
    return (
        check_relative_path(item["path"]),
        check_size(item["size"]),
        check_sha256(item["sha256"]),
    )


def check_alias_record(data: object, *, alias: str, seq: int) -> dict[str, Any]:
    """The fields of alias record number ``seq`` of ``alias``; unknown fields are dropped.

    Returns:
        ``alias``, ``version``, ``previous`` (a version or ``None``), ``seq``, ``who``,
        ``host`` and ``when``, each checked.
    """
    if not isinstance(data, dict):
        raise ValueError(f"an alias record must be an object, not {show(data)}")
    for field in ("alias", "version", "previous", "seq", "who", "host", "when"):
        if field not in data:
            raise ValueError(f"the field {field!r} is missing")
    check_text(data["alias"], "alias")
    if data["alias"] != alias:
        raise ValueError(f"it names the alias {show(data['alias'])}, not {alias!r}")
    if type(data["seq"]) is not int or data["seq"] != seq:
        raise ValueError(f"its seq is {show(data['seq'])}, not {seq}")
    previous = data["previous"]
    return {
        "alias": alias,
        # ``version: null`` is a removal of the alias (``modelshelf alias rm``).
        "version": None if data["version"] is None else check_version(data["version"]),
        "previous": None if previous is None else check_version(previous, what="previous"),
        "seq": seq,
        "who": check_text(data["who"], "who"),
        "host": check_text(data["host"], "host"),
        "when": check_text(data["when"], "when"),
    }


def check_labels(value: object) -> dict[str, str]:
    """Labels: an object of at most :data:`MAX_LABELS` keys matching :data:`LABEL_KEY`, each
    value one line of at most :data:`MAX_LABEL_VALUE` characters (``""`` for a bare label).

    Example:
        >>> check_labels({"team": "nlp", "gpu": ""})
        {'gpu': '', 'team': 'nlp'}
    """
    if not isinstance(value, dict):
        raise ValueError(f"labels must be an object, not {show(value)}")
    if len(value) > MAX_LABELS:
        raise ValueError(f"{len(value)} labels, over the {MAX_LABELS} one target may carry")
    labels = {}
    for key, item in value.items():
        if not isinstance(key, str) or not LABEL_KEY.fullmatch(key):
            raise ValueError(
                f"the label key {show(key)} is not 1 to 63 of a-z 0-9 . _ / - (lower case,"
                " starting with a letter or digit)"
            )
        labels[key] = check_text(item, f"the label {key}", limit=MAX_LABEL_VALUE)
    return dict(sorted(labels.items()))


def check_description(value: object) -> str:
    """A description: Markdown text of at most :data:`MAX_DESCRIPTION_BYTES` bytes (UTF-8),
    lines and tabs allowed, no other control character and no lone surrogate."""
    text = check_text(value, "the description", limit=MAX_DESCRIPTION_BYTES, one_line=False)
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError("the description holds a lone surrogate, which is no text") from None
    if size > MAX_DESCRIPTION_BYTES:
        raise ValueError(f"the description takes {size} bytes, over {MAX_DESCRIPTION_BYTES}")
    found = _DESCRIPTION_CONTROLS.search(text)
    if found:
        raise ValueError(f"the description holds the control character {show(found.group())}")
    return text


def check_notes_record(data: object, *, seq: int) -> dict[str, Any]:
    """The fields of notes record number ``seq`` (an asset's or a version's labels and
    description); unknown fields are dropped.

    Returns:
        ``labels`` (sorted by key), ``description``, ``seq``, ``who``, ``host`` and ``when``,
        each checked.

    Example:
        >>> record = {"seq": 1, "labels": {"team": "nlp"}, "description": "",
        ...           "who": "ann", "host": "box", "when": "2026-12-08T00:00:00Z"}
        >>> check_notes_record(record, seq=1)["labels"]
        {'team': 'nlp'}
    """
    if not isinstance(data, dict):
        raise ValueError(f"a notes record must be an object, not {show(data)}")
    for field in ("seq", "labels", "description", "who", "host", "when"):
        if field not in data:
            raise ValueError(f"the field {field!r} is missing")
    if type(data["seq"]) is not int or data["seq"] != seq:
        raise ValueError(f"its seq is {show(data['seq'])}, not {seq}")
    return {
        "labels": check_labels(data["labels"]),
        "description": check_description(data["description"]),
        "seq": seq,
        "who": check_text(data["who"], "who"),
        "host": check_text(data["host"], "host"),
        "when": check_text(data["when"], "when"),
    }


def check_removal_record(data: object, *, name: str, version: str) -> dict[str, str]:
    """The ``.removed`` record of ``name:version``: who, host and when on one line each, and
    the reason (``message``, any text)."""
    if not isinstance(data, dict):
        raise ValueError(f"a removal record must be an object, not {show(data)}")
    check_name(data.get("name"), name)
    check_version(data.get("version"), version)
    fields = {"name": name, "version": version}
    for field in ("who", "host", "when"):
        fields[field] = check_text(data.get(field), field)
    fields["message"] = check_text(
        data.get("message", ""), "message", limit=MAX_TEXT, one_line=False
    )
    return fields


def check_log_record(data: object, *, name: str) -> dict[str, Any]:
    """An audit record of asset ``name``: an object of JSON scalars, its strings bounded.

    The fields ``modelshelf log`` prints (action, name, when, user, host; version, alias and
    previous when present) must be one-line text; ``message`` may span lines, and is escaped
    where it is shown.
    """
    if not isinstance(data, dict):
        raise ValueError(f"an audit record must be an object, not {show(data)}")
    if len(data) > 100:
        raise ValueError("an audit record has more than 100 fields")
    for key, value in data.items():
        check_text(key, "a field name", limit=100)
        if not isinstance(value, _LOG_SCALARS):
            raise ValueError(f"the field {show(key)} holds {show(value)}, not a plain value")
        if isinstance(value, str):
            check_text(value, f"the field {show(key)}", limit=MAX_TEXT, one_line=False)
    for field in _LOG_REQUIRED:
        if field not in data:
            raise ValueError(f"the field {field!r} is missing")
        check_text(data[field], field)
    for field in _LOG_OPTIONAL:
        if data.get(field) is not None:
            check_text(data[field], field)
    if data["name"] != name:
        raise ValueError(f"it is a record of {show(data['name'])}, not {name!r}")
    return dict(data)


def is_name(text: str) -> bool:
    """True if ``text``, found in a key listing, is a valid asset name."""
    try:
        check_name(text)
    except ValueError:
        return False
    return True


def is_alias(text: str) -> bool:
    """True if ``text``, found in a key listing, is a valid alias name."""
    try:
        validate_alias(text)
    except InvalidSpecError:
        return False
    return True


def listed_version(text: str) -> Version | None:
    """The version that listed key text spells canonically, or ``None`` for anything else."""
    try:
        return Version.parse(check_version(text))
    except ValueError:
        return None


def inside(root: Path, *parts: str) -> Path:
    """``root`` joined with ``parts``, refused unless the result lies strictly under ``root``.

    Each part may hold ``/``-separated segments (an asset name does). A part that is not text,
    is empty or absolute, has an empty, ``.`` or ``..`` segment, or holds NUL or a backslash is
    refused, and so is a join that does not lie strictly under ``root`` after
    ``os.path.normpath``. The check is lexical: it does not follow links.

    Raises:
        UntrustedStoreDataError: a part is unsafe.
    """
    for part in parts:
        unsafe = (
            not isinstance(part, str)
            or "\x00" in part
            or "\\" in part
            or any(segment in ("", ".", "..") for segment in part.split("/"))
        )
        if unsafe:
            raise UntrustedStoreDataError(
                f"refusing {show(part)} as part of a path under {root}: it is empty or absolute,"
                " or holds '.', '..', '//', NUL or '\\'; the store sent a name that is not safe"
            )
    joined = root.joinpath(*parts)
    base = os.path.normpath(root)
    normal = os.path.normpath(joined)
    if normal == base or not normal.startswith(base.rstrip(os.sep) + os.sep):
        raise UntrustedStoreDataError(
            f"refusing the path {show(str(joined), 120)}: it does not lie under {root}"
        )
    return joined
