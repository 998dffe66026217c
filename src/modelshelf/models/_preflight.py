"""What ``load_model`` would refuse, found without loading the model.

``modelshelf serve`` checks the first version with :func:`check_loadable` before its port
opens, and loads the model (its weights) afterwards in the background, so that ``/health``
answers during a long load while a spec that can never load is still one error line. The
checks are load_model's own, with its messages: the spec resolves; requirements are met;
the recorded signature parses; the runner, the hooks and a saved state_dict's class import
under the one import rule; the props are text and the artifact names safe relative paths
(names only); a pickle saved by modelshelf, a pickle or joblib file an engine
runner names, or a detected pickle or joblib file is refused without trust. Nothing is pulled:
for a version with no model section, detection reads only the ends of each file from the store
(:func:`modelshelf.models.detect.detect_listing`), so a version of data is refused without
fetching it; a registered model's pull is part of the load. What only loading can find (a
damaged file, skops types, TorchScript code) is still found by the load.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from modelshelf import _imports, constants
from modelshelf.errors import InvalidInputError
from modelshelf.models import plain
from modelshelf.models._section import (
    check_section,
    detect_plain,
    naming,
    saved_instance,
    section_object,
)
from modelshelf.models.detect import DetectedFormat, detect_format, detect_listing
from modelshelf.models.engines._common import require_trust
from modelshelf.models.engines.pickle import PickleRunner
from modelshelf.models.engines.sklearn import SklearnRunner
from modelshelf.models.register import SECTION, StoreArg, shelf_of
from modelshelf.models.runner import Runner, overrides
from modelshelf.models.saved import FILES
from modelshelf.shelf.pull import select_entries

if TYPE_CHECKING:
    from modelshelf.shelf.resolve import Resolved
    from modelshelf.shelf.shelf import Shelf

__all__ = ["check_loadable"]

# What the engine loaders call each format that needs trust (their own refusal's words).
_NEEDS_TRUST = {"pickle": "a pickle", "joblib": "a joblib file (pickle)"}


def check_loadable(
    spec: str | os.PathLike[str],
    *,
    store: StoreArg = None,
    trust: bool = False,
    ignore_requirements: bool = False,
    allowed_hook_packages: list[str] | None = None,
) -> None:
    """Raise what ``load_model(spec, ...)`` would raise before it loads the model, if anything.

    Raises:
        The errors of :func:`~modelshelf.load_model` (``TrustRequiredError``,
        ``RequirementsError``, ``UntrustedStoreDataError``, ``NotAModelError``,
        ``UnknownModelFormatError``, a missing asset or version), with the same messages.
    """
    trusted = trust or constants.trust_pickle()
    try:
        allowed = _imports.allowed_packages(allowed_hook_packages)
    except _imports.ImportRefusedError as exc:
        raise InvalidInputError(str(exc)) from None
    if plain.is_local_path(spec):
        _check_detected(detect_format(plain.local_path(spec)), trusted)
        return
    shelf = shelf_of(store)
    resolved = shelf.resolve(os.fspath(spec))
    manifest = resolved.manifest
    where = f"{manifest.name}:{manifest.version} in {shelf.url}"
    section = manifest.extra.get(SECTION)
    if section is None:
        found = detect_plain(partial(_detect_unpulled, shelf, resolved), manifest, where)
        with naming(where):
            _check_detected(found, trusted)
        return
    section = section_object(section, where, shelf.url)
    cache = shelf.cache.root
    code = check_section(
        section, where, shelf.url, cache, allowed, ignore_requirements=ignore_requirements
    )
    runner = code.runner
    saved = saved_instance(section, runner, where, shelf.url, cache, allowed)
    if trusted:
        return
    with naming(where, shelf.url):
        if saved is not None and not overrides(runner, "load_model"):
            if saved.saved_as == "pickle":
                require_trust(False, _NEEDS_TRUST["pickle"], Path(FILES["pickle"]))
            return
        _check_engine_runner(runner, code.props)


def _detect_unpulled(shelf: Shelf, resolved: Resolved) -> DetectedFormat:
    """What detection finds in the version ``load_model`` would pull, without pulling it: a
    warm snapshot is read in place, else only the ends of each file that detection reads are
    fetched (its manifest gives names and sizes), never a whole file.
    """
    manifest, target = resolved.manifest, resolved.spec.path
    cache, store_id = shelf.cache, shelf.store_id
    if cache.is_complete(store_id, manifest.name, manifest.version) and cache.snapshot_is_whole(
        store_id, manifest
    ):
        return detect_format(cache.snapshot_path(store_id, manifest, target))
    entries = select_entries(resolved.spec, manifest)
    single = manifest.file(target) is not None if target else manifest.kind == "file"
    cut = 0 if single or not target else len(target) + 1
    by_name = {entry.path[cut:]: entry for entry in entries}
    root = f"{manifest.name}:{manifest.version}" + (f"/{target}" if target else "")

    def read(name: str, start: int, end: int) -> bytes:
        return bytes(shelf.store.open_blob(by_name[name].sha256).read_range(start, end))

    sizes = {name: entry.size for name, entry in by_name.items()}
    return detect_listing(root, sizes, read, folder=not single)


def _check_detected(found: DetectedFormat, trusted: bool) -> None:
    what = _NEEDS_TRUST.get(found.engine)
    if what is not None:
        require_trust(trusted, what, found.path)


def _check_engine_runner(runner: type[Runner], props: dict[str, str] | None) -> None:
    """The built-in runners that unpickle: the pickle runner, and scikit-learn's on joblib."""
    recorded = props or {}
    name = Path(str(recorded.get("file") or "model")).name
    if runner.load_model is PickleRunner.load_model:
        require_trust(False, _NEEDS_TRUST["pickle"], Path(name))
    elif runner.load_model is SklearnRunner.load_model and recorded.get("format") == "joblib":
        require_trust(False, _NEEDS_TRUST["joblib"], Path(name))
