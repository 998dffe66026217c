"""One delivery over HTTP: the body, its signed headers, a POST with a deadline, the outcome.

A delivery is a ``POST`` of the JSON body to the hook's URL; a ``2xx`` answer is delivered,
anything else (another status, no answer within :data:`TIMEOUT`, a refused connection, a TLS
failure) is a failure to retry. Redirects are not followed (a ``3xx`` is a failure), the
answer's body is never read, and no proxy or ``.netrc`` setting of the environment is used.
Certificates of ``https://`` receivers are verified against the system's CAs (OpenSSL's default
paths; ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` are honoured by OpenSSL itself).

What a failure records is its kind (``timed out after 10 s``, ``connection refused``), never
the exception's text, which may quote the URL (whose path or query can be a secret).
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from modelshelf.errors import ModelshelfError
from modelshelf.registry.webhooks._records import log_id
from modelshelf.registry.webhooks.deliveries import Attempt, DeliveryLog
from modelshelf.registry.webhooks.hooks import Hook
from modelshelf.registry.webhooks.signing import signed_headers
from modelshelf.store.bucket import Store, now_iso

__all__ = ["TIMEOUT", "AsyncSender", "Outcome", "body_of", "ping", "send_now"]

log = logging.getLogger("modelshelf.registry.webhooks")

TIMEOUT = 10.0
"""Seconds a receiver has to answer one delivery (connect, send, first byte of the answer)."""


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: a status, or the reason there was none."""

    status: int | None
    error: str | None
    duration_ms: float
    sent_at: str

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def body_of(
    hook: Hook, *, delivery: str, event: str, asset: str, record: dict[str, Any], sent_at: str
) -> bytes:
    """The JSON body of one delivery (compact, keys in a fixed order)."""
    return json.dumps(
        {
            "id": delivery,
            "event": event,
            "asset": asset,
            "record": record,
            "registry": hook.registry,
            "sent_at": sent_at,
        },
        separators=(",", ":"),
    ).encode()


def _request(
    hook: Hook, delivery: str, event: str, asset: str, record: dict[str, Any]
) -> tuple[bytes, dict[str, str], str]:
    sent_at = now_iso()
    body = body_of(hook, delivery=delivery, event=event, asset=asset, record=record,
                   sent_at=sent_at)  # fmt: skip
    headers = signed_headers(hook.secret, body, event=event, delivery=delivery, sent_at=sent_at)
    return body, headers, sent_at


def failure_of(exc: BaseException, timeout: float) -> str:
    """A one-line reason for a delivery without an answer; never the exception's text."""
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"timed out after {timeout:g} s"
    if isinstance(exc, httpx.ConnectError):
        cause = exc.__context__ or exc.__cause__
        if isinstance(cause, ssl.SSLError) or "SSL" in type(cause).__name__:
            return "TLS failed (the receiver's certificate did not verify?)"
        return "could not connect (refused, or the host is unknown or unreachable)"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the receiver closed the connection or broke HTTP"
    if isinstance(exc, httpx.HTTPError):
        return f"HTTP failed ({type(exc).__name__})"
    return f"failed ({type(exc).__name__})"


def _client_options(timeout: float) -> dict[str, Any]:
    return {
        "verify": ssl.create_default_context(),
        "follow_redirects": False,
        "trust_env": False,
        "timeout": httpx.Timeout(timeout),
    }


class AsyncSender:
    """Deliveries from the dispatcher: one pooled async client, a deadline per delivery.

    Args:
        timeout: seconds a receiver has, the whole delivery (connect to answer's status).
        max_connections: connections open at once (over every hook).
    """

    def __init__(self, timeout: float = TIMEOUT, max_connections: int = 32) -> None:
        self.timeout = timeout
        self._client = httpx.AsyncClient(
            **_client_options(timeout),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=8),
        )

    async def send(
        self, hook: Hook, delivery: str, event: str, asset: str, record: dict[str, Any]
    ) -> Outcome:
        body, headers, sent_at = _request(hook, delivery, event, asset, record)
        start = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            with anyio.fail_after(self.timeout):
                request = self._client.build_request("POST", hook.url, content=body,
                                                     headers=headers)  # fmt: skip
                response = await self._client.send(request, stream=True)
                status = response.status_code
                await response.aclose()  # the answer's body is never read
        except (TimeoutError, httpx.HTTPError, OSError, ssl.SSLError) as exc:
            error = failure_of(exc, self.timeout)
        return Outcome(status, error, round((time.monotonic() - start) * 1000, 1), sent_at)

    async def aclose(self) -> None:
        await self._client.aclose()


def send_now(
    hook: Hook,
    delivery: str,
    event: str,
    asset: str,
    record: dict[str, Any],
    timeout: float = TIMEOUT,
) -> Outcome:
    """One delivery from a blocking caller (``webhook test``), with its own connection and the
    dispatcher's deadline on the whole of it: httpx's timeouts bound each read, not a
    receiver that answers a byte at a time."""

    async def once() -> Outcome:
        sender = AsyncSender(timeout, max_connections=1)
        try:
            return await sender.send(hook, delivery, event, asset, record)
        finally:
            await sender.aclose()

    return anyio.run(once)


def ping(store: Store, hook: Hook, who: str, timeout: float = TIMEOUT) -> Attempt:
    """Send ``hook`` a ``ping`` now and write it in its delivery log (``webhook test``).

    Pings are never retried: the answer is the receiver's, at once.
    """
    delivery = f"{hook.id}:ping-{log_id()}"
    record = {"action": "ping", "name": "", "when": now_iso(), "user": who, "host": "registry",
              "message": "a test delivery from modelshelf registry webhook test"}  # fmt: skip
    outcome = send_now(hook, delivery, "ping", "", record, timeout)
    attempt = Attempt(
        delivery=delivery, hook=hook.id, change=delivery.partition(":")[2], event="ping",
        asset="", attempt=1, status=outcome.status, error=outcome.error,
        duration_ms=outcome.duration_ms, at=outcome.sent_at, next_try=None,
        outcome="delivered" if outcome.ok else "failed",
    )  # fmt: skip
    try:
        DeliveryLog(store).record(attempt)
    except ModelshelfError as exc:
        log.warning("webhook %s: could not write the ping in its delivery log: %s", hook.id, exc)
    return attempt
