"""Import by path: the one rule for every ``module:QualName`` that modelshelf imports.

Every path modelshelf imports by comes here (:func:`import_object`), each caller keeping its
own rule as arguments: runner, ``preprocess``/``postprocess`` hook, loader and saved-class paths
a store sent (``from_store=True``: the package rule, public names only); a sink class named by
``export --to`` and a signing function (the user's choice: any installed package); a custom
backend (``--store pkg.mod:Class``, an entry point, ``register_backend``: the user's choice,
found wherever Python finds it, ``installed_only=False``, and possibly re-exported by a package,
``defined_there=False``). A function or class about to be recorded in a manifest is checked by
:func:`recordable_path`, the same rule seen from the writing side.

Two checks, because importing is itself running code:

- **Before the import** (which module may be imported): never the standard library, never a
  module found in the modelshelf cache or through the working-folder ``sys.path`` entry; for a
  path a store sent, only a module of modelshelf, of a package the user allowed
  (``MODELSHELF_ALLOWED_HOOK_PACKAGES`` or the ``allowed`` argument), or of an installed
  distribution that requires modelshelf. A hook must further come from the runner's own
  distribution or an allowed package, and never from modelshelf itself: a modelshelf function
  called with model output (``_clear_way(path)``) is a weapon even though it is "ours".
- **On the object reached**: the qualified name is looked up in the module's own namespace and
  then through classes only (never through a module object, never a dunder name, never a
  descriptor's ``__get__``); the object must be a plain Python function or a class whose
  ``__module__`` and ``__qualname__`` are exactly the ones named, so a name a module merely
  imported (``modelshelf.models.load:os.system``, ``pkg:subprocess.run``) is refused.

Errors are :class:`ImportRefusedError` (a ``ValueError``) with a one-line reason and a
:attr:`~ImportRefusedError.reason` word; the caller knows the store, the asset and the role and
turns it into its own error (in its own words, for a reason its users know: a sink's
``no installed module``, a backend's ``has no backend class``).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import sys
import types
from collections.abc import Collection, Iterable
from pathlib import Path

from modelshelf import constants, trust
from modelshelf.errors import ModelshelfError

__all__ = [
    "ImportRefusedError",
    "allowed_packages",
    "defined_object",
    "import_object",
    "installed",
    "recordable_path",
]

_OURS = "modelshelf"


class ImportRefusedError(ModelshelfError, ValueError):
    """An import path that must not be imported or followed; the message is one line.

    Callers say it again naming the asset (and carry its :attr:`~ModelshelfError.fix`, e.g.
    ``--allow-hook-package PKG`` on the command line, with :meth:`~ModelshelfError.fix_from`).

    Attributes:
        reason: which rule refused: ``syntax`` (not ``module:QualName``, a dunder or, from a
            store, a private name), ``stdlib``, ``not installed`` (missing, in the cache or the
            working folder), ``package`` (a store may not name that package), ``missing`` (no
            such name in the module), ``object`` (a walk through a module or a non-class, the
            wrong kind of object, or one only re-exported there).
    """

    reason: str = "refused"

    def because(self, reason: str) -> ImportRefusedError:
        """This error, with :attr:`reason` set."""
        self.reason = reason
        return self


def allowed_packages(extra: Iterable[str] | None = None) -> frozenset[str]:
    """The packages the user allowed store-named code from: the environment plus ``extra``.

    Raises:
        ImportRefusedError: an entry is not a dotted module name.
    """
    names = [*constants.allowed_hook_packages(), *(extra or ())]
    for name in names:
        if not isinstance(name, str) or not trust.is_dotted_name(name):
            shown = trust.show(name)
            raise ImportRefusedError(
                f"allowed package {shown} is not a dotted module name"
            ).because("syntax")
    return frozenset(names)


def import_object(
    path: object,
    role: str,
    *,
    expect: str,
    from_store: bool,
    allowed: Collection[str] = (),
    runner_module: str | None = None,
    cache_root: Path | None = None,
    installed_only: bool = True,
    defined_there: bool = True,
    kind: type | None = None,
) -> object:
    """The function or class ``path`` names, imported only when every rule above holds.

    Args:
        path: ``package.module:QualName``.
        role: what the path is for (``runner``, ``preprocess``, ``loader``, ...), for messages.
        expect: what the object must be, for messages (``a function``).
        from_store: the path came from a store (a manifest): the package rule applies and
            private names are refused.
        allowed: packages the user allowed (dotted prefixes), see :func:`allowed_packages`.
        runner_module: for a hook, the module of the runner it runs beside; a hook must come
            from the runner's distribution (or an allowed package). ``None``: not a hook.
        cache_root: the modelshelf cache, never a place to import from (default: configured).
        installed_only: refuse a module not found as installed code (absent, in the cache or in
            the working folder). False for a backend the user names: found where Python finds it.
        defined_there: the object must be defined by the module and name given, not re-exported.
        kind: the object must be a subclass of this class (``expect`` says so in words).

    Raises:
        ImportRefusedError: the path breaks a rule; nothing was imported when the module is refused.
        Exception: whatever importing an allowed module raises.
    """
    module_name, qualname = _parse(path, role, from_store)
    shown = trust.show(path)
    top = module_name.split(".")[0]
    if top in sys.stdlib_module_names or top == "builtins":
        # os:system or builtins:eval are installed and callable: never a runner, hook or sink.
        raise ImportRefusedError(
            f"{role} {shown} is in Python's standard library; it must come from the package"
            f" that provides {'the model' if kind is None else expect}"
        ).because("stdlib")
    # Only the installed-code rule needs the cache's folder (a backend's path never reads it).
    cache = (cache_root or constants.cache_dir()) if installed_only else None
    # find_spec of a dotted name imports its parents: the top level is found (which imports
    # nothing), then the package rule decides, and only then are the parents looked at.
    for name in (top, module_name):
        where = _not_installed(name, cache) if cache is not None else None
        if where is not None:
            raise ImportRefusedError(
                f"{role} {shown} is not in an installed module{where}"
            ).because("not installed")
        if from_store and name == top:
            _check_package(module_name, role, shown, allowed, runner_module)
    module = importlib.import_module(module_name)
    target = defined_object(
        module, module_name, qualname, role, shown, expect, defined_there=defined_there
    )
    if kind is not None and not (isinstance(target, type) and issubclass(target, kind)):
        raise ImportRefusedError(f"{role} {shown} is not {expect}").because("object")
    return target


def recordable_path(target: object, role: str, expect: str) -> str:
    """``module:QualName`` of ``target``, a function or class about to be recorded for a store,
    checked by the rule loading applies to a store-named path (``from_store=True``): a valid
    path, no dunder nor private name, defined there by that name, and importing back to
    ``target`` itself. The module is the one already imported when there is one.

    Raises:
        ImportRefusedError: the path would be refused on loading, or names another object.
    """
    module_name = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", None)
    path = f"{module_name}:{qualname}"
    module_name, qualname = _parse(path, role, from_store=True)
    module = sys.modules.get(module_name) or importlib.import_module(module_name)
    found = defined_object(module, module_name, qualname, role, path, expect)
    if found is not target:
        raise ImportRefusedError(
            f"{role} {path} does not import back to the object given; define it at the top"
            " level of its module"
        ).because("object")
    return path


def defined_object(
    module: types.ModuleType,
    module_name: str,
    qualname: str,
    role: str,
    shown: str,
    expect: str,
    *,
    defined_there: bool = True,
) -> object:
    """The function or class ``qualname`` defined in ``module``, never one it re-exports
    (unless not ``defined_there``: then one it re-exports too).

    Raises:
        ImportRefusedError: the name is missing, walks through something that is not a class, or
            reaches an object that is not a plain function or class defined there by that name.
    """
    target: object = module
    parts = qualname.split(".")
    for index, part in enumerate(parts):
        if index and not isinstance(target, type):
            raise ImportRefusedError(
                f"{role} {shown} looks up {part!r} inside {'.'.join(parts[:index])!r}, which is"
                f" not a class; name {expect} where it is defined"
            ).because("object")
        # The namespace itself, never getattr: no module __getattr__, property or descriptor
        # code runs while a store-named path is followed.
        space = vars(target) if index == 0 else _class_namespace(target, part)
        if part not in space:
            missing = f"{module_name} has no {qualname}"
            raise ImportRefusedError(f"{role} {shown}: {missing}; check the name").because(
                "missing"
            )
        target = space[part]
        if isinstance(target, staticmethod):
            target = target.__func__
        if isinstance(target, types.ModuleType):
            raise ImportRefusedError(
                f"{role} {shown} reaches the module {target.__name__!r} through {module_name};"
                f" name {expect} by the module that defines it"
            ).because("object")
    if not isinstance(target, types.FunctionType | type):
        raise ImportRefusedError(f"{role} {shown} is not {expect}").because("object")
    defined_in = getattr(target, "__module__", None)
    defined_as = getattr(target, "__qualname__", None)
    if defined_there and (defined_in != module_name or defined_as != qualname):
        raise ImportRefusedError(
            f"{role} {shown} is {trust.show(f'{defined_in}:{defined_as}')}, only re-exported"
            f" by {module_name}; name it by the module that defines it"
        ).because("object")
    return target


def _class_namespace(cls: object, part: str) -> dict[str, object]:
    """``{part: value}`` as ``inspect.getattr_static`` finds it on ``cls`` (MRO, no code run)."""
    try:
        return {part: inspect.getattr_static(cls, part)}
    except AttributeError:
        return {}


def _parse(path: object, role: str, from_store: bool) -> tuple[str, str]:
    try:
        module_name, qualname = trust.check_import_path(path)
    except ValueError as exc:
        raise ImportRefusedError(f"{role} is refused: {exc}").because("syntax") from None
    shown = trust.show(path)
    for part in [*module_name.split("."), *qualname.split(".")]:
        if part.startswith("__"):
            raise ImportRefusedError(
                f"{role} {shown} names the dunder {part!r}; name a function or class"
            ).because("syntax")
    if from_store and any(part.startswith("_") for part in qualname.split(".")):
        raise ImportRefusedError(
            f"{role} {shown} names a private name; a store may only name public functions and"
            " classes"
        ).because("syntax")
    return module_name, qualname


# The next step of a package refused for want of being allowed (``package`` is its name).
_ALLOW = (
    "; if you trust {package!r}, allow it with MODELSHELF_ALLOWED_HOOK_PACKAGES={package}"
    " or {allowed_hook_packages}"
)


def _check_package(
    module_name: str,
    role: str,
    shown: str,
    allowed: Collection[str],
    runner_module: str | None,
) -> None:
    """Which module a store may make us import, decided before the import runs any of it."""
    top = module_name.split(".")[0]
    if _allowed(module_name, allowed) and (runner_module is None or top != _OURS):
        return
    if runner_module is None:
        if top == _OURS or any(_requires_us(d) for d in _distributions(top)):
            return
        refused = ImportRefusedError(
            f"{role} {shown} is in {top!r}, which is neither modelshelf, a package that requires"
            " modelshelf, nor allowed"
        )
        raise refused.because("package").with_fix(_ALLOW, package=top)
    if top == _OURS:
        # modelshelf's own functions act on paths, caches and stores: none is a hook.
        raise ImportRefusedError(
            f"{role} {shown} is a modelshelf internal; it must come from the package that"
            " provides the model"
        ).because("package")
    runner_dists = _distributions(runner_module.split(".")[0])
    if runner_dists and runner_dists & _distributions(top):
        return
    raise (
        ImportRefusedError(
            f"{role} {shown} is not in the runner's distribution nor in an allowed package"
        )
        .because("package")
        .with_fix(_ALLOW, package=top)
    )


def _allowed(module_name: str, allowed: Collection[str]) -> bool:
    return any(module_name == p or module_name.startswith(p + ".") for p in allowed)


def _distributions(top: str) -> frozenset[str]:
    """The installed distributions that provide the top-level package ``top``."""
    from importlib.metadata import packages_distributions

    if top == _OURS:
        return frozenset({_OURS})  # an editable install lists no package files
    found = packages_distributions().get(top)
    return frozenset(found) if found else _editable_distributions(top)


def _editable_distributions(top: str) -> frozenset[str]:
    """The distributions whose ``.pth`` file puts the folder holding ``top`` on ``sys.path``.

    An editable install (``pip install -e .``) by a backend such as hatchling records only a
    ``.pth`` file naming the project's source folder, so ``packages_distributions`` cannot name
    the project of a runner being developed. The folder the ``.pth`` names is what the
    distribution provides, but only the package named like the distribution itself is credited
    (``my-project`` provides ``my_project``): a package beside it (``tests/`` next to ``src/``)
    is not its, and neither is one a ``pull -o .`` dropped into that source folder. Any other
    package of the project is allowed by name (``MODELSHELF_ALLOWED_HOOK_PACKAGES``).
    """
    from importlib.metadata import distributions

    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return frozenset()
    if spec is None:
        return frozenset()
    if spec.submodule_search_locations:
        location = next(iter(spec.submodule_search_locations), None)
    else:
        location = spec.origin
    if not location or location in ("built-in", "frozen"):
        return frozenset()
    holder = Path(location).resolve().parent
    names = set()
    for dist in distributions():
        for file in dist.files or ():
            if file.suffix != ".pth":
                continue
            try:
                lines = Path(str(file.locate())).read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                continue
            entries = [line.strip() for line in lines if line.strip()]
            paths = [e for e in entries if not e.startswith(("#", "import ", "import\t"))]
            name = dist.metadata["Name"]
            if not isinstance(name, str) or _as_package(name) != top.lower():
                continue
            if any(Path(entry).resolve() == holder for entry in paths):
                names.add(name)
    return frozenset(names)


def _as_package(distribution: str) -> str:
    """The import name a distribution name spells: ``My-Project.x`` is ``my_project_x``."""
    return re.sub(r"[-_.]+", "_", distribution).lower()


def _requires_us(dist: str) -> bool:
    """True if the distribution ``dist`` requires modelshelf outside any extra."""
    from importlib.metadata import PackageNotFoundError, requires

    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        found = requires(dist) or []
    except PackageNotFoundError:
        return False
    for line in found:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if canonicalize_name(req.name) != _OURS:
            continue
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            return True
    return False


def installed(module_name: str, cache: Path) -> bool:
    """True when every package on the way to ``module_name`` is found on ``sys.path`` as it is,
    none lies in the modelshelf cache, and none is found through the implicit working-folder
    entry (``''``, as under ``python -c``, a REPL or a notebook): files pulled with
    ``pull -o .`` land there, and they are store content, not installed code."""
    return _not_installed(module_name, cache) is None


def _not_installed(module_name: str, cache: Path) -> str | None:
    """``None`` when :func:`installed`; else the rest of a refusal: why, and how to fix it."""
    cache_root = cache.expanduser().resolve()
    parts = module_name.split(".")
    top = parts[0]
    for depth in range(1, len(parts) + 1):
        try:
            found = importlib.util.find_spec(".".join(parts[:depth]))
        except (ImportError, ValueError):
            found = None
        if found is None:
            return (
                "; install the package that provides it (modelshelf never imports code from the"
                " store, the cache or the working folder)"
            )
        for location in [found.origin, *(found.submodule_search_locations or [])]:
            if not location or location in ("built-in", "frozen"):
                continue
            where = Path(location).resolve()
            if where.is_relative_to(cache_root):
                return (
                    f": {trust.escape_controls(str(where))} lies in the modelshelf cache, which"
                    " holds store content, never code to import; install the package that"
                    " provides it"
                )
            base = _via_working_folder(where, top)
            if base is not None:
                return _in_working_folder(where, base)
    return None


def _in_working_folder(location: Path, base: Path) -> str:
    """How to make a module found in the working folder importable. From that folder it is
    always found there first (``''`` or its absolute path leads ``sys.path``), installed or
    not: the code moves into a folder of its own (a src layout) on the path, or the command
    runs from another folder with the working folder on ``PYTHONPATH``."""
    project = any((base / name).is_file() for name in ("pyproject.toml", "setup.py", "setup.cfg"))
    here = "run `pip install -e .`" if project else "set PYTHONPATH=src"
    # Local paths, but a pulled file's name is the store's: escaped, never cut (to be copied).
    return (
        f": {trust.escape_controls(str(location))} is in the working folder, which modelshelf"
        " never imports from (`modelshelf pull -o .` puts store files there); if it is your code,"
        " move it"
        f" into src/ and {here}, or run from another folder with"
        f" PYTHONPATH={trust.escape_controls(str(base))}"
    )


def _via_working_folder(location: Path, top: str) -> Path | None:
    """The working folder, if the ``sys.path`` entry that holds ``top`` at ``location`` is it,
    however it is spelt: ``''`` (``python -c``, a REPL, a notebook), ``'.'``, or the absolute
    path that ``python -m`` and ``python script.py`` (run from that folder) put first."""
    cwd = Path.cwd().resolve()
    for entry in sys.path:
        base = (Path(entry) if entry else cwd).resolve()
        if not location.is_relative_to(base) or location == base:
            continue
        if location.relative_to(base).parts[0].split(".")[0] == top:
            return base if entry in ("", ".") or base == cwd else None
    return None
