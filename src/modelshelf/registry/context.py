"""What every route of the registry works with: the store behind it and the caller.

:class:`RegistryContext` is made once by :func:`modelshelf.registry.app.create_app`;
:class:`Principal` once per request by :mod:`modelshelf.registry.auth` (from the bearer token,
or the anonymous-read prefixes when there is none).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from modelshelf.errors import ModelshelfError, StoreAuthError, StoreError
from modelshelf.registry.scopes import Action, Scope
from modelshelf.store.bucket import Store
from modelshelf.store.http_protocol import status_for

__all__ = [
    "ANONYMOUS",
    "CallerRefusedError",
    "Principal",
    "RegistryContext",
    "behind_failed",
    "failure_told",
]

ANONYMOUS = "anonymous"


class CallerRefusedError(StoreAuthError):
    """The registry refuses the caller (not the store behind it refusing the registry).

    Answered with :attr:`status` (401: no token, or a bad, expired or revoked one; 403: a
    token without the scope needed) and the type ``StoreAuthError``. A plain
    :class:`StoreAuthError` from the store behind the registry is the registry's own
    credentials failing: 503, never blamed on the caller's token.
    """

    status: int = 401

    def __init__(self, message: str, *, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


def behind_failed(exc: ModelshelfError) -> bool:
    """True if the store behind the registry failed (down, 5xx, refusing the registry's own
    credentials): never the caller's fault, answered 503 and worth a retry."""
    return (
        isinstance(exc, StoreError)
        and not isinstance(exc, CallerRefusedError)
        and (isinstance(exc, StoreAuthError) or status_for(exc) >= 500)
    )


def failure_told(store_url: str) -> StoreError:
    """What a caller is told when the store behind failed: that it did, never its endpoint,
    host or error text (those go to the registry's log). ``store_url`` is replaced by the
    registry's own URL in the answer."""
    return StoreError(
        f"the store behind the registry at {store_url} failed on this request; try again in a"
        " moment (the registry's log says why)"
    )


@dataclass
class RegistryContext:
    """The registry's settings and the store behind it.

    Attributes:
        store: the bucket layout every piece of state lives in.
        anonymous_read: name prefixes anyone may read without a token.
        redirect: answer blob downloads with a 307 to a presigned URL where the backend can sign.
        spool_dir: where request bodies are spooled while they are hashed (never in memory).
        background: what runs beside the requests while the app is up (the upload sweep, the
            pages' catalog, webhook deliveries): each is called with the app, once, and must
            survive its own errors (log and try again), never end the app.
    """

    store: Store
    anonymous_read: tuple[str, ...] = ()
    redirect: bool = True
    spool_dir: Path | None = None
    # The bound of _blob_io.storing, made on first use inside the app's event loop.
    store_puts: anyio.CapacityLimiter | None = field(default=None, repr=False)
    background: list[Callable[[Any], Coroutine[Any, Any, None]]] = field(
        default_factory=list, repr=False
    )


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token's name and scopes, or ``anonymous`` with the anonymous-read ones."""

    name: str
    scopes: tuple[Scope, ...]

    @property
    def anonymous(self) -> bool:
        return self.name == ANONYMOUS

    def can(self, action: Action, name: str | None = None) -> bool:
        """True if a scope grants ``action`` on asset ``name`` (``None``: on every name)."""
        return any(scope.allows(action, name) for scope in self.scopes)

    def can_any(self, action: Action) -> bool:
        """True if a scope grants ``action`` on some name (blobs: their names are content)."""
        return any(scope.grants(action) for scope in self.scopes)

    def require_any(self, action: Action) -> None:
        """Refuse the request unless :meth:`can_any`: blob names are content, so any read scope
        reads every blob and any write scope uploads; a listing needs some read scope.

        Raises:
            StoreAuthError: as :meth:`require` does, naming the scope.
        """
        if not self.can_any(action):
            self.require(action, None)

    def require(self, action: Action, name: str | None = None) -> None:
        """Refuse the request unless :meth:`can`.

        Raises:
            StoreAuthError: with the scope needed and who asked (answered 401 for anonymous
                callers, 403 for a token).
        """
        if self.can(action, name):
            return
        needed = f"{action}:{name if name is not None else '*'}"
        if self.anonymous:
            raise CallerRefusedError(
                f"the registry refused access without a token: this needs one with the scope"
                f" {needed}; set MODELSHELF_TOKEN, or token / token_file in the store's table of"
                " the config file"
            )
        raise CallerRefusedError(
            f"the token {self.name!r} may not do this: it needs the scope {needed} (it has"
            f" {', '.join(str(s) for s in self.scopes) or 'none'}); ask an admin for a token"
            " that has it",
            status=403,
        )
