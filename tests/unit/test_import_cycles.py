"""No import circles between the modules of modelshelf.

The graph is grimp's (what import-linter checks), with every import counted: at module level,
under ``if TYPE_CHECKING:``, and inside functions. A circle of imports that all run when a module
loads fails outright. Circles that close only through a type-checking or function-level import are
allowed only when listed in ``KNOWN`` below with their reason; the list must match exactly, so a
circle that goes must leave it too.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import grimp

import modelshelf

PACKAGE = Path(modelshelf.__file__).resolve().parent  # the tree under test (src/ or an install)

# Each known circle: its modules, and why it is there (ideally none).
KNOWN: dict[frozenset[str], str] = {
    frozenset({"modelshelf.cli", "modelshelf.cli.main"}): (
        "the console entry point modelshelf.cli.run loads cli.main inside the call (so that Ctrl-C"
        " while the CLI loads is answered); cli.main uses the package's interrupted_by_ctrl_c, and"
        " its run() (the entry point of installs made before) hands over to cli.run. A module"
        " importing its own package adds no load order: the package is loaded first anyway"
    ),
}

MODULE, TYPING, FUNCTION = "module", "typing", "function"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


@cache
def _import_kinds(path: Path) -> dict[int, str]:
    """Line of each import statement in ``path`` -> where it runs: MODULE, TYPING or FUNCTION."""
    kinds: dict[int, str] = {}

    def visit(node: ast.AST, kind: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                for line in range(child.lineno, (child.end_lineno or child.lineno) + 1):
                    kinds[line] = kind
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, FUNCTION)
            elif isinstance(child, ast.If) and _is_type_checking(child.test) and kind == MODULE:
                for statement in child.body:
                    visit(ast.Module(body=[statement], type_ignores=[]), TYPING)
                for statement in child.orelse:
                    visit(ast.Module(body=[statement], type_ignores=[]), MODULE)
            else:
                visit(child, kind)

    visit(ast.parse(path.read_text(encoding="utf-8")), MODULE)
    return kinds


@cache
def _graph() -> tuple[grimp.ImportGraph, dict[tuple[str, str], set[str]]]:
    """The package's import graph, and each import in it -> the kinds of its statements."""
    graph = grimp.build_graph("modelshelf", cache_dir=None)
    return graph, _edges(graph)


def _file_of(module: str) -> Path:
    path = PACKAGE.parent.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _edges(graph: grimp.ImportGraph) -> dict[tuple[str, str], set[str]]:
    """Every import between two modules of the package -> the kinds of its statements."""
    edges: dict[tuple[str, str], set[str]] = {}
    for importer in graph.modules:
        kinds = _import_kinds(_file_of(importer))
        for imported in graph.find_modules_directly_imported_by(importer):
            details = graph.get_import_details(importer=importer, imported=imported)
            edges[importer, imported] = {kinds.get(d["line_number"], MODULE) for d in details}
    return edges


def _circles(modules: set[str], edges: set[tuple[str, str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan, iteratively)."""
    following: dict[str, list[str]] = {m: [] for m in modules}
    for importer, imported in sorted(edges):
        following[importer].append(imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(modules):
        if start in index:
            continue
        work = [(start, iter(following[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(frozenset(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(following[child])))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def _describe(circle: frozenset[str], edges: dict[tuple[str, str], set[str]]) -> str:
    inside = sorted((a, b, sorted(k)) for (a, b), k in edges.items() if a in circle and b in circle)
    return "\n".join(f"  {a} -> {b} ({', '.join(k)})" for a, b, k in inside)


def test_no_circle_of_imports_that_run_when_modules_load() -> None:
    graph, edges = _graph()
    loading = {edge for edge, kinds in edges.items() if MODULE in kinds}
    circles = _circles(set(graph.modules), loading)
    assert not circles, "\n".join(_describe(c, edges) for c in circles)


def test_every_other_circle_is_known_with_its_reason() -> None:
    graph, edges = _graph()
    circles = set(_circles(set(graph.modules), set(edges)))
    new = [_describe(c, edges) for c in circles - KNOWN.keys()]
    assert not new, "circles not in KNOWN:\n" + "\n\n".join(new)
    assert not KNOWN.keys() - circles, f"gone, remove from KNOWN: {KNOWN.keys() - circles}"


def test_the_import_kinds_are_told_apart(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "import a\n"
        "if TYPE_CHECKING:\n    import b\nelse:\n    import c\n"
        "def f():\n    import d\n"
        "class K:\n    import e\n"
        "    def g(self):\n        from f import (\n            x,\n        )\n"
    )
    kinds = _import_kinds(source)
    assert [kinds[n] for n in (1, 3, 5, 7, 9, 11, 12, 13)] == [
        MODULE, TYPING, MODULE, FUNCTION, MODULE, FUNCTION, FUNCTION, FUNCTION
    ]  # fmt: skip


def test_a_circle_is_found_and_a_chain_is_not() -> None:
    edges = {("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("d", "e"), ("f", "f")}
    assert _circles({"a", "b", "c", "d", "e", "f"}, edges) == [frozenset({"a", "b", "c"})]
