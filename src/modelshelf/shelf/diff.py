"""What changed between two versions: files added, removed, changed and moved, and the sections
(metadata, model, requirements, signature, card, message) line by line. Pure: no I/O.

Files are matched by path; a file whose path is only in ``a`` and whose bytes (sha256) are at a
path only in ``b`` moved. Sections are compared as a stable text: JSON with sorted keys, one key
per line (text as it is for the card and the message), and differ by :mod:`difflib`'s unified
diff, so the same two versions always give the same lines.

Example:
    >>> from modelshelf.manifest import FileEntry, Manifest
    >>> def version(number, *files):
    ...     return Manifest("m", number, "directory", tuple(FileEntry(*f) for f in files),
    ...                     "2026-12-08T00:00:00Z", "ann@box")
    >>> a = version("1.0", ("w.bin", 4, "a" * 64), ("old.txt", 2, "b" * 64))
    >>> b = version("1.1", ("w.bin", 6, "c" * 64), ("new.txt", 2, "b" * 64))
    >>> d = diff_versions(a, b)
    >>> [(c.path, c.size_delta) for c in d.changed], [(m.old_path, m.new_path) for m in d.moved]
    ([('w.bin', 2)], [('old.txt', 'new.txt')])
"""

from __future__ import annotations

import difflib
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from modelshelf.manifest import FileEntry, Manifest

__all__ = [
    "SECTIONS",
    "FileChange",
    "FileMove",
    "FileSide",
    "SectionDiff",
    "VersionDiff",
    "diff_versions",
    "section_texts",
]

SECTIONS = ("metadata", "model", "requirements", "signature", "card", "message")
"""The sections a diff compares, in the order it lists them."""
_OWN_SECTIONS = ("requirements", "signature")  # parts of the model section diffed on their own


@dataclass(frozen=True)
class FileSide:
    """A file only one of the two versions holds."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class FileChange:
    """A path both versions hold, with other bytes."""

    path: str
    size_a: int
    size_b: int
    sha256_a: str
    sha256_b: str

    @property
    def size_delta(self) -> int:
        """``size_b - size_a``: how many bytes the file grew (negative: shrank)."""
        return self.size_b - self.size_a


@dataclass(frozen=True)
class FileMove:
    """The same bytes at a path only ``a`` holds and at a path only ``b`` holds."""

    old_path: str
    new_path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class SectionDiff:
    """One section's unified diff lines (``---``, ``+++``, ``@@`` and the lines); empty when
    the section is the same in both versions."""

    name: str
    lines: list[str]


@dataclass(frozen=True)
class VersionDiff:
    """The difference from version ``a`` to version ``b`` (each ``name:version``).

    Attributes:
        added, removed: files only in ``b``, only in ``a`` (moves left out), by path.
        changed: paths in both with other bytes, by path.
        moved: the same bytes at a new path, by old path.
        unchanged: how many paths both hold with the same bytes.
        size_a, size_b: the versions' total sizes in bytes.
        sections: one :class:`SectionDiff` per name of :data:`SECTIONS`, in that order.
    """

    a: str
    b: str
    added: list[FileSide]
    removed: list[FileSide]
    changed: list[FileChange]
    moved: list[FileMove]
    unchanged: int
    size_a: int
    size_b: int
    sections: list[SectionDiff]

    @property
    def same(self) -> bool:
        """True when no file and no section differs."""
        files = self.added or self.removed or self.changed or self.moved
        return not files and not any(s.lines for s in self.sections)

    def to_json(self) -> dict[str, Any]:
        """The diff as a JSON object (``modelshelf diff --json``, the registry's diff route)."""
        return {
            "a": self.a,
            "b": self.b,
            "added": [f.__dict__ for f in self.added],
            "removed": [f.__dict__ for f in self.removed],
            "changed": [{**c.__dict__, "size_delta": c.size_delta} for c in self.changed],
            "moved": [m.__dict__ for m in self.moved],
            "unchanged": self.unchanged,
            "size_a": self.size_a,
            "size_b": self.size_b,
            "sections": [{"name": s.name, "lines": list(s.lines)} for s in self.sections],
        }


def diff_versions(
    a: Manifest, b: Manifest, card_a: str | None = None, card_b: str | None = None
) -> VersionDiff:
    """What changed from ``a`` to ``b``; ``card_a`` and ``card_b`` are their cards' texts
    (:func:`~modelshelf.shelf.card.read_card`), ``None`` for none."""
    files_a = {f.path: f for f in a.files}
    files_b = {f.path: f for f in b.files}
    changed = [
        FileChange(p, files_a[p].size, files_b[p].size, files_a[p].sha256, files_b[p].sha256)
        for p in sorted(files_a.keys() & files_b.keys())
        if files_a[p].sha256 != files_b[p].sha256
    ]
    unchanged = len(files_a.keys() & files_b.keys()) - len(changed)
    only_a = [files_a[p] for p in sorted(files_a.keys() - files_b.keys())]
    only_b = [files_b[p] for p in sorted(files_b.keys() - files_a.keys())]
    moved, removed, added = _moves(only_a, only_b)
    name_a, name_b = f"{a.name}:{a.version}", f"{b.name}:{b.version}"
    texts_a, texts_b = section_texts(a, card_a), section_texts(b, card_b)
    sections = [
        SectionDiff(name, _unified(texts_a[name], texts_b[name], name_a, name_b, name))
        for name in SECTIONS
    ]
    return VersionDiff(
        name_a, name_b, added, removed, changed, moved, unchanged, a.size, b.size, sections
    )


def _moves(
    only_a: list[FileEntry], only_b: list[FileEntry]
) -> tuple[list[FileMove], list[FileSide], list[FileSide]]:
    """Pair the files only ``a`` holds with those only ``b`` holds by sha256, in path order
    on both sides (so swapping ``a`` and ``b`` pairs the same files); the rest were removed
    and added."""
    new_paths: dict[str, list[FileEntry]] = defaultdict(list)
    for entry in only_b:  # by path already
        new_paths[entry.sha256].append(entry)
    moved, removed = [], []
    paired: set[str] = set()
    for entry in only_a:
        candidates = new_paths.get(entry.sha256)
        if candidates:
            target = candidates.pop(0)
            paired.add(target.path)
            moved.append(FileMove(entry.path, target.path, entry.size, entry.sha256))
        else:
            removed.append(FileSide(entry.path, entry.size, entry.sha256))
    added = [FileSide(e.path, e.size, e.sha256) for e in only_b if e.path not in paired]
    return moved, removed, added


def section_texts(manifest: Manifest, card: str | None) -> dict[str, list[str]]:
    """Each section of :data:`SECTIONS` as the lines a diff compares (none when absent)."""
    model = manifest.extra.get("model")
    own: dict[str, Any] = {}
    if isinstance(model, dict):
        own = {key: model[key] for key in _OWN_SECTIONS if key in model}
        model = {k: v for k, v in model.items() if k not in _OWN_SECTIONS}
    return {
        "metadata": _json_lines(manifest.metadata or None),
        "model": _json_lines(model),
        "requirements": _json_lines(own.get("requirements")),
        "signature": _json_lines(own.get("signature")),
        "card": card.splitlines() if card else [],
        "message": manifest.message.splitlines(),
    }


def _json_lines(value: Any) -> list[str]:
    """A JSON value as stable lines: sorted keys, one per line; ``None`` (absent) as none."""
    if value is None:
        return []
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False).splitlines()


def _unified(a: list[str], b: list[str], name_a: str, name_b: str, section: str) -> list[str]:
    if a == b:
        return []
    return list(
        difflib.unified_diff(a, b, f"{name_a} {section}", f"{name_b} {section}", lineterm="")
    )
