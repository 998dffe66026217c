"""What the engine helpers share: function paths, trust checks, the one-file layout, register.

No engine library is imported here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from modelshelf import _imports, trust
from modelshelf.errors import InvalidInputError, TrustRequiredError, UntrustedStoreDataError
from modelshelf.manifest import Manifest
from modelshelf.models.register import register_model
from modelshelf.models.runner import Runner

__all__ = [
    "engine_requirement",
    "function_path",
    "identity",
    "model_file",
    "register_engine_model",
    "require_trust",
]


def identity(data: Any) -> Any:
    """The default pre/postprocess function: gives ``data`` back as it is."""
    return data


def function_path(function: Callable[[Any], Any], role: str) -> str:
    """``module:qualname`` of a module-level function that imports back to itself.

    Raises:
        InvalidInputError: ``function`` is a lambda, a local function, lives in ``__main__``, or
            its path does not import back to the same object.
    """
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", None)
    if not callable(function) or not isinstance(module, str) or not isinstance(qualname, str):
        raise InvalidInputError(f"{role} must be a module-level function, not {function!r}")
    if module == "__main__" or "<" in qualname:
        kind = "a lambda" if "<lambda>" in qualname else "defined inside a function"
        if module == "__main__":
            kind = "defined in __main__"
        raise InvalidInputError(
            f"{role} {qualname.replace('<locals>.', '')} is {kind}, so load_model could not"
            " import it again; define it at the top level of an importable module (e.g."
            " my_project/processing.py) and pass it from there"
        )
    path = f"{module}:{qualname}"
    if any(part.startswith("_") for part in qualname.split(".")):
        raise InvalidInputError(
            f"{role} {path} has a private name, which load_model refuses from a store; give"
            " the function a public name"
        )
    try:
        # The rule load_model applies, so that nothing is recorded that loading would refuse.
        return _imports.recordable_path(function, role, "a function")
    except _imports.ImportRefusedError as exc:
        raise InvalidInputError(f"{role} cannot be recorded: {exc}") from None


def require_trust(trusted: bool, what: str, path: Path) -> None:
    """Raise :class:`TrustRequiredError` unless ``trusted``: ``what`` runs code when loaded."""
    if not trusted:
        raise TrustRequiredError(
            f"{path.name} is {what}, a format that runs code when it is loaded, so it could do"
            " anything a program can; load it only from a store you trust"
        ).with_fix(", with {trust} or MODELSHELF_TRUST_PICKLE=1")


def model_file(props: dict[str, str] | None, artifacts: dict[str, Path]) -> tuple[Path, str]:
    """The saved file (``props["file"]`` under ``artifacts["model"]``) and its format.

    Raises:
        UntrustedStoreDataError: the props do not name a plain file name and a format.
    """
    props = props or {}
    name, fmt = props.get("file"), props.get("format")
    if not isinstance(name, str) or not isinstance(fmt, str):
        raise UntrustedStoreDataError("the model props do not name a file and a format")
    try:
        trust.check_relative_path(name)
    except ValueError as exc:
        raise UntrustedStoreDataError(f"the model file name is refused: {exc}") from None
    if "/" in name:
        raise UntrustedStoreDataError(f"the model file {trust.show(name)} is not a plain name")
    return trust.inside(artifacts["model"], name), fmt


def engine_requirement(distribution: str) -> str:
    """``dist==installed version`` (without a local label such as ``+cpu``), or the bare name
    when it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.version import InvalidVersion, Version

    try:
        found = version(distribution)
    except PackageNotFoundError:
        return distribution
    try:
        return f"{distribution}=={Version(found).public}"
    except InvalidVersion:
        return distribution


def register_engine_model(
    name: str,
    runner: type[Runner],
    model_instance: Any,
    distributions: Iterable[str],
    preprocess_data: Callable[[Any], Any],
    postprocess_data: Callable[[Any], Any],
    requirements: Iterable[str],
    register_kwargs: Mapping[str, Any],
) -> Manifest:
    """``register_model`` with the engine's requirements and the hooks recorded by path."""
    if isinstance(requirements, str):
        raise InvalidInputError(
            f"requirements must be a list of requirement strings, not the string {requirements!r}"
        )
    for reserved in ("runner_cls", "model_instance", "hooks"):
        if reserved in register_kwargs:
            raise InvalidInputError(f"{reserved} is set by the engine helper; do not pass it")
    hooks: dict[str, str] = {}
    for role, function in (("preprocess", preprocess_data), ("postprocess", postprocess_data)):
        if function is not identity:
            hooks[role] = function_path(function, f"{role}_data")
    reqs = [engine_requirement(d) for d in distributions]
    reqs += [r for r in requirements if r not in reqs]
    return register_model(
        name,
        runner,
        model_instance,
        requirements=reqs,
        hooks=hooks,
        **register_kwargs,
    )
