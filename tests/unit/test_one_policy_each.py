"""Each repeated policy has one implementation that every caller uses (issue 22): these scans of
the source keep a second copy from coming back."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "modelshelf"


def _callers(pattern: str) -> set[str]:
    found = set()
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if re.search(pattern, text):
            found.add(path.relative_to(SRC).as_posix())
    return found


def test_only_the_import_rule_imports_a_module_by_a_path_it_was_given() -> None:
    # __init__ (its lazy names) and cli/main (its command table) import modules they name
    # themselves; every path that comes from a user, a store or an entry point goes through
    # _imports.import_object.
    assert _callers(r"import_module\(") == {"_imports.py", "__init__.py", "cli/main.py"}


def test_only_commit_reusing_commits_a_manifest() -> None:
    assert _callers(r"\.commit_manifest\(") == {"store/commit.py"}


def test_place_file_writes_only_into_the_cache() -> None:
    # A folder the user named is written through transfer/user_folder.UserFolder instead.
    assert _callers(r"\bplace_file\(") == {"cache/cache.py", "cache/admin.py"}


def test_every_writer_into_a_users_folder_uses_the_user_folder_policy() -> None:
    # pull -o (shelf/export.py), export --to DIR (downloaders/folder.py), mirror (mirror/run.py).
    writers = _callers(r"\bUserFolder\(")
    assert writers == {"shelf/export.py", "downloaders/folder.py", "mirror/run.py"}
