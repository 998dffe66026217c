"""``load_model``: pull a registered model, check its requirements, import its runner, load it.

Everything in the manifest's ``model`` section is store-sourced. The runner import path passes
:func:`modelshelf.trust.check_import_path`, and its module is imported only when
``importlib.util.find_spec`` finds it installed already, outside the modelshelf cache;
``sys.path`` is never changed.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from modelshelf import constants, trust
from modelshelf.errors import NotAModelError, RequirementsError, UntrustedStoreDataError
from modelshelf.manifest import Manifest
from modelshelf.models.register import MODEL_FOLDER, SECTION, StoreArg, shelf_of
from modelshelf.models.runner import Runner

__all__ = ["LoadedModel", "NotAModelError", "RequirementsError", "load_model"]


@dataclass(frozen=True)
class LoadedModel:
    """A loaded model: call :meth:`predict`.

    Attributes:
        model: what the runner's ``load_model`` returned.
        runner: the runner class.
        path: the snapshot folder of the version in the cache (read-only).
        manifest: the version's manifest.
        trust: whether formats that run code when loaded were allowed.
    """

    model: Any
    runner: type[Runner]
    path: Path
    manifest: Manifest
    trust: bool = False
    section: dict[str, Any] = field(default_factory=dict, repr=False)
    preprocess: Callable[[Any], Any] | None = field(default=None, repr=False)
    postprocess: Callable[[Any], Any] | None = field(default=None, repr=False)

    def predict(self, data: Any) -> Any:
        """``postprocess_data(predict(model, preprocess_data(data)))`` of the runner.

        A ``preprocess``/``postprocess`` function recorded in the model section (by the engine
        helpers such as ``register_torch_model``) takes the place of the runner's method.
        """
        runner = self.runner
        pre = self.preprocess or runner.preprocess_data
        post = self.postprocess or runner.postprocess_data
        return post(runner.predict(self.model, pre(data)))

    @property
    def metadata(self) -> dict[str, Any]:
        """Name, version, runner, engine, requirements, props and a manifest summary."""
        m = self.manifest
        return {
            "name": m.name,
            "version": m.version,
            "runner": self.section.get("runner"),
            "engine": self.section.get("engine"),
            "requirements": list(self.section.get("requirements") or []),
            "props": self.section.get("props"),
            "artifacts": list(self.section.get("artifacts") or []),
            "python": self.section.get("python"),
            "libraries": dict(self.section.get("libraries") or {}),
            "manifest": {
                "created": m.created,
                "author": m.author,
                "message": m.message,
                "files": len(m.files),
                "size": m.size,
                "metadata": dict(m.metadata),
            },
        }


def load_model(
    spec: str,
    *,
    store: StoreArg = None,
    ignore_requirements: bool = False,
    trust: bool = False,
    progress: bool | None = None,
) -> LoadedModel:
    """Pull ``spec``, check its requirements, import its runner and load the model.

    Args:
        spec: ``NAME[:VERSION|@ALIAS]`` of a version made by :func:`register_model`.
        store: a store URL or a :class:`Shelf`; default the default store.
        ignore_requirements: skip the check of the recorded requirements.
        trust: allow formats that run code when loaded (pickle); also
            ``MODELSHELF_TRUST_PICKLE=1``. Given to a runner whose ``load_model`` takes a
            ``trust`` keyword (the built-in pickle, joblib, skops and torch runners).
        progress: show progress bars (default: when stderr is a terminal).

    Raises:
        NotAModelError: the version has no model section.
        RequirementsError: requirements are missing or mismatched; every one is listed.
        UntrustedStoreDataError: the model section is malformed, or its runner path is not an
            installed Runner subclass.

    Example:
        >>> # model = load_model("demo/doubler:1"); model.predict([1, 2])
    """
    shelf = shelf_of(store)
    resolved = shelf.resolve(spec)
    manifest = resolved.manifest
    where = f"{manifest.name}:{manifest.version} in {shelf.url}"
    section = manifest.extra.get(SECTION)
    if section is None:
        raise NotAModelError(
            f"{where} is not a registered model (its manifest has no 'model' section); pull its"
            f" files with `modelshelf pull {manifest.name}:{manifest.version}`"
        )
    if not isinstance(section, dict):
        raise _untrusted(where, "the model section is not an object", shelf.url)
    path = shelf.pull_resolved(resolved, progress=progress)
    if not ignore_requirements:
        check_requirements(section.get("requirements", []), where, shelf.url)
    runner = import_runner(section.get("runner"), where, shelf.url, shelf.cache.root)
    pre, post = (
        import_hook(section.get(role), role, where, shelf.url, shelf.cache.root)
        for role in ("preprocess", "postprocess")
    )
    props = _props(section.get("props"), where, shelf.url)
    artifacts = _artifacts(path, section.get("artifacts", []), where, shelf.url)
    trusted = trust or constants.trust_pickle()
    if _takes_trust(runner.load_model):
        model = runner.load_model(props, artifacts, trust=trusted)  # type: ignore[call-arg]
    else:
        model = runner.load_model(props, artifacts)
    return LoadedModel(model, runner, path, manifest, trusted, section, pre, post)


def _untrusted(where: str, reason: str, store: str) -> UntrustedStoreDataError:
    return UntrustedStoreDataError(f"{where}: {reason}; refusing to load it", store=store)


def check_requirements(recorded: object, where: str, store: str) -> None:
    """Raise :class:`RequirementsError` listing every recorded requirement not met here."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import InvalidRequirement, Requirement

    if not isinstance(recorded, list):
        raise _untrusted(where, "its requirements are not a list", store)
    problems: list[str] = []
    unmet: list[str] = []
    for item in recorded:
        try:
            req = Requirement(trust.check_text(item, "a requirement", limit=trust.MAX_LINE))
        except (ValueError, InvalidRequirement) as exc:
            reason = f"requirement {trust.show(item)} is refused ({exc})"
            raise _untrusted(where, reason, store) from None
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
            + f". Install them (pip install {command}) or pass ignore_requirements=True"
            " (--ignore-requirements)"
        )


def import_runner(
    recorded: object, where: str, store: str, cache_root: Path | None = None
) -> type[Runner]:
    """The Runner subclass at a store-sourced ``module:QualName``, imported only if installed.

    ``cache_root`` (default: the configured cache) is never a place to import from.

    Raises:
        UntrustedStoreDataError: the path is malformed, its module is not installed (or lies
            in the modelshelf cache), or the object is not a Runner subclass.
    """
    target = _import_installed(recorded, "runner", where, store, cache_root)
    if not (isinstance(target, type) and issubclass(target, Runner)):
        shown = trust.show(recorded)
        raise _untrusted(where, f"its runner {shown} is not a modelshelf.Runner subclass", store)
    return target


def import_hook(
    recorded: object, role: str, where: str, store: str, cache_root: Path | None = None
) -> Callable[[Any], Any] | None:
    """The function recorded as ``role`` (``preprocess``/``postprocess``), by the runner rule.

    ``None`` when nothing is recorded. The path passes the same checks as a runner path.
    """
    if recorded is None:
        return None
    target = _import_installed(recorded, role, where, store, cache_root)
    if not callable(target) or isinstance(target, type):
        raise _untrusted(where, f"its {role} {trust.show(recorded)} is not a function", store)
    return cast("Callable[[Any], Any]", target)


def _import_installed(
    recorded: object, role: str, where: str, store: str, cache_root: Path | None
) -> object:
    try:
        module_name, qualname = trust.check_import_path(recorded)
    except ValueError as exc:
        raise _untrusted(where, f"its {role} is refused: {exc}", store) from None
    shown = trust.show(recorded)
    if not _installed(module_name, cache_root or constants.cache_dir()):
        raise _untrusted(
            where,
            f"its {role} {shown} is not in an installed module; install the package that"
            " provides it (modelshelf never imports code from the store or the cache)",
            store,
        )
    target: object = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part, None)
    return target


def _installed(module_name: str, cache: Path) -> bool:
    """True when every package on the way to ``module_name`` is found on ``sys.path`` as it is,
    and none lies in the modelshelf cache."""
    cache_root = cache.expanduser().resolve()
    parts = module_name.split(".")
    for depth in range(1, len(parts) + 1):
        try:
            found = importlib.util.find_spec(".".join(parts[:depth]))
        except (ImportError, ValueError):
            return False
        if found is None:
            return False
        for location in [found.origin, *(found.submodule_search_locations or [])]:
            if location and Path(location).resolve().is_relative_to(cache_root):
                return False
    return True


def _props(recorded: object, where: str, store: str) -> dict[str, str] | None:
    if recorded is None:
        return None
    if not isinstance(recorded, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in recorded.items()
    ):
        raise _untrusted(where, "its props are not a mapping of text to text", store)
    return dict(recorded)


def _artifacts(root: Path, recorded: object, where: str, store: str) -> dict[str, Path]:
    if not isinstance(recorded, list):
        raise _untrusted(where, "its artifact names are not a list", store)
    found: dict[str, Path] = {}
    for name in recorded:
        try:
            trust.check_relative_path(name)
        except ValueError as exc:
            raise _untrusted(where, f"artifact name refused: {exc}", store) from None
        found[name] = trust.inside(root, name)
    found.setdefault(MODEL_FOLDER, root / MODEL_FOLDER)
    return found


def _takes_trust(function: Any) -> bool:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    return "trust" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )
