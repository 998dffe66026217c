"""What a store's ``model`` section is checked into before anything of it is used.

Everything in a manifest's ``model`` section is store-sourced (docs/design-notes.md, "Trust
boundary"). This module owns turning it into things ``load_model`` and serve's preflight can
use, each refusal one :class:`UntrustedStoreDataError` line naming the asset and its store:
its requirements (checked before any code of the model is imported), its recorded signature,
its runner and ``preprocess``/``postprocess`` hooks (imported only through
:func:`modelshelf._imports.import_object`: a module already installed, outside the modelshelf
cache and the working folder, in a package the rule allows, the object defined where it is
named; ``sys.path`` is never changed), how an instance was saved, its props and artifact names
(joined inside the version's folder by :func:`modelshelf.trust.inside`), and the model file of
a version with no section at all (detection).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from modelshelf import _imports, trust
from modelshelf.errors import (
    NotAModelError,
    RequirementsError,
    TrustRequiredError,
    UnknownModelFormatError,
    UntrustedStoreDataError,
)
from modelshelf.manifest import Manifest
from modelshelf.models.detect import DetectedFormat, detect_format
from modelshelf.models.register import MODEL_FOLDER
from modelshelf.models.runner import Runner, overrides
from modelshelf.models.saved import SavedInstance
from modelshelf.models.signature import Signature, from_section

__all__ = [
    "SectionCode",
    "artifact_names",
    "check_requirements",
    "check_section",
    "detect_plain",
    "import_hook",
    "import_runner",
    "naming",
    "recorded_artifacts",
    "recorded_props",
    "saved_instance",
    "section_object",
    "untrusted",
]


@dataclass(frozen=True)
class SectionCode:
    """What a model section names to run, checked: the runner class, the hooks (``None``: the
    runner's own methods), the recorded signature (``None``: none recorded), the props and the
    artifact names (checked as names: nothing pulled is needed)."""

    runner: type[Runner]
    preprocess: Callable[[Any], Any] | None
    postprocess: Callable[[Any], Any] | None
    signature: Signature | None
    props: dict[str, str] | None = None
    artifacts: tuple[str, ...] = ()


def section_object(section: object, where: str, store: str) -> dict[str, Any]:
    """The model section, refused unless it is a JSON object."""
    if not isinstance(section, dict):
        raise untrusted(where, "the model section is not an object", store)
    return section


def check_section(
    section: dict[str, Any],
    where: str,
    store: str,
    cache_root: Path | None,
    allowed: frozenset[str],
    *,
    ignore_requirements: bool = False,
) -> SectionCode:
    """What the section (see :func:`section_object`) names to run, checked in this order:
    requirements (unless ``ignore_requirements``), the signature, the runner, the hooks, the
    props and the artifact names (the load's own checks, so serve's pre-flight refuses a
    hostile section before its port opens, and the load before its pull).

    Raises:
        UntrustedStoreDataError: any of it is malformed or names what the import rule refuses.
        RequirementsError: requirements are missing or mismatched here; every one is listed.
    """
    if not ignore_requirements:
        check_requirements(section.get("requirements", []), where, store)
    try:
        signature = from_section(section.get("signature"))
    except ValueError as exc:
        raise untrusted(where, f"its signature is refused: {exc}", store) from None
    runner = import_runner(section.get("runner"), where, store, cache_root, allowed)
    pre, post = (
        import_hook(
            section.get(role), role, where, store, cache_root, runner=runner, allowed=allowed
        )
        for role in ("preprocess", "postprocess")
    )
    props = recorded_props(section.get("props"), where, store)
    names = artifact_names(section.get("artifacts", []), where, store)
    return SectionCode(runner, pre, post, signature, props, names)


def detect_plain(
    path: Path | Callable[[], DetectedFormat], manifest: Manifest, where: str
) -> DetectedFormat:
    """The model file of a version with no model section (``path``: its pulled folder, or a
    detection of the version that pulls nothing, as serve's pre-flight makes).

    Raises:
        NotAModelError: detection finds no single model file; every candidate is named.
    """
    try:
        return path() if callable(path) else detect_format(path)
    except UnknownModelFormatError as exc:
        lines = "".join(f"\n  - {name}: {why}" for name, why in sorted(exc.candidates.items()))
        raise NotAModelError(
            f"{where} is not a registered model (its manifest has no 'model' section) and"
            f" detection found no single model file in it ({exc.reason}); pull its files with"
            f" `modelshelf pull {manifest.name}:{manifest.version}` or register it with a"
            f" runner{lines}\n  Formats tried: {', '.join(exc.tried)}."
        ).with_fix("\n  Or load it with {loader}.") from None


@contextmanager
def naming(where: str, store: str = "") -> Iterator[None]:
    """A refusal (trust, or the files a section names) names the asset and its store."""
    try:
        yield
    except TrustRequiredError as exc:
        # The refusal's fix (trust=True, or --trust on the command line) goes along.
        raise TrustRequiredError(f"{where}: {exc.args[0] if exc.args else exc}").fix_from(
            exc
        ) from None
    except UntrustedStoreDataError as exc:
        if str(exc).startswith(where):
            raise
        # its fix (a flag or a keyword) goes along, in the words of whoever prints it
        message = exc.args[0] if exc.args else str(exc)
        raise untrusted(where, message, store).fix_from(exc) from None


def untrusted(where: str, reason: str, store: str) -> UntrustedStoreDataError:
    """The one-line refusal of a model section: ``{where}: {reason}; refusing to load it``."""
    return UntrustedStoreDataError(f"{where}: {reason}; refusing to load it", store=store)


def saved_instance(
    section: dict[str, Any],
    runner: type[Runner],
    where: str,
    store: str,
    cache_root: Path | None,
    allowed: frozenset[str],
) -> SavedInstance | None:
    """How the section says the instance was saved, its state_dict class imported (see
    :meth:`SavedInstance.with_class`) if the default ``load_model`` will load it; a refusal
    is one :class:`UntrustedStoreDataError` line."""
    try:
        found = SavedInstance.from_section(section)
        if found is None or overrides(runner, "load_model"):
            return found
        return found.with_class(runner.__module__, allowed, cache_root)
    except ValueError as exc:  # ImportRefusedError included
        raise untrusted(where, str(exc), store) from None


def check_requirements(recorded: object, where: str, store: str) -> None:
    """Raise :class:`RequirementsError` listing every recorded requirement not met here."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import InvalidRequirement, Requirement

    if not isinstance(recorded, list):
        raise untrusted(where, "its requirements are not a list", store)
    problems: list[str] = []
    unmet: list[str] = []
    for item in recorded:
        try:
            req = Requirement(trust.check_text(item, "a requirement", limit=trust.MAX_LINE))
        except (ValueError, InvalidRequirement) as exc:
            # packaging's parse error is three lines (the text again, a caret): its first says why
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            reason = f"requirement {trust.show(item)} is refused ({why})"
            raise untrusted(where, reason, store) from None
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            found = version(req.name)
        except PackageNotFoundError:
            problems.append(f"{req} (not installed)")
            unmet.append(str(req))
            continue
        if req.specifier and not req.specifier.contains(found, prereleases=True):
            problems.append(f"{req} (installed: {found})")
            unmet.append(str(req))
    if problems:
        command = " ".join(shlex.quote(r) for r in unmet)
        raise RequirementsError(
            f"{where} needs {len(problems)} requirement(s) this environment does not meet: "
            + "; ".join(problems)
            + f". Install them (pip install {command})"
        ).with_fix(" or pass {ignore_requirements}")


def import_runner(
    recorded: object,
    where: str,
    store: str,
    cache_root: Path | None = None,
    allowed: Iterable[str] | None = None,
) -> type[Runner]:
    """The Runner subclass at a store-sourced ``module:QualName``, imported only if installed.

    ``cache_root`` (default: the configured cache) is never a place to import from. The module
    must be modelshelf's, an ``allowed`` package's (plus ``MODELSHELF_ALLOWED_HOOK_PACKAGES``)
    or a distribution's that requires modelshelf, and the class defined where it is named.

    Raises:
        UntrustedStoreDataError: the path is malformed, its module is not installed (or lies
            in the modelshelf cache) or not allowed, or the object is not a Runner subclass
            defined there.
    """
    target = _import_installed(
        recorded,
        "runner",
        where,
        store,
        cache_root,
        expect="a modelshelf.Runner subclass",
        allowed=_imports.allowed_packages(allowed),
    )
    if not (isinstance(target, type) and issubclass(target, Runner)):
        shown = trust.show(recorded)
        raise untrusted(where, f"its runner {shown} is not a modelshelf.Runner subclass", store)
    return target


def import_hook(
    recorded: object,
    role: str,
    where: str,
    store: str,
    cache_root: Path | None = None,
    *,
    runner: type[Runner],
    allowed: Iterable[str] | None = None,
) -> Callable[[Any], Any] | None:
    """The function recorded as ``role`` (``preprocess``/``postprocess``) beside ``runner``.

    ``None`` when nothing is recorded. It must be a function defined where it is named, in the
    runner's distribution or an ``allowed`` package (plus ``MODELSHELF_ALLOWED_HOOK_PACKAGES``),
    never in modelshelf itself nor the standard library: it is called with request data.
    """
    if recorded is None:
        return None
    target = _import_installed(
        recorded,
        role,
        where,
        store,
        cache_root,
        expect="a function",
        allowed=_imports.allowed_packages(allowed),
        runner_module=runner.__module__,
    )
    if not callable(target) or isinstance(target, type):
        raise untrusted(where, f"its {role} {trust.show(recorded)} is not a function", store)
    return cast("Callable[[Any], Any]", target)


def _import_installed(
    recorded: object,
    role: str,
    where: str,
    store: str,
    cache_root: Path | None,
    *,
    expect: str,
    allowed: Collection[str] = (),
    runner_module: str | None = None,
) -> object:
    """The object a store-sourced path names, by the one rule of :mod:`modelshelf._imports`."""
    try:
        return _imports.import_object(
            recorded,
            f"its {role}",
            expect=expect,
            from_store=True,
            allowed=allowed,
            runner_module=runner_module,
            cache_root=cache_root,
        )
    except _imports.ImportRefusedError as exc:  # its fix (allow the package) goes along
        raise untrusted(where, exc.args[0], store).fix_from(exc) from None


def recorded_props(recorded: object, where: str, store: str) -> dict[str, str] | None:
    """The section's ``props``: ``None``, or a mapping of text to text."""
    if recorded is None:
        return None
    if not isinstance(recorded, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in recorded.items()
    ):
        raise untrusted(where, "its props are not a mapping of text to text", store)
    return dict(recorded)


def artifact_names(recorded: object, where: str, store: str) -> tuple[str, ...]:
    """The section's artifact names, each a safe relative path (no folder needed to check)."""
    if not isinstance(recorded, list):
        raise untrusted(where, "its artifact names are not a list", store)
    for name in recorded:
        try:
            trust.check_relative_path(name)
        except ValueError as exc:
            raise untrusted(where, f"artifact name refused: {exc}", store) from None
    return tuple(recorded)


def recorded_artifacts(root: Path, recorded: object, where: str, store: str) -> dict[str, Path]:
    """The section's artifact names (:func:`artifact_names`), each joined inside the version's
    folder ``root``, and the model folder (``artifacts["model"]``) always."""
    found = {name: trust.inside(root, name) for name in artifact_names(recorded, where, store)}
    found.setdefault(MODEL_FOLDER, root / MODEL_FOLDER)
    return found
