"""Where a registry's admin commands (``registry token``, ``registry webhook``) act: the
registry in front of a store, through its API with the caller's ``admin:*`` token, or the
bucket store itself, for whoever holds its credentials. One choice for every such command."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Protocol, TypeVar

import click

from modelshelf.cli._common import backend_kwargs_from, shelf_from
from modelshelf.errors import InvalidInputError
from modelshelf.shelf.opening import StoreChoice, choose_store
from modelshelf.store.bucket import Store
from modelshelf.store.identity import is_registry_url

__all__ = ["admin_target", "bucket_store", "not_a_bucket", "store_choice"]


class _Closable(Protocol):
    def close(self) -> None: ...


T = TypeVar("T", bound=_Closable)


def store_choice(ctx: click.Context) -> StoreChoice:
    """The store --store (or the default) names, with the backend settings of the command
    line, not opened."""
    return choose_store((ctx.find_root().obj or {}).get("store"), backend_kwargs_from(ctx), {})


def not_a_bucket(command: str, url: str) -> InvalidInputError:
    return InvalidInputError(
        f"{command} needs the bucket behind a registry, not the registry {url}: give the store's"
        " bucket URL (s3://, gs://, az://, file://) or its name in the config file"
    )


def bucket_store(ctx: click.Context, command: str) -> Store:
    """The bucket store --store names (what a registry keeps lives in its bucket)."""
    shelf = shelf_from(ctx)
    if is_registry_url(shelf.url):
        raise not_a_bucket(command, shelf.url)
    store = shelf.store
    if not isinstance(store, Store):  # a store kind that is no bucket layout
        raise InvalidInputError(
            f"{command} needs a bucket store (s3://, gs://, az://, file://); {shelf.url} is not one"
        )
    return store


@contextlib.contextmanager
def admin_target(
    ctx: click.Context,
    command: str,
    remote: Callable[[StoreChoice], T],
    direct: Callable[[Store], T],
) -> Iterator[T]:
    """``remote(choice)`` for a registry URL, else ``direct(bucket store)``; closed when the
    command is done (a registry's connections).

    Raises:
        InvalidInputError: ``--anonymous`` with a registry (these need an admin token), or a
            store that is neither a registry nor a bucket layout.
    """
    choice = store_choice(ctx)
    if is_registry_url(choice.url):
        if choice.options.get("anonymous"):
            raise InvalidInputError(f"{command} needs an admin:* token; drop --anonymous")
        target = remote(choice)
    else:
        target = direct(bucket_store(ctx, command))
    try:
        yield target
    finally:
        target.close()
