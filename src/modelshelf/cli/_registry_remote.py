"""``registry token`` through a running registry: the ``/api/v1/tokens`` routes, with the
caller's ``admin:*`` token, over the HTTP store client's transport (the token from the store's
settings or ``MODELSHELF_TOKEN``, TLS with ``ca_file``, retries, the registry's errors turned
back into :class:`~modelshelf.errors.ModelshelfError`)."""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING, Any

from modelshelf.errors import StoreError, UntrustedStoreDataError
from modelshelf.store.http_protocol import API, MAX_JSON_BODY

if TYPE_CHECKING:
    from modelshelf.shelf.opening import StoreChoice
    from modelshelf.store._http_transport import Transport

__all__ = ["RemoteTokens", "admin_transport"]

_TOKENS = f"{API}/tokens"


def admin_transport(choice: StoreChoice, managing: str) -> Transport:
    """The HTTP store client's transport to the registry ``choice`` names, with the caller's
    token (the store's settings or ``MODELSHELF_TOKEN``) and TLS settings, for managing
    ``managing`` (tokens, webhooks) through its admin routes.

    Raises:
        StoreError: this install has no HTTP store client.
    """
    try:
        from modelshelf.store._http_transport import Transport, load_token
    except ImportError:  # the client is not part of this install
        raise StoreError(
            f"managing {managing} through the registry {choice.url} needs modelshelf's HTTP"
            " store client, which this install lacks; upgrade modelshelf, or run the"
            " command with --store set to the bucket behind the registry"
        ) from None
    options = choice.options
    token = load_token(options.get("token"), options.get("token_file"), choice.url)
    return Transport(choice.open_url, token=token, ca_file=options.get("ca_file"))


class RemoteTokens:
    """Create, list and revoke tokens through the registry ``choice`` names.

    Raises:
        StoreError: this install has no HTTP store client.
    """

    def __init__(self, choice: StoreChoice) -> None:
        self.url = choice.url
        self.transport = admin_transport(choice, "tokens")

    def create(self, name: str, scopes: list[str], expires: str | None) -> dict[str, Any]:
        payload = {"name": name, "scopes": scopes, "expires": expires}
        answer = self.transport.json(
            "POST", _TOKENS, payload=payload, limit=MAX_JSON_BODY, what="the new token",
            idempotent=False, ok=(201,),
        )  # fmt: skip
        if not isinstance(answer.get("token"), str):
            raise self.transport.untrusted("the answer to a token's creation holds no token")
        return answer

    def list(self) -> list[dict[str, Any]]:
        answer = self.transport.json("GET", _TOKENS, limit=MAX_JSON_BODY, what="the token list")
        rows = answer.get("tokens")
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise UntrustedStoreDataError(
                f"the registry {self.url} answered a token list that is not a list of objects;"
                " is it a modelshelf registry of a matching version?",
                store=self.url,
            )
        return rows

    def close(self) -> None:
        """Close the connections to the registry."""
        self.transport.close()

    def revoke(self, name: str) -> None:
        path = f"{_TOKENS}/{urllib.parse.quote(name, safe='')}"
        self.transport.send("DELETE", path, idempotent=True, ok=(200, 204)).close()
