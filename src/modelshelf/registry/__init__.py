"""The registry server: one shelf shared over HTTP, with tokens, in front of any bucket store.

Owns the ASGI app (:func:`create_app`), token records and scopes, and the routes of the HTTP
API (:mod:`modelshelf.store.http_protocol` says what travels). Stateless over its store: every
piece of state (manifests, aliases, audit log, tokens, upload sessions) lives in the store, so
replicas behind a load balancer behave as one registry.

May import: store, transfer, backends and the vocabulary; never shelf, serve or cli.
Exports: :func:`create_app` (needs the ``registry`` extra: FastAPI and uvicorn), and
:func:`verify_webhook` and its :class:`WebhookVerificationError` for webhook receivers
(they need nothing more).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelshelf.registry.app import create_app
    from modelshelf.registry.webhooks.signing import WebhookVerificationError, verify_webhook

__all__ = ["WebhookVerificationError", "create_app", "verify_webhook"]


def __getattr__(name: str) -> Any:
    # FastAPI is imported only when the app is asked for: `registry token` needs no server.
    if name == "create_app":
        from modelshelf.registry.app import create_app

        return create_app
    if name in ("verify_webhook", "WebhookVerificationError"):
        from modelshelf.registry.webhooks import signing

        return getattr(signing, name)
    raise AttributeError(name)
