"""Which backend class serves which URL scheme.

Built-in schemes map to ``"module:Class"`` strings imported on first use, so ``import modelshelf``
stays fast and a missing optional dependency becomes an install hint. Third-party packages add
schemes through the ``modelshelf.backends`` entry-point group (``scheme = "pkg.mod:Class"``) or
by calling :func:`register_backend`. A store can also be named directly by import path,
``"my_pkg.stores:MyBackend"``, with keyword arguments for its constructor.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from modelshelf.backends._guard import GuardedBackend, scrub
from modelshelf.backends.base import Backend, without_password
from modelshelf.errors import ModelshelfError, UnsupportedStoreError
from modelshelf.trust import foreign_error

__all__ = [
    "get_backend_class",
    "open_backend",
    "open_guarded",
    "register_backend",
    "registry",
    "store_identity",
]

_registry: dict[str, type[Backend] | str] = {
    "file": "modelshelf.backends.local:LocalBackend",
    "memory": "modelshelf.backends.memory:MemoryBackend",
    "s3": "modelshelf.backends.s3:S3Backend",
    "gs": "modelshelf.backends.gcs:GCSBackend",
    "az": "modelshelf.backends.azure:AzureBackend",
    "azure": "modelshelf.backends.azure:AzureBackend",
}
_install_hints = {
    "s3": "reinstall modelshelf: obstore provides s3://",
    "gs": "reinstall modelshelf: obstore provides gs://",
    "az": "reinstall modelshelf: obstore provides az://",
    "azure": "reinstall modelshelf: obstore provides azure://",
}
_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_entry_points_loaded = False

registry: Mapping[str, type[Backend] | str] = MappingProxyType(_registry)
"""Read-only view of scheme -> backend class (or its import path, until first use)."""


def register_backend(scheme: str, backend: type[Backend] | str, *, clobber: bool = False) -> None:
    """Serve ``scheme://`` URLs with ``backend`` (a class or ``"module:Class"``).

    The class must offer ``from_url(url, **kwargs)``.

    Raises:
        ValueError: the scheme is taken and ``clobber`` is false.
    """
    if scheme in _registry and not clobber:
        raise ValueError(
            f"scheme {scheme!r} is already registered; pass clobber=True to replace it"
        )
    _registry[scheme] = backend


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    # Imported here: reading installed distributions costs ~25 ms, paid only when a URL's
    # scheme is not a built-in one.
    from importlib.metadata import entry_points

    for ep in entry_points(group="modelshelf.backends"):
        _registry.setdefault(ep.name, ep.value)


def _import(path: str, what: str) -> type[Backend]:
    """The backend class ``path`` names, by the rule of :mod:`modelshelf._imports` for a path
    the user chose (a URL, an entry point, ``register_backend``): found wherever Python finds
    it and possibly re-exported by its package, but looked up without running attribute code,
    never through a module, and only a :class:`Backend` subclass."""
    from modelshelf import _imports  # ~10 ms (inspect): paid only for a backend not yet loaded

    module_name, _, attr = path.partition(":")
    try:
        cls = _imports.import_object(
            path,
            "backend",
            expect="a modelshelf.backends.Backend subclass",
            from_store=False,
            installed_only=False,
            defined_there=False,
            kind=Backend,
        )
    except _imports.ImportRefusedError as exc:
        if exc.reason == "missing":
            raise UnsupportedStoreError(f"{module_name} has no backend class {attr!r}") from None
        if exc.reason == "object":
            said = f"{path} is not a modelshelf.backends.Backend subclass"
            detail = str(exc.args[0])  # the rule's own words, when they add to ours
            if not detail.endswith("is not a modelshelf.backends.Backend subclass"):
                said += f": {detail}"
            raise UnsupportedStoreError(said) from None
        raise UnsupportedStoreError(f"cannot use {what}: {exc.args[0]}") from None
    except ImportError as exc:
        hint = _install_hints.get(what, f"install the package that provides {module_name}")
        raise UnsupportedStoreError(f"cannot use {what}: {exc}; {hint}") from exc
    assert isinstance(cls, type) and issubclass(cls, Backend)  # kind=Backend
    return cls


def get_backend_class(scheme: str) -> type[Backend]:
    """The backend class for a scheme, imported on first use."""
    entry = _registry.get(scheme)
    if entry is None:  # entry points never replace a known scheme: read them only when needed
        _load_entry_points()
        entry = _registry.get(scheme)
    if entry is None:
        known = ", ".join(f"{s}://" for s in sorted(_registry))
        raise UnsupportedStoreError(
            f"unknown store scheme {scheme + '://'!r}; known schemes: {known}, or a custom"
            " backend as 'package.module:Class'"
        )
    if isinstance(entry, str):
        entry = _import(entry, scheme)
        _registry[scheme] = entry
    return entry


def open_backend(url: str, **kwargs: Any) -> Backend:
    """Open the backend a store URL names.

    Args:
        url: ``file:///path``, ``memory://name``, ``s3://bucket/prefix``, any registered scheme,
            or ``package.module:Class`` for a custom backend (called with ``kwargs``).
        **kwargs: backend settings; they beat environment variables.

    Raises:
        StoreError: the store cannot be opened. A backend's own exception (not a
            :class:`~modelshelf.errors.ModelshelfError`) becomes an ``UnsupportedStoreError``
            naming the store; the values of options named like secrets are cut out of every
            message.

    Example:
        >>> open_backend("memory://doc-example").url
        'memory://doc-example'
    """
    try:
        return _open(url, **kwargs)
    except ModelshelfError as exc:
        exc.args = tuple(scrub(a, kwargs) if isinstance(a, str) else a for a in exc.args)
        raise
    except Exception as exc:
        where = without_password(url)
        detail = scrub(str(exc), kwargs)
        if isinstance(exc, TypeError) and "keyword argument" in detail:
            given = ", ".join(sorted(kwargs)) or "none"
            raise UnsupportedStoreError(
                f"cannot open the store {where}: the backend does not take a setting it was"
                f" given ({detail}); settings given: {given}"
            ).with_fix(
                "; check {backend_options}, {profile}, {anonymous}, or the store's entry in the"
                " config file"
            ) from None
        raise UnsupportedStoreError(
            f"cannot open the store {where}: {foreign_error(exc, 400, text=detail)}"
        ).with_fix(
            "; check the store URL and the backend's settings ({backend_options}, or the config"
            " file)"
        ) from None


def open_guarded(url: str, **kwargs: Any) -> Backend:
    """:func:`open_backend`, with a third-party backend wrapped in a
    :class:`~modelshelf.backends._guard.GuardedBackend`: its own exceptions (``ConnectionError``,
    ``PermissionError``, ...) become one-line store errors naming the store, with secrets cut.
    Built-in backends translate their errors themselves and are returned as they are.
    """
    backend = open_backend(url, **kwargs)
    if type(backend).__module__.startswith("modelshelf."):
        return backend
    return GuardedBackend(backend, kwargs)


def _open(url: str, **kwargs: Any) -> Backend:
    if not url or not url.strip():
        raise UnsupportedStoreError("the store URL is empty").with_fix(
            "; pass {store} or set MODELSHELF_STORE"
        )
    if "://" not in url:
        if _IMPORT_PATH.match(url):
            return _import(url, url)(**kwargs)
        if url.startswith(("/", "~", ".")):
            return get_backend_class("file").from_url(url, **kwargs)  # type: ignore[attr-defined, no-any-return]
        raise UnsupportedStoreError(
            f"cannot tell what store {url!r} is: use a URL such as file:///path, s3://bucket/prefix"
            " or memory://name, a path such as ./folder, or the name of a store in the config"
            " file (modelshelf config stores)"
        )
    scheme = url.split("://", 1)[0].lower()
    cls = get_backend_class(scheme)
    from_url = getattr(cls, "from_url", None)
    if from_url is None:
        raise UnsupportedStoreError(f"backend {cls.__name__} for {scheme}:// has no from_url()")
    backend: Backend = from_url(url, **kwargs)
    return backend


def store_identity(url: str, **kwargs: Any) -> dict[str, str]:
    """What selects the store ``open_backend(url, **kwargs)`` would open, without opening it.

    The backend class is imported (no network, no credentials) and asked for its
    :meth:`~modelshelf.backends.Backend.identity`, which leaves secrets out. If the class cannot
    be found, the URL and options stand for it; opening the store reports the real error.
    """
    cls: type[Backend]
    try:
        if "://" in url:
            cls = get_backend_class(url.split("://", 1)[0].lower())
        elif _IMPORT_PATH.match(url):
            cls = _import(url, url)
        else:
            cls = get_backend_class("file")
    except UnsupportedStoreError:
        return Backend.identity(url, **kwargs)
    return cls.identity(url, **kwargs)
