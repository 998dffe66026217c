"""``load_model`` and :class:`LoadedModel`: pull a registered model, check its model section,
import its runner, load it.

A plain model file or folder (a local path, or a pulled asset with no ``model`` section) is
detected and loaded by its engine (:mod:`modelshelf.models.plain`); a custom loader can be given
by import path instead. What a store's model section is checked into (requirements, signature,
runner and hook imports, a saved instance, props and artifacts) is
:mod:`modelshelf.models._section`'s; this module decides which way a spec loads and loads it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelshelf import _imports, constants, trust
from modelshelf.errors import InvalidInputError, NotAModelError, RequirementsError
from modelshelf.manifest import Manifest
from modelshelf.models import plain
from modelshelf.models._section import (
    check_section,
    detect_plain,
    naming,
    recorded_artifacts,
    recorded_props,
    saved_instance,
    section_object,
)
from modelshelf.models.detect import DetectedFormat, detect_format
from modelshelf.models.engines.onnx import onnx_signature, takes_graph_signature
from modelshelf.models.register import MODEL_FOLDER, SECTION, StoreArg, shelf_of
from modelshelf.models.runner import Runner, check_runner, load_with, overrides
from modelshelf.models.saved import SavedInstance
from modelshelf.models.signature import Signature
from modelshelf.shelf.shelf import Shelf

__all__ = ["LoadedModel", "NotAModelError", "RequirementsError", "load_model", "loaded_signature"]


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
            model = _run_load_model(runner, None, {MODEL_FOLDER: local}, trusted, None)
            return _given_runner(runner, model, local, None, trusted)
        if loader is not None:
            return _custom(loader, local, None, str(local), "", trusted)
        return _detected(detect_format(local), local, None, trusted)
    shelf = shelf_of(store)
    resolved = shelf.resolve(os.fspath(spec))
    manifest = resolved.manifest
    where = f"{manifest.name}:{manifest.version} in {shelf.url}"
    section = manifest.extra.get(SECTION)
    if loader is not None:
        path = shelf.pull_resolved(resolved, progress=progress)
        return _custom(loader, path, manifest, where, shelf.url, trusted, shelf.cache.root)
    if runner is not None:
        path = shelf.pull_resolved(resolved, progress=progress)
        if isinstance(section, dict):
            model = _load_recorded(runner, section, path, where, shelf, allowed, trusted)
        else:
            model = _run_load_model(runner, None, {MODEL_FOLDER: path}, trusted, None)
        return _given_runner(runner, model, path, manifest, trusted)
    if section is None:
        path = shelf.pull_resolved(resolved, progress=progress)
        found = detect_plain(path, manifest, where)
        with naming(where):
            return _detected(found, path, manifest, trusted)
    section = section_object(section, where, shelf.url)
    path = shelf.pull_resolved(resolved, progress=progress)
    code = check_section(
        section,
        where,
        shelf.url,
        shelf.cache.root,
        allowed,
        ignore_requirements=ignore_requirements,
    )
    model = _load_recorded(code.runner, section, path, where, shelf, allowed, trusted)
    hooked = bool(code.preprocess or code.postprocess)
    signature = loaded_signature(code.signature, code.runner, model, hooked=hooked)
    return LoadedModel(
        model,
        code.runner,
        path,
        manifest,
        trusted,
        section,
        code.preprocess,
        code.postprocess,
        signature,
    )


def loaded_signature(
    recorded: Signature | None, runner: type[Runner], model: Any, hooked: bool
) -> Signature | None:
    """What a loaded model takes and gives: the recorded signature, else the graph of an ONNX
    session run as it is by the built-in runner (no hooks), else ``None``."""
    if recorded is not None:
        return recorded
    if hooked or not takes_graph_signature(runner, None):
        return None
    return onnx_signature(model) if callable(getattr(model, "get_inputs", None)) else None


def _load_recorded(
    runner: type[Runner],
    section: dict[str, Any],
    path: Path,
    where: str,
    shelf: Shelf,
    allowed: frozenset[str],
    trusted: bool,
) -> Any:
    """``runner``'s load of a pulled version (``path``) with the props, artifacts and saved
    instance its section records; a refusal names the asset."""
    props = recorded_props(section.get("props"), where, shelf.url)
    artifacts = recorded_artifacts(path, section.get("artifacts", []), where, shelf.url)
    saved = saved_instance(section, runner, where, shelf.url, shelf.cache.root, allowed)
    with naming(where, shelf.url):
        return _run_load_model(runner, props, artifacts, trusted, saved)


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
    return load_with(runner, props, artifacts, trust=trusted)


def _given_runner(
    runner: type[Runner], model: Any, path: Path, manifest: Manifest | None, trusted: bool
) -> LoadedModel:
    """What ``load_model(..., runner=...)`` loaded, described as that runner."""
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
