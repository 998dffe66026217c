"""``register_model``: a runner, a model instance and artifact files pushed as one version.

The version holds the files ``save_model`` wrote (or, for a runner that does not save, the
instance saved by its engine: :mod:`modelshelf.models.saved`) under ``model/`` and the
artifacts (at the paths given), and its manifest a ``model`` section: engine, runner import
path, requirements, props, how the instance was saved, artifact names, and the Python and
library versions it was registered with; its ``source`` is the registration (the runner and
the working folder's git state). Every argument is checked before anything is written; the
push is one commit, then the aliases move, as for ``Shelf.push``.
"""

from __future__ import annotations

import os
import platform
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from modelshelf import trust
from modelshelf._version import __version__
from modelshelf.errors import InvalidInputError, InvalidSpecError
from modelshelf.manifest import Manifest
from modelshelf.models import saved
from modelshelf.models._signing import signature_section
from modelshelf.models.engines._common import engine_requirement
from modelshelf.models.runner import Runner, check_runner, import_path_of, overrides
from modelshelf.shelf.push import check_push_args, check_sections, push_version
from modelshelf.shelf.push_aliases import move_aliases_after_push
from modelshelf.shelf.shelf import Shelf
from modelshelf.shelf.source import PushSource, collect_files, git_source
from modelshelf.spec import Version, validate_name
from modelshelf.transfer.progress import make_progress

__all__ = ["MODEL_FOLDER", "SECTION", "StoreArg", "expand_artifacts", "register_model", "shelf_of"]

SECTION = "model"
"""The manifest section (``Manifest.extra["model"]``) that makes a version a model."""
MODEL_FOLDER = "model"
"""Where the files ``save_model`` wrote lie in the version; also their artifact name."""
SECTION_FORMAT = 1

StoreArg = str | Shelf | None


def shelf_of(store: StoreArg) -> Shelf:
    """A :class:`Shelf` for ``store``: a Shelf as it is, a URL, or the default store."""
    return store if isinstance(store, Shelf) else Shelf(store)


def register_model(
    name: str,
    runner_cls: type[Runner],
    model_instance: Any = None,
    version: str | None = None,
    requirements: Iterable[str] = (),
    artifacts: Mapping[str | os.PathLike[str], str] | None = None,
    metadata: Mapping[str, str] | None = None,
    store: StoreArg = None,
    *,
    progress: bool | None = None,
    hooks: Mapping[str, str] | None = None,
    message: str = "",
    aliases: Sequence[str] = (),
    input_example: Any = None,
    if_changed: bool = False,
) -> Manifest:
    """Push a model as a new version of ``name``, with its runner recorded by import path.

    Args:
        name: the asset name, e.g. ``"nlp/sentiment"`` (no version: see ``version``).
        runner_cls: a :class:`Runner` subclass defined in an importable module.
        model_instance: saved with ``runner_cls.save_model`` when the runner overrides it; else
            saved for you by its engine (skops for scikit-learn, TorchScript or a state_dict
            for torch, ``.onnx`` for an ONNX ModelProto, pickle for anything else; see
            :mod:`modelshelf.models.saved`) and loaded back the same way by the default
            ``load_model``. ``None`` needs a runner that overrides ``load_model``, or
            artifacts (the default ``load_model`` returns them).
        version: ``None`` for the next version; a major such as ``"2"`` for the next minor
            of it (2.3 -> 2.4, or 2.0 first); a full version such as ``"2.5"`` for that one.
        requirements: PEP 508 requirements (``"numpy>=1.26"``) checked when loading; an
            instance saved by engine adds that engine's (``torch==<installed>``).
        artifacts: ``{local file, folder or "folder/*": path in the asset}``. A folder and
            ``folder/*`` both take every file under it, recursively, kept under the path given.
            No other wildcard is accepted; ``model/`` is reserved for the saved instance.
        metadata: text key/value pairs recorded in the manifest (as ``Shelf.push``).
        store: a store URL or a :class:`Shelf`; default the default store.
        progress: show progress bars (default: when stderr is a terminal).
        hooks: ``{"preprocess"|"postprocess": "module:function"}``, import paths of functions
            that take the place of the runner's methods when loaded (the engine helpers set it).
        message: recorded in the manifest and the audit log (as ``Shelf.push``).
        aliases: then point ``name@alias`` at the new version, for each (not ``latest``),
            audited; checked with every other argument before anything is written.
        input_example: what a caller would pass to ``LoadedModel.predict`` (an array, a list,
            a dict of arrays, a DataFrame, a tensor, text): its names, datatypes and shapes
            and those of one prediction on it are recorded as the model's signature
            (:mod:`modelshelf.models.signature`). An ONNX graph run as it is describes itself.
        if_changed: when the saved files, artifacts and model section equal those of the
            latest version in scope, return that version and write nothing (``Shelf.push``).
            The saved bytes are compared: a format whose archive differs from one save to the
            next (skops names entries by object id; TorchScript holds a random id) makes a
            new version each time.

    Returns:
        The committed manifest; ``manifest.extra["model"]`` is the model section, and
        ``manifest.source`` the registration: the runner and the working folder's git state.

    Raises:
        InvalidInputError: an argument is refused; nothing was written.
        InvalidSpecError: an alias is not a valid alias name; nothing was written.
        SourcePathError: an artifact is missing or cannot be pushed.
        VersionExistsError: the explicit version exists already.

    Example:
        >>> # register_model("demo/doubler", Doubler, artifacts={"ckpt/*": "ckpt"})
        >>> # register_model("demo/iris", PredictOnly, fitted_pipeline, aliases=["prod"])
    """
    try:
        validate_name(name)
    except InvalidSpecError as exc:
        # The version hint only where a version or alias was written into the name.
        hint = " register_model takes the name alone, and the version as version='2'"
        text = str(exc).rstrip(".")
        raise InvalidInputError(text + (f";{hint}" if ":" in name or "@" in name else "")) from None
    runner = check_runner(runner_cls)
    runner_path = import_path_of(runner)
    pairs, names = expand_artifacts(artifacts or {})
    saves = overrides(runner, "save_model")
    if model_instance is None and not overrides(runner, "load_model") and not pairs:
        raise InvalidInputError(
            f"model_instance=None: the runner {runner.__qualname__} does not override"
            " load_model and no artifacts are given, so there would be no model to load; pass"
            " model_instance, artifacts, or override load_model"
        )
    if model_instance is None and not pairs:  # save_model is not asked: nothing would be written
        raise InvalidInputError(
            f"nothing to store: pass model_instance or artifacts (the runner"
            f" {runner.__qualname__} is given neither, and a version holds at least one file)"
        )
    explicit, within = _version_choice(version)
    by_engine = model_instance is not None and not saves
    reqs = _check_requirements(requirements)
    if by_engine:  # the engine's distributions, told from sys.modules (nothing imported)
        reqs += _engine_requirements(saved.engine_of(model_instance), reqs)
    meta = dict(metadata or {})
    wanted = check_push_args(explicit, major=False, message=message, metadata=meta, aliases=aliases)
    section: dict[str, Any] = {
        "format": SECTION_FORMAT,
        "engine": runner.engine,
        "runner": runner_path,
        "requirements": [str(r) for r in reqs],
        "libraries": {r.name: _installed(r.name) for r in reqs},
        "python": platform.python_version(),
        "modelshelf": __version__,
        "props": None,
        "artifacts": names,
    }
    section.update(_check_hooks(hooks or {}))
    shelf = shelf_of(store)
    # The registration is the source, not the temporary folder the instance is saved in.
    recorded_source = {"runner": runner_path, **_working_folder_source()}
    with tempfile.TemporaryDirectory(prefix="modelshelf-register-") as tmp:
        if model_instance is not None:
            folder = Path(tmp) / MODEL_FOLDER
            folder.mkdir()
            if by_engine:
                section.update(saved.save_instance(model_instance, folder).fields())
            else:
                section["props"] = _check_props(runner.save_model(model_instance, folder), runner)
            written = collect_files(folder)[1] if any(folder.iterdir()) else []
            pairs += [(f.local, f"{MODEL_FOLDER}/{f.path}") for f in written]
            if written:
                section["artifacts"] = sorted([*names, MODEL_FOLDER])
        if not pairs:
            raise InvalidInputError(
                f"save_model of {runner.__qualname__} wrote no file and no artifacts are given;"
                " a version holds at least one file"
            )
        section.update(
            signature_section(
                runner,
                model_instance,
                input_example,
                props=section["props"],
                artifacts=artifacts or {},
                model_folder=Path(tmp) / MODEL_FOLDER,
                hooks=hooks or {},
            )
        )
        extra = check_sections({SECTION: section})
        with make_progress(progress) as bar:
            report = push_version(
                shelf.store,
                PushSource.from_files(pairs),
                name,
                explicit,
                message=message,
                metadata=meta,
                major=False,
                progress=bar,
                sections=extra,
                within=within,
                recorded_source=recorded_source,
                if_changed=if_changed,
            )
    return move_aliases_after_push(shelf, report, wanted).manifest


def _working_folder_source() -> dict[str, Any]:
    """The caller's working folder and its git state (git run safely: ``git_source``)."""
    try:
        return git_source(Path.cwd())
    except OSError:  # the working folder was removed
        return {}


def _engine_requirements(fmt: str, given: list[Any]) -> list[Any]:
    """The distributions an instance saved as ``fmt`` loads with, pinned to the installed
    version, except those the caller's requirements name already."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    named = {canonicalize_name(r.name) for r in given}
    return [
        Requirement(engine_requirement(d))
        for d in saved.engine_distributions(saved.SavedInstance(fmt))
        if canonicalize_name(d) not in named
    ]


def _check_hooks(hooks: Mapping[str, str]) -> dict[str, str]:
    """The hook paths, each checked like a runner path; only the two known roles."""
    checked: dict[str, str] = {}
    for role, path in hooks.items():
        if role not in ("preprocess", "postprocess"):
            raise InvalidInputError(f"hook {role!r}: only 'preprocess' and 'postprocess' exist")
        try:
            trust.check_import_path(path)
        except ValueError as exc:
            raise InvalidInputError(f"the {role} function cannot be recorded: {exc}") from None
        checked[role] = path
    return checked


def _version_choice(version: object) -> tuple[Version | None, Version | None]:
    """(explicit version, major to take the next minor of) from the ``version`` argument."""
    if version is None:
        return None, None
    if not isinstance(version, str):
        raise InvalidInputError(f"version must be text such as '2' or '2.1', not {version!r}")
    try:
        parsed = Version.parse(version)
    except InvalidSpecError as exc:
        raise InvalidInputError(f"version {version!r}: {exc.reason}") from None
    return (None, parsed) if parsed.depth == 1 else (parsed, None)


def _check_requirements(requirements: Iterable[str]) -> list[Any]:
    from packaging.requirements import InvalidRequirement, Requirement

    if isinstance(requirements, str):
        raise InvalidInputError(
            f"requirements must be a list of requirement strings, not the string {requirements!r}"
        )
    parsed = []
    for item in requirements:
        if not isinstance(item, str):
            raise InvalidInputError(f"a requirement must be text, not {trust.show(item)}")
        try:
            parsed.append(Requirement(item))
        except InvalidRequirement as exc:
            raise InvalidInputError(
                f"requirement {item!r} is not a PEP 508 requirement ({exc}); e.g. 'numpy>=1.26'"
            ) from None
    return parsed


def _installed(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def _check_props(props: object, runner: type[Runner]) -> dict[str, str]:
    if not isinstance(props, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in props.items()
    ):
        raise InvalidInputError(
            f"{runner.__qualname__}.save_model must return props as a dict of text to text, not"
            f" {trust.show(props)}"
        )
    return dict(props)


def expand_artifacts(
    artifacts: Mapping[str | os.PathLike[str], str],
) -> tuple[list[tuple[Path, str]], list[str]]:
    """The (local file, path in asset) pairs of ``artifacts`` and the artifact names (paths in
    the asset as given, sorted); see :func:`register_model`.

    Raises:
        InvalidInputError: a wildcard other than a trailing ``/*``, or a target under ``model/``.
        SourcePathError: a local file or folder is missing, or a folder holds no file.
    """
    if not isinstance(artifacts, Mapping):
        raise InvalidInputError(
            f"artifacts must be a dict of {{local path or 'folder/*': path in asset}}, not"
            f" {type(artifacts).__name__}"
        )
    pairs: list[tuple[Path, str]] = []
    names: list[str] = []
    for local, target in artifacts.items():
        if not isinstance(local, str | os.PathLike) or not isinstance(target, str):
            raise InvalidInputError(
                f"artifact {trust.show(local)}: {trust.show(target)}: give a local path and a"
                " path in the asset (text)"
            )
        target = target.rstrip("/")
        if target == MODEL_FOLDER or target.startswith(MODEL_FOLDER + "/"):
            raise InvalidInputError(
                f"artifact {str(local)!r} -> {target!r}: {MODEL_FOLDER}/ holds the files"
                " save_model writes; choose another path in the asset"
            )
        names.append(target)
        text = os.fspath(local)
        folder = _glob_folder(text)
        path = Path(folder if folder is not None else text)
        if folder is not None or path.is_dir():
            _, found = collect_files(path)
            pairs += [(f.local, f"{target}/{f.path}") for f in found]
        else:
            pairs.append((path, target))
    return pairs, sorted(names)


def _glob_folder(text: str) -> str | None:
    """The folder of ``folder/*``; ``None`` for a plain path; refuse every other wildcard."""
    if not any(c in text for c in "*?["):
        return None
    head = text[:-2] if text.endswith("/*") else None
    if head is None or not head or any(c in head for c in "*?["):
        raise InvalidInputError(
            f"artifact {text!r}: the only wildcard accepted is a trailing '/*' (as in"
            " 'checkpoints/*', every file under that folder); list other files one by one"
        )
    return head
