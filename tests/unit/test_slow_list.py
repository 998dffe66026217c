"""tests/slow_tests.txt names real test functions: a renamed or removed test leaves the list."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import slow_test_functions

ROOT = Path(__file__).resolve().parents[2]


def _defined_names(path: Path) -> set[str]:
    """The test functions and test classes defined in ``path``."""
    kinds = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, kinds)}


def test_every_listed_slow_test_exists() -> None:
    listed = slow_test_functions()
    assert len(listed) > 50  # the list was read
    missing = []
    for node in sorted(listed):
        module, *names = node.split("::")  # path::function or path::Class::method
        path = ROOT / module
        if not names or not path.is_file() or not set(names) <= _defined_names(path):
            missing.append(node)
    assert missing == [], "rerun make slow-list"
