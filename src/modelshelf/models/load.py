"""``load_model``: pull a registered model, check its requirements, import its runner, load it.

A plain model file or folder (a local path, or a pulled asset with no ``model`` section) is
detected and loaded by its engine (:mod:`modelshelf.models.plain`); a custom loader can be given
by import path instead.

Everything in the manifest's ``model`` section is store-sourced. Its runner and hook import
paths go through :func:`modelshelf._imports.import_object`: a module is imported only when it is
installed already (outside the modelshelf cache and the working folder) and a package the rule
allows, and the object must be a class or function defined where it is named; ``sys.path`` is
never changed.
"""

from __future__ import annotations

import inspect
import os
import shlex
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from modelshelf import _imports, constants, trust
from modelshelf.errors import (
    InvalidInputError,
    NotAModelError,
    RequirementsError,
    TrustRequiredError,
    UnknownModelFormatError,
    UntrustedStoreDataError,
)
from modelshelf.manifest import Manifest
from modelshelf.models import plain
from modelshelf.models.detect import DetectedFormat, detect_format
from modelshelf.models.register import MODEL_FOLDER, SECTION, StoreArg, shelf_of
from modelshelf.models.runner import Runner, check_runner, overrides
from modelshelf.models.saved import SavedInstance
from modelshelf.models.signature import Signature, from_section, loaded_signature

__all__ = ["LoadedModel", "NotAModelError", "RequirementsError", "load_model"]


@dataclass(frozen=True)
class LoadedModel:
    """A loaded model: call :meth:`predict`.

    Attributes:
        model: what the runner's ``load_model`` returned.
        runner: the runner class.
        path: the snapshot folder of the version in the cache (read-only), or the local path.
        manifest: the version's manifest; ``None`` for a local path.
        trust: whether formats that run code when loaded were allowed.
        section: the model section; for a detected file ``engine`` is ``detected:<engine>``
            with ``evidence`` and ``file``, for a custom loader ``engine`` is ``custom``.
        signature: the inputs and outputs the model takes and gives: the recorded signature
            (``register_model(..., input_example=x)``), else an ONNX graph's own, else ``None``.
    """

    model: Any
    runner: type[Runner]
    path: Path
    manifest: Manifest | None
    trust: bool = False
    section: dict[str, Any] = field(default_factory=dict, repr=False)
    preprocess: Callable[[Any], Any] | None = field(default=None, repr=False)
    postprocess: Callable[[Any], Any] | None = field(default=None, repr=False)
    signature: Signature | None = field(default=None, repr=False)

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
            "name": m.name if m else None,
            "version": m.version if m else None,
            "path": str(self.path),
            "runner": self.section.get("runner"),
            "engine": self.section.get("engine"),
            "evidence": self.section.get("evidence"),
            "file": self.section.get("file"),
            "requirements": list(self.section.get("requirements") or []),
            "props": self.section.get("props"),
            "artifacts": list(self.section.get("artifacts") or []),
            "python": self.section.get("python"),
            "libraries": dict(self.section.get("libraries") or {}),
            "signature": None if self.signature is None else self.signature.to_dict(),
            "manifest": None
            if m is None
            else {
                "created": m.created,
                "author": m.author,
                "message": m.message,
                "files": len(m.files),
                "size": m.size,
                "metadata": dict(m.metadata),
            },
        }


def load_model(
    spec: str | os.PathLike[str],
    *,
    store: StoreArg = None,
    ignore_requirements: bool = False,
    trust: bool = False,
    progress: bool | None = None,
    loader: str | None = None,
    runner: type[Runner] | None = None,
    allowed_hook_packages: Iterable[str] | None = None,
) -> LoadedModel:
    """Pull ``spec``, check its requirements, import its runner and load the model.

    ``spec`` may also be a local model file or folder: an ``os.PathLike``, or text that starts
    with ``/``, ``./``, ``../``, ``~`` or ``file:``, or that names an existing path (an existing
    path wins over a spec of the same text). A local path, and a pulled version without a model
    section, are loaded by their detected engine (see :mod:`modelshelf.models.detect`).

    Args:
        spec: ``NAME[:VERSION|@ALIAS]``, or a local model file or folder.
        store: a store URL or a :class:`Shelf`; default the default store.
        ignore_requirements: skip the check of the recorded requirements.
        trust: allow formats that run code when loaded (pickle, joblib, a pickled torch module,
            untrusted skops types) and TorchScript whose code calls operators beyond tensor
            math (files, processes, network); also ``MODELSHELF_TRUST_PICKLE=1``.
        progress: show progress bars (default: when stderr is a terminal).
        loader: ``"package.module:function"`` of an installed module: ``function(path)`` returns
            the model (``path`` is the local path or the snapshot folder) and ``predict`` calls
            ``model.predict(data)``. Skips detection and any model section.
        runner: a :class:`Runner` subclass to load and run the files with, in place of the
            recorded runner or detection: ``runner.load_model(props, artifacts)`` gets the
            recorded props and artifacts when the version has a model section, else ``None``
            and ``{"model": <the version's folder, or the local path>}``.
        allowed_hook_packages: packages (dotted names) a manifest may name its runner and
            ``preprocess``/``postprocess`` functions from, besides modelshelf's runners,
            distributions that require modelshelf, the runner's own distribution (for hooks),
            and ``MODELSHELF_ALLOWED_HOOK_PACKAGES``. Never the standard library, never a
            modelshelf function as a hook.

    Raises:
        NotAModelError: a version with no model section in which detection finds no model file;
            the message names every candidate.
        UnknownModelFormatError: a local path detection does not recognise.
        TrustRequiredError: a pickle-based format without ``trust``; nothing was unpickled. Or
            TorchScript calling an operator that reaches files, processes or the network;
            none of its code ran.
        RequirementsError: requirements are missing or mismatched; every one is listed.
        InvalidInputError: ``loader`` is malformed or not in an installed module.
        UntrustedStoreDataError: the model section is malformed, or its runner path is not an
            installed Runner subclass.

    Example:
        >>> # model = load_model("demo/doubler:1"); model.predict([1, 2])
        >>> # model = load_model("./model.onnx"); model.predict([[1.0, 2.0, 3.0]])
    """
    trusted = trust or constants.trust_pickle()
    try:
        allowed = _imports.allowed_packages(allowed_hook_packages)
    except _imports.ImportRefusedError as exc:
        raise InvalidInputError(str(exc)) from None
    if runner is not None and loader is not None:
        raise InvalidInputError("give a runner or a loader, not both")
    if runner is not None:
        runner = check_runner(runner)
    if plain.is_local_path(spec):
        local = plain.local_path(spec)
        if runner is not None:
            return _with_runner(runner, None, {MODEL_FOLDER: local}, local, None, trusted)
        if loader is not None:
            return _custom(loader, local, None, str(local), "", trusted)
        return _detected(detect_format(local), local, None, trusted)
    spec = os.fspath(spec)
    shelf = shelf_of(store)
    resolved = shelf.resolve(spec)
    manifest = resolved.manifest
    where = f"{manifest.name}:{manifest.version} in {shelf.url}"
    section = manifest.extra.get(SECTION)
    if loader is not None:
        path = shelf.pull_resolved(resolved, progress=progress)
        return _custom(loader, path, manifest, where, shelf.url, trusted, shelf.cache.root)
    if runner is not None:
        path = shelf.pull_resolved(resolved, progress=progress)
        if not isinstance(section, dict):
            return _with_runner(runner, None, {MODEL_FOLDER: path}, path, manifest, trusted)
        props = _props(section.get("props"), where, shelf.url)
        artifacts = _artifacts(path, section.get("artifacts", []), where, shelf.url)
        saved = saved_instance(section, runner, where, shelf.url, shelf.cache.root, allowed)
        with _naming(where, shelf.url):
            return _with_runner(runner, props, artifacts, path, manifest, trusted, saved)
    if section is None:
        path = shelf.pull_resolved(resolved, progress=progress)
        found = detect_plain(path, manifest, where)
        with _naming(where):
            return _detected(found, path, manifest, trusted)
    if not isinstance(section, dict):
        raise _untrusted(where, "the model section is not an object", shelf.url)
    path = shelf.pull_resolved(resolved, progress=progress)
    if not ignore_requirements:
        check_requirements(section.get("requirements", []), where, shelf.url)
    try:
        recorded = from_section(section.get("signature"))
    except ValueError as exc:
        raise _untrusted(where, f"its signature is refused: {exc}", shelf.url) from None
    runner = import_runner(section.get("runner"), where, shelf.url, shelf.cache.root, allowed)
    pre, post = (
        import_hook(
            section.get(role),
            role,
            where,
            shelf.url,
            shelf.cache.root,
            runner=runner,
            allowed=allowed,
        )
        for role in ("preprocess", "postprocess")
    )
    props = _props(section.get("props"), where, shelf.url)
    artifacts = _artifacts(path, section.get("artifacts", []), where, shelf.url)
    saved = saved_instance(section, runner, where, shelf.url, shelf.cache.root, allowed)
    with _naming(where, shelf.url):
        model = _run_load_model(runner, props, artifacts, trusted, saved)
    signature = loaded_signature(recorded, runner, model, hooked=bool(pre or post))
    return LoadedModel(model, runner, path, manifest, trusted, section, pre, post, signature)


def detect_plain(
    path: Path | Callable[[], DetectedFormat], manifest: Manifest, where: str
) -> DetectedFormat:
    """The model file of a pulled version with no model section (``path``: its folder, or
    a detection of the version that pulls nothing).

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
def _naming(where: str, store: str = "") -> Iterator[None]:
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
        raise _untrusted(where, message, store).fix_from(exc) from None


def _run_load_model(
    runner: type[Runner],
    props: dict[str, str] | None,
    artifacts: dict[str, Path],
    trusted: bool,
    saved: SavedInstance | None,
) -> Any:
    """The runner's ``load_model``; when it does not override it and the version holds an
    instance saved by engine, the default loads that instance back as it was saved."""
    if saved is not None and not overrides(runner, "load_model"):
        return saved.load(artifacts[MODEL_FOLDER], trust=trusted)
    if _takes_trust(runner.load_model):
        return runner.load_model(props, artifacts, trust=trusted)  # type: ignore[call-arg]
    return runner.load_model(props, artifacts)


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
        raise _untrusted(where, str(exc), store) from None


def _with_runner(
    runner: type[Runner],
    props: dict[str, str] | None,
    artifacts: dict[str, Path],
    path: Path,
    manifest: Manifest | None,
    trusted: bool,
    saved: SavedInstance | None = None,
) -> LoadedModel:
    model = _run_load_model(runner, props, artifacts, trusted, saved)
    section = {"engine": runner.engine, "runner": f"{runner.__module__}:{runner.__qualname__}"}
    signature = loaded_signature(None, runner, model, hooked=False)
    return LoadedModel(model, runner, path, manifest, trusted, section, signature=signature)


def _detected(
    found: DetectedFormat, path: Path, manifest: Manifest | None, trusted: bool
) -> LoadedModel:
    runner, model = plain.load_detected(found, trust=trusted)
    section = {
        "engine": f"detected:{found.engine}",
        "evidence": found.evidence,
        "file": str(found.path),
        "runner": f"{runner.__module__}:{runner.__qualname__}",
    }
    signature = loaded_signature(None, runner, model, hooked=False)
    return LoadedModel(model, runner, path, manifest, trusted, section, signature=signature)


def _custom(
    loader: str,
    path: Path,
    manifest: Manifest | None,
    where: str,
    store: str,
    trusted: bool,
    cache_root: Path | None = None,
) -> LoadedModel:
    try:
        # Typed by the user, so no package rule; still only a function defined where named.
        function = _imports.import_object(
            loader, "the loader", expect="a function", from_store=False, cache_root=cache_root
        )
    except _imports.ImportRefusedError as exc:
        raise InvalidInputError(f"{where}: {exc.args[0]}").fix_from(exc) from None
    if not callable(function) or isinstance(function, type):
        raise InvalidInputError(f"{where}: the loader {trust.show(loader)} is not a function")
    model = function(path)
    section = {"engine": "custom", "loader": loader, "runner": None}
    return LoadedModel(model, plain.CustomLoaderRunner, path, manifest, trusted, section)


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
        raise _untrusted(where, f"its runner {shown} is not a modelshelf.Runner subclass", store)
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
        raise _untrusted(where, f"its {role} {trust.show(recorded)} is not a function", store)
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
        raise _untrusted(where, exc.args[0], store).fix_from(exc) from None


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
