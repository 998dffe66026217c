"""No import circles inside ``modelshelf.serve`` (issue 22).

Every ``import`` and ``from ... import`` of a serve module counts, wherever it stands: at the top,
inside a function (a deferred import is still a circle, only a hidden one) or under
``TYPE_CHECKING``. ``from modelshelf.serve import _oip`` is an import of ``_oip``; importing a
submodule is not counted as importing its package's ``__init__``. Cycles across packages are the
import-linter contracts' business; this test is the serve package's own.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import modelshelf.serve

Graph = dict[str, dict[str, int]]  # importer -> {imported: line of the first such import}


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Every module of the package under ``root``, by dotted name (``__init__`` as the package)."""
    names: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join([package, *parts])] = path
    return names


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join([*base, node.module] if node.module else base)


def import_graph(root: Path, package: str) -> Graph:
    """Who imports whom among the package's modules, from their source (nothing is imported)."""
    names = module_names(root, package)
    graph: Graph = {name: {} for name in names}
    for name, path in names.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = _absolute(name, path.name == "__init__.py", node)
                for alias in node.names:
                    sub = f"{source}.{alias.name}"
                    targets.append(sub if sub in names else source)
            for target in targets:
                if target in names and target != name:
                    graph[name].setdefault(target, node.lineno)
    return graph


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _describe(graph: Graph, component: list[str]) -> str:
    members = set(component)
    return "; ".join(
        f"{a} imports {b} (line {line})"
        for a in component
        for b, line in sorted(graph[a].items())
        if b in members
    )


def test_no_module_of_serve_imports_itself_back() -> None:
    graph = import_graph(Path(modelshelf.serve.__file__).parent, "modelshelf.serve")
    assert len(graph) > 10  # the walk found the package
    found = cycles(graph)
    assert not found, "import circles in modelshelf.serve: " + " | ".join(
        _describe(graph, component) for component in found
    )


def test_a_planted_circle_is_found_even_through_a_function_level_import(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from pkg.a import f\n")
    (pkg / "a.py").write_text("from pkg import b\n\ndef f():\n    return b\n")
    (pkg / "b.py").write_text("def g():\n    from .c import h\n    return h\n")
    (pkg / "c.py").write_text("import pkg.a\n\ndef h():\n    return 1\n")
    (pkg / "d.py").write_text("from pkg.a import f\nfrom . import c\n")
    graph = import_graph(pkg, "pkg")
    assert graph["pkg.b"] == {"pkg.c": 2}  # inside the function, resolved from ``.``
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]  # __init__ and d import, none back
    (pkg / "b.py").write_text("def g():\n    return 1\n")
    assert cycles(import_graph(pkg, "pkg")) == []
