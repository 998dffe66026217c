"""The manifest: the JSON record of one version, and the commit point of a push.

A version exists if and only if its manifest exists. The manifest lists every file with its size
and sha256, so a pull can verify each byte it receives, and records who pushed what, when, from
where. Pure data, no I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from modelshelf.errors import InvalidManifestError

__all__ = ["FORMAT_VERSION", "FileEntry", "Manifest", "check_relative_path"]

FORMAT_VERSION = 1
_SHA256 = re.compile(r"[0-9a-f]{64}")
AssetKind = Literal["file", "directory"]


def check_relative_path(path: str) -> str:
    """Return ``path`` if it is a safe relative POSIX path, else raise ``ValueError``.

    Paths come from manifests in a store that may have been written by anyone, so a path that
    could escape the folder it is placed in (``..``, absolute, backslashes) is refused.
    """
    if not path or path.startswith("/") or "\\" in path or "\x00" in path:
        raise ValueError(f"unsafe path {path!r}")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise ValueError(f"unsafe path {path!r}")
    return path


def _check_no_conflicts(files: list[FileEntry]) -> None:
    """Refuse a path given twice, or a file that is also a folder of another path."""
    paths = {f.path for f in files}
    if len(paths) != len(files):
        raise ValueError("a path is listed twice")
    for path in paths:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            if "/".join(parts[:depth]) in paths:
                raise ValueError(f"{'/'.join(parts[:depth])!r} is both a file and a folder")


@dataclass(frozen=True)
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
        return json.dumps(self.to_dict(), indent=2, sort_keys=False).encode() + b"\n"

    @classmethod
    def from_json(cls, raw: bytes | str, where: str = "manifest") -> Manifest:
        """Parse and validate a manifest.

        Raises:
            InvalidManifestError: not JSON, or a field is missing or malformed.
        """
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidManifestError(f"{where} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidManifestError(f"{where} is not a JSON object")
        try:
            return cls._from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidManifestError(f"{where} is malformed: {exc!r}") from exc

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> Manifest:
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(
                f"format {data.get('format')!r} is not {FORMAT_VERSION}; upgrade modelshelf"
            )
        files = []
        for item in data["files"]:
            sha = str(item["sha256"])
            if not _SHA256.fullmatch(sha):
                raise ValueError(f"bad sha256 {sha!r}")
            size = item["size"]
            if type(size) is not int or size < 0:
                raise ValueError(f"bad size {size!r}")
            files.append(FileEntry(check_relative_path(str(item["path"])), size, sha))
        _check_no_conflicts(files)
        kind = data["kind"]
        if kind not in ("file", "directory"):
            raise ValueError(f"bad kind {kind!r}")
        known = {
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
        return cls(
            name=str(data["name"]),
            version=str(data["version"]),
            kind=kind,
            files=tuple(sorted(files, key=lambda f: f.path)),
            created=str(data["created"]),
            author=str(data["author"]),
            message=str(data.get("message", "")),
            source=dict(data.get("source") or {}),
            metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
            extra={k: v for k, v in data.items() if k not in known},
        )
