"""``registry token`` through a running registry: the ``/api/v1/tokens`` routes, with the
caller's ``admin:*`` token, over the HTTP store client's transport (TLS, CA file, retries,
errors turned back into :class:`~modelshelf.errors.ModelshelfError`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelshelf.errors import StoreError

if TYPE_CHECKING:
    from modelshelf.shelf.shelf import Shelf

__all__ = ["RemoteTokens"]


class RemoteTokens:
    """Create, list and revoke tokens through the registry ``shelf`` opens."""

    def __init__(self, shelf: Shelf) -> None:
        self.url = shelf.url
        raise StoreError(
            f"managing tokens through the registry {self.url} needs the HTTP store client,"
            " which this install lacks; run the command against the bucket behind the registry"
        )

    def create(self, name: str, scopes: list[str], expires: str | None) -> dict[str, Any]:
        raise NotImplementedError

    def list(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def revoke(self, name: str) -> None:
        raise NotImplementedError
