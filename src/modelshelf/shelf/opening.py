"""Which store a ``Shelf`` stands on: chosen without opening it, and opened on first use.

:func:`choose_store` turns what the caller gave (a URL, a configured store's name, ``None`` for
the default, or a ready :class:`~modelshelf.backends.Backend`) and the backend settings into a
:class:`StoreChoice`: the URL that opens the store (it may hold a password), the URL that is
shown (it never does), the settings and the store's identity, which keys the cache. Nothing is
opened, imported beyond the backend's class, or asked for credentials until
:meth:`StoreChoice.open`, so a pinned version that is already cached is served with no network
call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelshelf.backends.base import Backend, without_password
from modelshelf.backends.registry import open_guarded, store_identity
from modelshelf.errors import InvalidInputError
from modelshelf.store.identity import REGISTRY_OPTIONS, is_registry_url, registry_identity
from modelshelf.store.named import merge_options, normalize_url, resolve_store

if TYPE_CHECKING:
    from modelshelf.store.api import MaintainedStore

__all__ = ["StoreChoice", "choose_store"]


@dataclass(frozen=True)
class StoreChoice:
    """The store a ``Shelf`` stands on, not opened yet.

    Attributes:
        url: the store's URL as shown: never holds a password.
        open_url: the URL that opens it: may hold a password.
        name: the config file's name for the store when it was chosen by name.
        options: the backend's settings (they may hold secrets).
        identity: everything that selects the store (never secrets), without opening it.
        backend: the backend the caller gave, already open.
        create_on_open: make the store on first use (the built-in store: no path anyone typed,
            and a user's first ``modelshelf ls`` expects an empty store there, not an error).
    """

    url: str
    open_url: str = field(repr=False)  # the repr never shows a secret
    name: str | None
    options: dict[str, Any] = field(repr=False)
    identity: dict[str, str] = field(repr=False)
    backend: Backend | None = field(default=None, repr=False)  # its repr may hold a URL
    create_on_open: bool = False

    def open(self, *, environment_token: bool = True) -> MaintainedStore:
        """The store layout: a registry's client for an ``http(s)://`` URL, else the bucket
        layout over the backend (the caller's, or one opened now).

        ``environment_token=False`` opens a registry with its own token only (``token`` /
        ``token_file``), never ``MODELSHELF_TOKEN``: for a store that is not the one the user
        chose as its store (a copy's destination)."""
        if self.backend is None and is_registry_url(self.open_url):
            from modelshelf.store.http import HttpStore

            return HttpStore(self.open_url, environment_token=environment_token, **self.options)
        from modelshelf.store.bucket import Store

        return Store(self.backend or open_guarded(self.open_url, **self.options))


def choose_store(
    store: str | Backend | None,
    backend_kwargs: Mapping[str, Any] | None,
    backend_options: Mapping[str, Any],
) -> StoreChoice:
    """The store ``Shelf(store, backend_kwargs=..., **backend_options)`` stands on.

    Raises:
        InvalidInputError: a setting given twice, or a boolean setting that is not true/false.
        ConfigError: a name the config file does not declare, or a malformed config file.
    """
    options = merge_options(backend_kwargs, backend_options)
    if isinstance(store, Backend):
        return StoreChoice(
            url=without_password(store.url),
            open_url=store.url,
            name=None,
            options=options,
            identity=store.store_identity(),
            backend=store,
        )
    resolved = resolve_store(store or None, options)
    options = dict(resolved.options)
    open_url = normalize_url(resolved.url)
    if not is_registry_url(open_url):
        options.pop("ca_file", None)  # --ca-file is for the registry stores of a command line
    else:
        unknown = sorted(set(options) - set(REGISTRY_OPTIONS))
        if unknown:
            raise InvalidInputError(
                f"the registry store {without_password(open_url)} takes no setting"
                f" {', '.join(unknown)}; it takes {', '.join(REGISTRY_OPTIONS)}"
            )
        return StoreChoice(
            url=without_password(open_url),
            open_url=open_url,
            name=resolved.name,
            options=options,
            identity=registry_identity(open_url),
        )
    return StoreChoice(
        url=without_password(open_url),
        open_url=open_url,
        name=resolved.name,
        options=options,
        identity=store_identity(open_url, **options),
        create_on_open=resolved.source == "built-in",
    )
