"""``registry webhook`` through a running registry: the ``/api/v1/webhooks`` routes, with the
caller's ``admin:*`` token, over the HTTP store client's transport (as ``registry token`` does,
:mod:`modelshelf.cli._registry_remote`). Every answer is checked for its shape before use."""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING, Any

from modelshelf.cli._registry_remote import admin_transport
from modelshelf.errors import UntrustedStoreDataError
from modelshelf.store.http_protocol import API, MAX_JSON_BODY

if TYPE_CHECKING:
    from modelshelf.shelf.opening import StoreChoice

__all__ = ["RemoteWebhooks"]

_HOOKS = f"{API}/webhooks"


class RemoteWebhooks:
    """Add, list, remove, test hooks and read their delivery logs through the registry
    ``choice`` names.

    Raises:
        StoreError: this install has no HTTP store client.
    """

    def __init__(self, choice: StoreChoice) -> None:
        self.url = choice.url
        self.transport = admin_transport(choice, "webhooks")

    def _path(self, hook_id: str, tail: str = "") -> str:
        return f"{_HOOKS}/{urllib.parse.quote(hook_id, safe='')}{tail}"

    def _rows(self, answer: dict[str, Any], key: str, what: str) -> list[dict[str, Any]]:
        rows = answer.get(key)
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise UntrustedStoreDataError(
                f"the registry {self.url} answered {what} that is not a list of objects; is it"
                " a modelshelf registry of a matching version?",
                store=self.url,
            )
        return rows

    def add(self, url: str, events: list[str], prefix: str) -> dict[str, Any]:
        answer = self.transport.json(
            "POST", _HOOKS, payload={"url": url, "events": events, "prefix": prefix},
            limit=MAX_JSON_BODY, what="the new webhook", idempotent=False, ok=(201,),
        )  # fmt: skip
        if not isinstance(answer.get("secret"), str) or not isinstance(answer.get("hook"), dict):
            raise self.transport.untrusted("the answer to a webhook's creation holds no secret")
        return answer

    def hooks(self) -> list[dict[str, Any]]:
        answer = self.transport.json("GET", _HOOKS, limit=MAX_JSON_BODY, what="the webhook list")
        return self._rows(answer, "hooks", "a webhook list")

    def remove(self, hook_id: str) -> None:
        self.transport.send("DELETE", self._path(hook_id), idempotent=True, ok=(200, 204)).close()

    def test(self, hook_id: str) -> dict[str, Any]:
        return self.transport.json(
            "POST", self._path(hook_id, "/test"), limit=MAX_JSON_BODY,
            what="the webhook test's answer", idempotent=False,
        )  # fmt: skip

    def deliveries(self, hook_id: str, limit: int) -> list[dict[str, Any]]:
        answer = self.transport.json(
            "GET", self._path(hook_id, "/deliveries"), params={"limit": limit},
            limit=MAX_JSON_BODY, what="the delivery log",
        )  # fmt: skip
        return self._rows(answer, "deliveries", "a delivery log")

    def close(self) -> None:
        """Close the connections to the registry."""
        self.transport.close()
