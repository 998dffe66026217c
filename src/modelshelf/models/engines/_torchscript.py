"""What TorchScript from outside may do without trust: plain tensor math, checked before it runs.

TorchScript cannot run Python (torch reads its pickles with a restricted unpickler and its code
has no ``import``), but its code may call any registered torch operator, and some of those reach
the file system, processes or the network (``torch.from_file`` reads any file the process can
read, ``torch.save`` writes one, ``rpc_*`` talk to other hosts). This module owns the rule that
keeps a store from choosing such an operator: without trust, every operator named anywhere in the
archive's compiled code must be in an allowed namespace (:data:`ALLOWED_NAMESPACES`) and not in
:data:`DENIED_OPERATORS`, and no torch custom class (``torch.classes``, C++ code outside this
rule) may appear. With trust, the archive loads as ``torch.jit.load`` loads it.

When the check runs matters: ``torch.jit.load`` itself runs a class's TorchScript
``__setstate__`` while it unpickles ``data.pkl``, and a torch custom class's C++ ``__setstate__``,
so those are refused from the archive's records *before* loading (read with torch's own zip
reader, so both see the same entries). Every other function, method and hook runs only when
called: after loading, every function of the compilation unit the archive was loaded into (the
module's and its submodules' methods and hooks, free functions, TorchScript classes' methods,
called or not) is compiled and every node of its graph, nested blocks included, is checked, before
the module is returned. Compiling runs no operator with side effects (constant propagation skips
them), and no method has run yet.

:data:`DENIED_OPERATORS` is derived from torch's registry by :func:`io_operator_candidates` (a
``str`` argument naming a file, path or address, or an operator name saying I/O) and reviewed;
a test re-derives it from the installed torch, so an upgrade that adds such an operator fails
the suite until it is classified.
"""

from __future__ import annotations

import pickletools
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from modelshelf import trust
from modelshelf.errors import TrustRequiredError

__all__ = [
    "ALLOWED_NAMESPACES",
    "DENIED_OPERATORS",
    "REVIEWED_HARMLESS",
    "check_archive",
    "check_compiled",
    "io_operator_candidates",
    "load_untrusted",
]

ALLOWED_NAMESPACES = frozenset({"aten", "prim"})
"""Operator namespaces TorchScript from a store may call without trust; any other (quantized,
c10d, profiler, a custom ``torch.ops.<x>``) needs trust."""

DENIED_OPERATORS = frozenset(
    {
        "aten::from_file",  # reads any file the process can read (or maps it shared)
        "aten::save",  # writes a file anywhere the process may write
        "prim::rpc_async",  # torch.distributed.rpc: calls on other processes or hosts
        "prim::rpc_remote",
        "prim::rpc_sync",
        "prim::PythonOp",  # runs a Python callable (cannot be serialized; refused anyway)
        "prim::IgnoredPythonOp",
    }
)
"""Operators in the allowed namespaces that reach the file system, processes or the network."""

REVIEWED_HARMLESS = frozenset(
    {
        # Matched by the rule below, reviewed: no file, process or network access.
        "aten::_euclidean_dist",  # a distance between tensors
        "aten::dist",
        "aten::dist_backward",
        "aten::is_distributed",  # a property of a tensor
        "aten::_print",  # writes to the process's own stdout, as prim::Print does
        "prim::Print",
        "aten::warn",  # a Python warning
        "aten::_test_warn_in_autograd",
        "aten::wait",  # waits for a future of torch.jit.fork (threads in this process)
        "prim::awaitable_wait",
    }
)
"""Candidates from :func:`io_operator_candidates` that were reviewed and are allowed."""

# A str argument with one of these names names something outside the process.
_IO_ARGUMENT = re.compile(r"(file|path|dir|url|uri|host|addr|socket|fname)", re.IGNORECASE)
# Words of an operator's name (split at "_" and case changes) that say it reaches outside.
_IO_WORDS = frozenset(
    [
        "file",
        "files",
        "save",
        "load",
        "rpc",
        "socket",
        "open",
        "read",
        "write",
        "exec",
        "system",
        "process",
        "environ",
        "mmap",
        "ipc",
        "shm",
        "shared",
        "fd",
        "pipe",
        "dist",
        "distributed",
        "print",
        "warn",
        "wait",
        "url",
        "path",
        "library",
        "python",
    ]
)
# A torch custom class is named __torch__.torch.classes.<ns>.<Class>; any name holding this
# part is refused, whatever prefix the unpickler or the type parser would accept with it.
_CUSTOM_CLASS = "torch.classes."
_SETSTATE = b"__setstate__"


def io_operator_candidates(schemas: Iterable[Any]) -> set[str]:
    """Operators of :data:`ALLOWED_NAMESPACES` in ``schemas`` (``torch._C._jit_get_all_schemas()``)
    that may do I/O: a ``str`` argument named like a file, path or address, or a name saying I/O.

    Every candidate must be in :data:`DENIED_OPERATORS` or :data:`REVIEWED_HARMLESS`.
    """
    found: set[str] = set()
    for schema in schemas:
        name: str = schema.name
        namespace, _, base = name.partition("::")
        if namespace not in ALLOWED_NAMESPACES:
            continue
        named_io = any(
            "str" in str(arg.type) and _IO_ARGUMENT.search(arg.name) for arg in schema.arguments
        )
        if named_io or _IO_WORDS.intersection(_words(base)):
            found.add(name)
    return found


def _words(name: str) -> list[str]:
    return [w.lower() for w in re.split(r"_+|(?<=[a-z0-9])(?=[A-Z])", name) if w]


def _refuse(path: Path, what: str) -> TrustRequiredError:
    return TrustRequiredError(
        f"{path.name} is TorchScript that {what}, which can reach files, processes or the network;"
        " load it only from a store you trust"
    ).with_fix(", with {trust} or MODELSHELF_TRUST_PICKLE=1")


def check_archive(path: Path, torch: Any) -> None:
    """Refuse, before ``torch.jit.load``, what loading itself would run: a TorchScript
    ``__setstate__`` (in any code record) and a torch custom class (in ``data.pkl`` or
    ``constants.pkl``), whose C++ ``__setstate__`` runs on the archive's state.

    Raises:
        TrustRequiredError: either is present, or a pickle cannot be read to check it.
    """
    reader = torch._C.PyTorchFileReader(str(path))  # the reader torch.jit.load uses
    for record in reader.get_all_records():
        if record.startswith(("data/", "constants/", ".data/")):
            continue  # tensor storages: never compiled
        content = bytes(reader.get_record(record))
        if _SETSTATE in content:
            raise _refuse(path, f"runs __setstate__ while loading ({trust.show(record)})")
        if record in ("data.pkl", "constants.pkl"):
            for qualified in _pickle_globals(path, record, content):
                if _CUSTOM_CLASS in qualified:
                    raise _refuse(path, f"holds a torch custom class {trust.show(qualified)}")


def _pickle_globals(path: Path, record: str, content: bytes) -> Iterator[str]:
    """The ``module.name`` of every GLOBAL in a pickle record, as torch's unpickler joins them
    (or with more dots, never fewer)."""
    try:
        for opcode, arg, _ in pickletools.genops(content):
            if opcode.name == "GLOBAL":
                # pickletools joins module and name with a space, torch with a dot; a module
                # name may hold spaces itself, so every space counts as the join
                yield str(arg).replace(" ", ".")
            elif opcode.name in ("STACK_GLOBAL", "INST", "OBJ"):  # torch never writes these
                raise _refuse(path, f"names a class by {opcode.name} in {record}")
    except ValueError as exc:
        why = trust.show(str(exc))
        raise _refuse(path, f"has a {record} that cannot be checked ({why})") from None


def check_compiled(path: Path, compilation_unit: Any) -> None:
    """Refuse any function of ``compilation_unit`` whose graph calls an operator outside the rule.

    Compiling a function can import more classes into the unit, so this repeats until every
    function there has been checked.

    Raises:
        TrustRequiredError: naming the first operator (or custom class) refused and where.
    """
    checked: set[str] = set()
    while True:
        functions = [f for f in compilation_unit.get_functions() if f.qualified_name not in checked]
        if not functions:
            return
        for function in functions:
            checked.add(function.qualified_name)
            if function.qualified_name.endswith(".__setstate__"):
                # check_archive refuses these: the file changed since, and it has run
                owner = function.qualified_name.rsplit(".", 1)[0]
                raise _refuse(path, f"ran __setstate__ of {trust.show(owner, 120)} while loading")
            for node in _nodes(function.graph.nodes()):
                _check_node(path, function.qualified_name, node)


def _nodes(nodes: Iterable[Any]) -> Iterator[Any]:
    """Every node, with those of nested blocks (if, loop) and subgraph attributes."""
    for node in nodes:
        yield node
        for block in node.blocks():
            yield from _nodes(block.nodes())
        for attribute in node.attributeNames():
            kind = node.kindOf(attribute)
            if kind == "g":
                yield from _nodes(node.g(attribute).nodes())
            elif kind == "gs":
                for graph in node.gs(attribute):
                    yield from _nodes(graph.nodes())


def _check_node(path: Path, where: str, node: Any) -> None:
    kind: str = node.kind()
    namespace = kind.partition("::")[0]
    if namespace not in ALLOWED_NAMESPACES or kind in DENIED_OPERATORS:
        raise _refuse(path, f"calls {trust.show(kind)} (in {trust.show(where, 120)})")
    for value in [*node.inputs(), *node.outputs()]:
        if _CUSTOM_CLASS in value.type().annotation_str:
            custom = value.type().annotation_str
            raise _refuse(
                path,
                f"uses a torch custom class {trust.show(custom)} (in {trust.show(where, 120)})",
            )


def load_untrusted(path: Path, torch: Any) -> Any:
    """``torch.jit.load(path, map_location="cpu")`` for an archive from outside, checked by
    :func:`check_archive` before loading and :func:`check_compiled` before anything runs."""
    check_archive(path, torch)
    unit = torch._C.CompilationUnit()
    # What torch.jit.load does, keeping the compilation unit to inspect it.
    cpp_module = torch._C.import_ir_module(unit, str(path), torch.device("cpu"), {}, False)
    check_compiled(path, unit)
    from torch.jit._recursive import wrap_cpp_module

    return wrap_cpp_module(cpp_module)  # type: ignore[no-untyped-call]
