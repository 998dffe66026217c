"""What the asset and version pages show, read live from the store (and the catalog's caches):
pure shaping of manifests and records into rows, no HTML."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modelshelf import trust
from modelshelf.errors import ModelshelfError, ObjectNotFoundError
from modelshelf.manifest import FileEntry, Manifest
from modelshelf.registry.pages.catalog import AssetSummary, Catalog
from modelshelf.registry.pages.summaries import read_part
from modelshelf.store.aliases import AliasRecord
from modelshelf.store.notes import Notes
from modelshelf.transfer.download import run_concurrently

__all__ = ["AssetView", "Folder", "file_tree", "model_rows", "read_asset_view", "source_rows"]

MAX_TREE_FILES = 5000
HISTORY_SHOWN = 200
"""The most alias moves an asset's page shows (and reads per alias): the audit log has all."""
HISTORY_ALIASES = 50
"""The most aliases whose moves an asset's page reads (current ones first, then removed)."""
"""The most files the version page lists; the manifest (its JSON twin) lists them all."""
_LINE = 300


@dataclass
class AssetView:
    """An asset as its page shows it, read live."""

    summary: AssetSummary
    notes: Notes
    history: list[AliasRecord]
    card_text: str | None
    card_version: str
    warnings: list[str] = field(default_factory=list)
    """One line per part that could not be read (what and why, the key and the fix)."""
    notes_readable: bool = True
    history_cut: bool = False
    """True if older alias moves (or aliases) were left out: the audit log has them."""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.summary.name,
            "versions": [
                {**v.to_json(), "aliases": self.summary.aliases_of(v.version)}
                for v in self.summary.versions
            ],
            "aliases": dict(sorted(self.summary.aliases.items())),
            "labels": dict(sorted(self.summary.labels.items())),
            "description": self.summary.description,
            "notes_seq": self.notes.seq,
            "alias_history": [dict(r.__dict__) for r in self.history],
            "alias_history_cut": self.history_cut,
            "warnings": self.warnings,
        }


def read_asset_view(
    catalog: Catalog, name: str, describe: Callable[[ModelshelfError], str] = str
) -> AssetView:
    """Read ``name`` live: its versions, aliases and their history, notes and card.

    A part that cannot be read (a damaged or forged record) is left empty and becomes a warning
    (``describe`` turns its error into the text shown); the rest still shows.

    Raises:
        ObjectNotFoundError: the asset has no live version.
    """
    store = catalog.store
    summary = catalog.read_asset(name)
    if summary is None:
        raise ObjectNotFoundError(
            f"{name} has no version in this registry; search the assets for its name"
        )
    problems = list(summary.problems)

    def history_of(alias: str) -> list[AliasRecord]:
        return read_part(
            problems,
            f"history of @{alias}",
            lambda: store.alias_history(name, alias, newest=HISTORY_SHOWN),
            [],
        )

    # Removed aliases too (who removed one, and where it pointed, is history worth showing),
    # bounded: a page reads at most HISTORY_ALIASES aliases' newest HISTORY_SHOWN moves each,
    # and the audit log holds them all.
    names: list[str] = read_part(problems, "alias names", lambda: store.alias_names(name), [])
    removed = [a for a in names if a not in summary.aliases]
    shown = [*sorted(summary.aliases), *removed][:HISTORY_ALIASES]
    records = run_concurrently(history_of, shown, 8)
    every = sorted((r for rs in records for r in rs), key=lambda r: r.when, reverse=True)
    history = every[:HISTORY_SHOWN]
    history_cut = len(every) > len(history) or len(names) > len(shown)
    notes = read_part(problems, "notes", lambda: store.read_notes(name), None)
    newest = summary.versions[0].version if summary.versions else ""
    card = None
    if newest:
        manifest = read_part(
            problems, "card", lambda: catalog.manifest(name, newest, known_live=True), None
        )  # just listed
        card = catalog.card(manifest) if manifest is not None else None
    warnings = list(dict.fromkeys(
        f"The {part} of {name} could not be read, so the page shows it empty: {describe(exc)}"
        for part, exc in problems
    ))  # fmt: skip
    return AssetView(
        summary, notes or Notes(), history, card, newest, warnings, notes is not None,
        history_cut,
    )  # fmt: skip


@dataclass
class FileRow:
    name: str
    size: int
    sha256: str


@dataclass
class Folder:
    """A folder of the version's file tree: its files, its sub-folders, their count and size."""

    name: str
    files: list[FileRow] = field(default_factory=list)
    folders: list[Folder] = field(default_factory=list)
    count: int = 0
    size: int = 0
    open: bool = False


def file_tree(files: tuple[FileEntry, ...], limit: int = MAX_TREE_FILES) -> tuple[Folder, int]:
    """The first ``limit`` files (sorted by path) as a tree of folders; and how many are in it.

    Folders holding few files start open (``details open``), so a small version shows whole.
    """
    root = Folder("")
    index: dict[str, Folder] = {"": root}
    shown = files[:limit]
    for entry in shown:
        parts = entry.path.split("/")
        parent = root
        path = ""
        for part in parts[:-1]:
            path = f"{path}/{part}" if path else part
            folder = index.get(path)
            if folder is None:
                folder = index[path] = Folder(part)
                parent.folders.append(folder)
            parent = folder
        parent.files.append(FileRow(parts[-1], entry.size, entry.sha256))
    _totals(root)
    for folder in index.values():
        folder.open = folder.count <= 20
    return root, len(shown)


def _totals(folder: Folder) -> None:
    folder.count = len(folder.files)
    folder.size = sum(f.size for f in folder.files)
    for sub in folder.folders:
        _totals(sub)
        folder.count += sub.count
        folder.size += sub.size


def _text(value: object) -> str:
    """Store text as one bounded line (the template escapes it); anything else as JSON."""
    if isinstance(value, str):
        return value if len(value) <= _LINE else value[:_LINE] + "…"
    shown = json.dumps(value, sort_keys=True, default=str)
    return shown if len(shown) <= _LINE else shown[:_LINE] + "…"


def model_rows(manifest: Manifest) -> list[tuple[str, str]]:
    """The model section as (label, value) rows: engine, runner, saved format, hooks,
    requirements, python, signature (parsed as ``load_model`` parses it; refused ones say so)."""
    section = manifest.extra.get("model")
    if section is None:
        return []
    if not isinstance(section, dict):
        return [("model", "refused: the model section is not an object")]
    rows = [
        ("engine", _text(section.get("engine", ""))),
        ("runner", _text(section.get("runner", ""))),
    ]
    for key in ("saved_as", "saved_class", "preprocess", "postprocess", "python"):
        if section.get(key) is not None:
            rows.append((key.replace("_", " "), _text(section[key])))
    requirements = section.get("requirements")
    if isinstance(requirements, list) and requirements:
        rows.append(("requirements", ", ".join(_text(r) for r in requirements)))
    from modelshelf.models.signature import from_section

    try:
        signature = from_section(section.get("signature"))
    except ValueError as exc:
        return [*rows, ("signature", f"refused: {trust.escape_controls(str(exc))[:_LINE]}")]
    if signature is None:
        return [*rows, ("signature", "none recorded")]
    rows += [("input", str(t)) for t in signature.inputs]
    rows += [("output", str(t)) for t in signature.outputs]
    return rows


def source_rows(manifest: Manifest) -> list[tuple[str, str]]:
    """Where the version came from: who and which host pushed, the git commit, remote and
    whether the tree was dirty, the pushed path."""
    user, _, host = manifest.author.rpartition("@")
    rows = [("pushed by", user or manifest.author), ("host", host or "unknown")]
    for key in ("git_commit", "git_remote", "git_dirty", "path", "runner"):
        if key in manifest.source:
            value = manifest.source[key]
            if key == "git_dirty":
                shown = {True: "yes (uncommitted changes)", False: "no"}.get(value, _text(value))
            else:
                shown = _text(value)
            rows.append((key.replace("_", " "), shown))
    return rows
