"""The manifest: the JSON record of one version, and the commit point of a push.

A version exists if and only if its manifest exists. The manifest lists every file with its size
and sha256, so a pull can verify each byte it receives, and records who pushed what, when, from
where. Pure data, no I/O.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii
from typing import Any, Literal

from modelshelf import trust
from modelshelf.errors import InvalidInputError, InvalidManifestError
from modelshelf.trust import check_relative_path

__all__ = [
    "CORE_KEYS",
    "Content",
    "FORMAT_VERSION",
    "FileEntry",
    "Manifest",
    "check_paths",
    "check_relative_path",
    "content_of",
    "content_of_manifest",
    "written_json",
]

FORMAT_VERSION = 1
AssetKind = Literal["file", "directory"]
CORE_KEYS = frozenset(
    {
        "format",
        "name",
        "version",
        "kind",
        "size",
        "created",
        "author",
        "message",
        "source",
        "metadata",
        "files",
    }
)
"""The keys :meth:`Manifest.to_dict` writes itself; ``extra`` may not use them."""


def check_paths(paths: list[str]) -> None:
    """Refuse what could not be placed in a folder: an unsafe path (see
    :func:`~modelshelf.trust.check_relative_path`), a path given twice, or a file that is
    also a folder of another path. Raises ``ValueError``.

    Manifests are checked with it when read and when built, so a push can never commit a
    version that no pull could read back.
    """
    for path in paths:
        check_relative_path(path)
    unique = set(paths)
    if len(unique) != len(paths):
        raise ValueError("a path is listed twice")
    for path in unique:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            if "/".join(parts[:depth]) in unique:  # a set: the list made this O(n^2)
                folder = trust.show("/".join(parts[:depth]))
                raise ValueError(f"{folder} is both a file and a folder")


def _files_json(files: tuple[FileEntry, ...]) -> str:
    """The ``files`` list as ``json.dumps(..., indent=2)`` writes it at the top level."""
    if not files:
        return "[]"
    quote = encode_basestring_ascii
    entries = ",\n".join(
        f'    {{\n      "path": {quote(f.path)},\n      "size": {int(f.size)},\n'
        f'      "sha256": {quote(f.sha256)}\n    }}'
        for f in files
    )
    return f"[\n{entries}\n  ]"


def _check_no_conflicts(files: list[FileEntry]) -> None:
    check_paths([f.path for f in files])


@dataclass(frozen=True, slots=True)  # slots: a manifest may hold 250,000 of them
class FileEntry:
    """One file of a version: its path inside the asset, size in bytes and sha256 (hex)."""

    path: str
    size: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class Manifest:
    """The record of one version.

    Attributes:
        name: the asset name.
        version: the version text, e.g. ``"1.3"``.
        kind: ``"file"`` for an asset pushed from a single file, else ``"directory"``.
        files: every file, sorted by path.
        created: UTC time of the push, ISO 8601.
        author: who pushed (``user@host``).
        message: the push message, possibly empty.
        source: where the files came from: local path, git commit and whether the tree was dirty.
        metadata: user metadata (``--meta key=value``).
        extra: sections added by later features (models: runner, engine, requirements, props).
    """

    name: str
    version: str
    kind: AssetKind
    files: tuple[FileEntry, ...]
    created: str
    author: str
    message: str = ""
    source: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._check_extra()
        try:
            check_paths([f.path for f in self.files])
        except ValueError as exc:
            raise InvalidInputError(
                f"{self.name}:{self.version} cannot hold these files: {exc}; rename them"
            ) from exc

    def _check_extra(self) -> None:
        clash = CORE_KEYS.intersection(self.extra)
        if clash:
            raise InvalidInputError(
                f"the extra manifest sections {sorted(clash)} would overwrite core fields of"
                f" {self.name}:{self.version}; choose other names for them"
            )

    @property
    def size(self) -> int:
        """Total bytes of all files."""
        return sum(f.size for f in self.files)

    def file(self, path: str) -> FileEntry | None:
        """The entry for ``path``, or ``None``."""
        for entry in self.files:
            if entry.path == path:
                return entry
        return None

    def select(self, sub_path: str | None) -> tuple[FileEntry, ...]:
        """Files at or under ``sub_path`` (all files when ``None``)."""
        if not sub_path:
            return self.files
        prefix = sub_path.rstrip("/") + "/"
        return tuple(f for f in self.files if f.path == sub_path or f.path.startswith(prefix))

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the manifest.

        Raises:
            InvalidInputError: ``extra`` uses a core key (it may have been changed in place).
        """
        self._check_extra()
        data: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "name": self.name,
            "version": self.version,
            "kind": self.kind,
            "size": self.size,
            "created": self.created,
            "author": self.author,
            "message": self.message,
            "source": self.source,
            "metadata": self.metadata,
            "files": [f.to_dict() for f in self.files],
        }
        data.update(self.extra)
        return data

    def to_json(self) -> bytes:
        """The manifest as ``json.dumps(self.to_dict(), indent=2)`` writes it, plus a newline.

        The files are written by hand, one string per entry: with ``indent`` the json module
        encodes in Python, token by token, which took 225 MiB for a manifest of 24 MiB.
        """
        data = self.to_dict()
        marker = f"files-{uuid.uuid4().hex}"  # no text of the manifest can equal it
        data["files"] = marker
        text = json.dumps(data, indent=2, sort_keys=False)
        return text.replace(f'"{marker}"', _files_json(self.files), 1).encode() + b"\n"

    @classmethod
    def from_json(cls, raw: bytes | str, where: str = "manifest") -> Manifest:
        """Parse and validate a manifest; unknown top-level keys go to ``extra``.

        Every field passes :mod:`modelshelf.trust`: name and version are canonical, paths are
        safe and relative, sizes and hashes well formed, text fields are text.

        Raises:
            InvalidManifestError: not JSON, or a field is missing or malformed; the message is
                one line.
        """
        data_bytes = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
        cap = trust.manifest_cap()
        if len(data_bytes) > cap:
            raise InvalidManifestError(
                f"{where} takes {len(data_bytes)} bytes, over the {cap} a manifest may hold;"
                " if it is yours (a version of far more than 100,000 files), raise"
                " MODELSHELF_MAX_MANIFEST_MIB"
            )
        try:
            # Counted before decoding: decoded, ``[{},{},...]`` takes 24 times its bytes.
            trust.check_json_budget(data_bytes)
        except ValueError as exc:
            raise InvalidManifestError(f"{where} is malformed: {exc}") from exc
        try:
            data = trust.loads_json(data_bytes)  # no NaN or Infinity: not written back
        except (ValueError, RecursionError) as exc:  # JSON, UTF-8, digit limits, nesting
            raise InvalidManifestError(f"{where} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidManifestError(f"{where} is not a JSON object")
        try:
            return cls._from_dict(data)
        except ValueError as exc:
            raise InvalidManifestError(f"{where} is malformed: {exc}") from exc

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> Manifest:
        fmt = data.get("format")
        if type(fmt) is not int or fmt != FORMAT_VERSION:
            raise ValueError(
                f"format {trust.show(fmt)} is not {FORMAT_VERSION}; upgrade modelshelf"
            )
        for key in ("name", "version", "kind", "files", "created", "author"):
            if key not in data:
                raise ValueError(f"the field {key!r} is missing")
        name = trust.check_name(data["name"])
        version = trust.check_version(data["version"])
        kind = data["kind"]
        if kind not in ("file", "directory"):
            raise ValueError(f"bad kind {trust.show(kind)}")
        items = data["files"]
        if not isinstance(items, list) or not items:
            raise ValueError(f"files must be a non-empty list, not {trust.show(items)}")
        files = []
        for index, item in enumerate(items):
            files.append(FileEntry(*trust.check_file_entry(item)))
            items[index] = None  # its dict goes now: a manifest may hold 250,000 of them
        _check_no_conflicts(files)
        if kind == "file" and len(files) != 1:
            raise ValueError(f"a file asset holds one file, not {len(files)}")
        source = data.get("source") or {}
        if not isinstance(source, dict):
            raise ValueError(f"source must be an object, not {trust.show(source)}")
        trust.check_section(source, "source")
        # Kept, cached and shown (serve's /metadata), so bounded as push bounds them.
        extra = {k: v for k, v in data.items() if k not in CORE_KEYS}
        trust.check_section(extra, "the extra sections")
        metadata = trust.check_metadata(data.get("metadata") or {})
        return cls(
            name=name,
            version=version,
            kind=kind,
            files=tuple(sorted(files, key=lambda f: f.path)),
            created=trust.check_text(data["created"], "created"),
            author=trust.check_text(data["author"], "author"),
            message=trust.check_text(
                data.get("message", ""), "message", limit=trust.MAX_TEXT, one_line=False
            ),
            source=source,
            metadata=metadata,
            extra=extra,
        )


def written_json(value: Any) -> str:
    """``value`` as :meth:`Manifest.to_json` writes it (``json.dumps``), object keys sorted:
    the one comparison of metadata and sections (``push --if-changed``, ``copy``).

    Equal texts are equal JSON, whatever Python's ``==`` says: ``true``, ``1`` and ``1.0`` are
    three texts (``True == 1 == 1.0`` in Python), as are ``0.0`` and ``-0.0``; the order of an
    object's keys does not count (JSON objects are unordered).
    """
    return json.dumps(value, sort_keys=True, allow_nan=False)


Content = tuple[str, tuple[tuple[str, int, str], ...], str, str]
"""``(kind, ((path, size, sha256), ...) sorted, metadata JSON, sections JSON)``, comparable
with ``==``."""


def content_of(
    kind: str, files: Iterable[FileEntry], metadata: Mapping[str, str], extra: Mapping[str, Any]
) -> Content:
    """The content of a version (or of a push about to be one), as one comparable value: what
    ``push --if-changed`` and ``copy``'s "already there" compare.

    ``metadata`` and ``extra`` compare as the JSON a manifest writes (``written_json``): a
    stored manifest's sections are decoded JSON and a push's are checked JSON copies
    (``shelf.push.check_sections``), so the two compare equal exactly when they are written the
    same, object keys in any order.
    """
    listing = tuple(sorted((f.path, f.size, f.sha256) for f in files))
    return kind, listing, written_json(metadata), written_json(extra)


def content_of_manifest(manifest: Manifest) -> Content:
    """The content of a committed version (see :func:`content_of`)."""
    return content_of(manifest.kind, manifest.files, manifest.metadata, manifest.extra)
