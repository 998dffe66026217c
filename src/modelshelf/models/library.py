"""Declarative models whose assets are pulled before any model starts, or lazily on first use.

A :class:`Model` subclass declares its configurations; a :class:`ModelLibrary` resolves every
declared asset, pulls them concurrently (bounded by ``MODELSHELF_MAX_CONCURRENCY``), and only
then instantiates and loads the models. A missing asset fails start-up with every missing name in
one :class:`~modelshelf.errors.ModelAssetsMissingError`.

Example:
    >>> import modelshelf
    >>> class Upper(modelshelf.Model):
    ...     CONFIGURATIONS = {"upper": {}}  # {"asset": "nlp/vocab:1"} to pull an asset
    ...     def _predict(self, item):
    ...         return item.upper()
    >>> modelshelf.ModelLibrary([Upper]).get("upper").predict("hi")
    'HI'

For development, ``MODELSHELF_ASSET_OVERRIDES="nlp/vocab=/path/to/folder,other/x=/p"`` serves
those asset names from local paths instead of the store (a warning is logged for each).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

from modelshelf import constants
from modelshelf._paths import user_path
from modelshelf.backends.base import Backend
from modelshelf.errors import AssetNotFoundError, InvalidInputError, ModelAssetsMissingError
from modelshelf.shelf.pull import select_entries
from modelshelf.shelf.resolve import Resolved
from modelshelf.shelf.shelf import Shelf
from modelshelf.spec import parse_spec, validate_name
from modelshelf.transfer.download import run_concurrently
from modelshelf.trust import show

__all__ = ["Model", "ModelLibrary"]

logger = logging.getLogger("modelshelf")

#: Configuration keys the library reads itself; every other key goes to ``model_settings``.
RESERVED_KEYS = frozenset({"asset"})


class Model:
    """Base class of a declarative model.

    Subclasses declare ``CONFIGURATIONS`` (configuration name -> settings; ``"asset"`` is a spec
    such as ``"nlp/sentiment:1"`` or ``"nlp/sentiment:1/vocab.txt"``, optional; any other key
    lands in :attr:`model_settings`) and implement :meth:`_predict`, and usually :meth:`_load`.

    A model used before it was loaded loads itself on first ``predict`` (once, thread-safe);
    a :class:`ModelLibrary` loads its models before handing them out.

    Attributes:
        configuration: the configuration name this instance serves.
        asset_path: the pulled folder, or the file for a spec with a sub path or a one-file
            asset; ``None`` when the configuration has no asset.
        model_settings: the configuration's keys other than ``"asset"``.
    """

    CONFIGURATIONS: ClassVar[Mapping[str, Mapping[str, Any]]] = {}

    def __init__(
        self,
        configuration: str,
        *,
        asset_path: Path | None = None,
        model_settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.configuration = configuration
        self.asset_path = asset_path
        if model_settings is None:
            declared = type(self).CONFIGURATIONS.get(configuration, {})
            model_settings = {k: v for k, v in declared.items() if k not in RESERVED_KEYS}
        self.model_settings: dict[str, Any] = dict(model_settings)
        self._loaded = False
        self._load_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.configuration!r})"

    @property
    def loaded(self) -> bool:
        """Whether :meth:`load` has run."""
        return self._loaded

    def load(self) -> None:
        """Run :meth:`_load` once; later calls (from any thread) return at once."""
        if self._loaded:
            return
        with self._load_lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    def predict(self, item: Any) -> Any:
        """Predict one item (loading the model first if needed)."""
        self.load()
        return self._predict(item)

    def predict_batch(self, items: list[Any]) -> list[Any]:
        """Predict a list of items, in order (loading the model first if needed)."""
        self.load()
        return self._predict_batch(list(items))

    def _load(self) -> None:
        """Load weights from :attr:`asset_path`; the default does nothing."""

    def _predict(self, item: Any) -> Any:
        """Predict one item; must be implemented."""
        raise NotImplementedError(f"'_predict' must be implemented by {type(self).__name__}")

    def _predict_batch(self, items: list[Any]) -> list[Any]:
        """Predict a batch; override for real batching. Default: one :meth:`_predict` each."""
        return [self._predict(item) for item in items]


class ModelLibrary:
    """A set of :class:`Model` configurations, with their assets pulled before they start.

    Args:
        models: the :class:`Model` subclasses; configuration names must be unique across them.
        lazy_loading: defer pulling and loading each model to its first :meth:`get`.
        store: the store URL or backend of every asset (default ``MODELSHELF_STORE``).
        cache_dir: the cache root (default ``MODELSHELF_CACHE_DIR``).
        required_models: only these configuration names (default: every one declared).

    Raises:
        InvalidInputError: a configuration name declared twice, an unknown required name, or
            a malformed ``MODELSHELF_ASSET_OVERRIDES``.
        InvalidSpecError: an asset spec, or an override's asset name, is malformed.
        ModelAssetsMissingError: (eager) assets missing, all listed; no model was started.

    Offline (``MODELSHELF_OFFLINE=1``) or with an unreachable store, assets resolve from the
    cache exactly as :meth:`Shelf.pull` does.
    """

    def __init__(
        self,
        models: Iterable[type[Model]],
        *,
        lazy_loading: bool = False,
        store: str | Backend | None = None,
        cache_dir: str | Path | None = None,
        required_models: Iterable[str] | None = None,
    ) -> None:
        self._classes: dict[str, type[Model]] = {}
        for cls in models:
            for name in cls.CONFIGURATIONS:
                if name in self._classes:
                    raise InvalidInputError(
                        f"configuration {name!r} is declared by both"
                        f" {self._classes[name].__name__} and {cls.__name__}; rename one"
                    )
                self._classes[name] = cls
        declared = dict(self._classes)  # an override for a model not required is no typo
        if required_models is not None:
            required = list(dict.fromkeys(required_models))
            unknown = [n for n in required if n not in self._classes]
            if unknown:
                raise InvalidInputError(
                    f"required model(s) {', '.join(map(repr, unknown))} not declared; known:"
                    f" {', '.join(sorted(self._classes)) or '(none)'}"
                )
            self._classes = {n: self._classes[n] for n in required}
        for name, cls in self._classes.items():  # malformed specs fail now, even when lazy
            spec = cls.CONFIGURATIONS[name].get("asset")
            if spec is not None and not isinstance(spec, str):
                raise InvalidInputError(f"configuration {name!r}: 'asset' must be a spec string")
            if spec is not None:
                parse_spec(spec)
        self._overrides = constants.asset_overrides()
        for asset_name in self._overrides:
            validate_name(asset_name)  # a typo would otherwise silently override nothing
        _warn_unused_overrides(self._overrides, declared)
        self._store, self._cache_dir = store, cache_dir
        self._shelf: Shelf | None = None
        self._shelf_lock = threading.Lock()
        self._models: dict[str, Model] = {}
        self._locks = {name: threading.Lock() for name in self._classes}
        if not lazy_loading:
            names = list(self._classes)
            paths = self._pull(names)
            instances = {name: self._instantiate(name, paths.get(name)) for name in names}
            for name, model in instances.items():
                model.load()
                self._models[name] = model

    # -- the mapping a user expects ---------------------------------------------------------
    @property
    def models(self) -> Mapping[str, Model]:
        """The models loaded so far, by configuration name (all of them unless lazy)."""
        return MappingProxyType(dict(self._models))

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def __iter__(self) -> Iterator[str]:
        return iter(self._classes)

    def __len__(self) -> int:
        return len(self._classes)

    def __repr__(self) -> str:
        return f"ModelLibrary({list(self._classes)!r})"

    def get(self, name: str) -> Model:
        """The loaded model of configuration ``name`` (pulled and loaded now if lazy).

        Two threads asking for the same model at once pull and load it once.

        Raises:
            KeyError: no such configuration; the message lists the known ones.
            ModelAssetsMissingError: (lazy) its asset is missing.
        """
        model = self._models.get(name)
        if model is not None:
            return model
        if name not in self._classes:
            known = ", ".join(sorted(self._classes)) or "(none)"
            raise KeyError(f"no model configuration {name!r}; known: {known}")
        with self._locks[name]:
            model = self._models.get(name)
            if model is None:
                model = self._instantiate(name, self._pull([name]).get(name))
                model.load()
                self._models[name] = model
        return model

    # -- assets -----------------------------------------------------------------------------
    def _shelf_for_assets(self) -> Shelf:
        with self._shelf_lock:
            if self._shelf is None:
                self._shelf = Shelf(self._store, cache_dir=self._cache_dir)
            return self._shelf

    def _instantiate(self, name: str, path: Path | None) -> Model:
        declared = self._classes[name].CONFIGURATIONS[name]
        settings = {k: v for k, v in declared.items() if k not in RESERVED_KEYS}
        return self._classes[name](name, asset_path=path, model_settings=settings)

    def _pull(self, names: list[str]) -> dict[str, Path]:
        """Resolve then pull the assets of ``names``: configuration name -> local path.

        Every spec is resolved (concurrently) first, so that all missing ones are reported
        together before any download starts; identical specs are pulled once.
        """
        specs: dict[str, str] = {}
        paths: dict[str, Path] = {}
        missing: dict[str, str] = {}
        for name in names:
            spec = self._classes[name].CONFIGURATIONS[name].get("asset")
            if spec is None:
                continue
            override = self._override(name, spec)
            if isinstance(override, Path):
                paths[name] = override
            elif override:
                missing[name] = override
            else:
                specs[name] = spec
        unique = list(dict.fromkeys(specs.values()))
        if unique:
            shelf = self._shelf_for_assets()
            found = run_concurrently(lambda s: _resolve(shelf, s), unique)
            resolved = {s: r for s, r in zip(unique, found, strict=True) if isinstance(r, Resolved)}
            for name, spec in specs.items():
                answer = found[unique.index(spec)]
                if isinstance(answer, str):
                    missing[name] = answer
        if missing:
            raise ModelAssetsMissingError(missing, store=self._shelf.url if self._shelf else "")
        if unique:
            order = list(resolved)
            pulled = run_concurrently(lambda s: shelf.pull_resolved(resolved[s]), order)
            by_spec = dict(zip(order, pulled, strict=True))
            paths.update({name: by_spec[spec] for name, spec in specs.items()})
        return paths

    def _override(self, name: str, spec: str) -> Path | str | None:
        """The local path ``MODELSHELF_ASSET_OVERRIDES`` gives this spec, why it is missing
        (a string), or ``None`` when the asset is not overridden."""
        target = parse_spec(spec)
        local = self._overrides.get(target.name)
        if local is None:
            return None
        path = user_path(local, "MODELSHELF_ASSET_OVERRIDES path")
        if target.path:
            path = path / target.path
        if not path.exists():
            return f"{spec} is overridden by {path} (MODELSHELF_ASSET_OVERRIDES): no such path"
        logger.warning(
            "model %r: asset %s served from local %s (MODELSHELF_ASSET_OVERRIDES), not the store",
            name,
            spec,
            path,
        )
        return path


_WARNED: set[str] = set()


def _warn_unused_overrides(
    overrides: Mapping[str, str], declared: Mapping[str, type[Model]]
) -> None:
    """Warn (once per message and process) for each ``MODELSHELF_ASSET_OVERRIDES`` entry that
    names no asset of the declared configurations: a typo there would override nothing, and
    the store's asset would be served instead of the local folder."""
    assets = {
        parse_spec(spec).name
        for name, cls in declared.items()
        if isinstance(spec := cls.CONFIGURATIONS[name].get("asset"), str)
    }
    for name, path in overrides.items():
        if name in assets:
            continue
        known = ", ".join(sorted(assets)[:20]) + (", ..." if len(assets) > 20 else "") or "none"
        message = (
            f"MODELSHELF_ASSET_OVERRIDES entry {show(f'{name}={path}', 200)} names no asset of"
            f" this ModelLibrary's configurations (their assets: {known}), so it overrides"
            " nothing; fix the asset name or remove the entry"
        )
        if message not in _WARNED:
            _WARNED.add(message)
            logger.warning("%s", message)


def _resolve(shelf: Shelf, spec: str) -> Resolved | str:
    """``shelf.resolve(spec)`` with its sub path checked, or why the asset is missing."""
    try:
        resolved = shelf.resolve(spec)
        select_entries(resolved.spec, resolved.manifest)  # a sub path the version lacks
    except AssetNotFoundError as exc:
        return f"{spec}: {str(exc).splitlines()[0]}"
    return resolved
