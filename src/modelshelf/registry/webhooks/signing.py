"""Signing a webhook body, and the check a receiver runs: :func:`verify_webhook`.

Every delivery is a JSON body with four headers::

    X-Modelshelf-Event: push                       (push, alias, remove, label or ping)
    X-Modelshelf-Delivery: <hook id>:<change id>   (the same on every retry of one event)
    X-Modelshelf-Timestamp: 2026-12-08T00:19:36.123456Z   (the body's sent_at)
    X-Modelshelf-Signature: sha256=<hex HMAC-SHA256(secret, body)>

The signature covers the body, and the body holds ``id``, ``event`` and ``sent_at``: a receiver
trusts those, never the headers alone. This module imports neither FastAPI nor the store, so a
receiver pays for nothing but the standard library and :mod:`modelshelf.errors`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from modelshelf import trust
from modelshelf.errors import InvalidInputError

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "MAX_BODY",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "TIME_FORMAT",
    "WebhookVerificationError",
    "sign",
    "signed_headers",
    "verify_webhook",
]

EVENT_HEADER = "X-Modelshelf-Event"
DELIVERY_HEADER = "X-Modelshelf-Delivery"
TIMESTAMP_HEADER = "X-Modelshelf-Timestamp"
SIGNATURE_HEADER = "X-Modelshelf-Signature"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
MAX_BODY = 2 * 2**20
"""The largest body a registry sends (an audit record is at most 1 MiB): a receiver may refuse
more before reading it."""


class WebhookVerificationError(InvalidInputError):
    """A webhook delivery a receiver must refuse: its signature does not match the body, a
    header is missing or malformed, or it was sent longer ago than the receiver accepts (a
    replay). Raised by :func:`verify_webhook`; answer it with 401 (an
    :class:`~modelshelf.errors.InvalidInputError`, so a ``ValueError`` too)."""


_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of ``body``.

    Example:
        >>> sign("s3cret", b"{}")[:15]
        'sha256=adbde1ce'
    """
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, body: bytes, *, event: str, delivery: str, sent_at: str
) -> dict[str, str]:
    """The headers of one delivery of ``body`` (which holds ``sent_at``)."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "modelshelf-webhooks/1",
        EVENT_HEADER: event,
        DELIVERY_HEADER: delivery,
        TIMESTAMP_HEADER: sent_at,
        SIGNATURE_HEADER: sign(secret, body),
    }


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """``name`` of ``headers`` whatever the case of its keys (a dict, starlette's Headers,
    http.server's message, Flask's, ...)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, found in headers.items():
            if isinstance(key, str) and key.lower() == lowered:
                value = found
                break
    return value if isinstance(value, str) else None


def verify_webhook(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    max_age: float = 300,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Check one webhook delivery and return its body; raise if it must be refused.

    Checks, in this order: the body is at most :data:`MAX_BODY` bytes; the signature header is
    ``sha256=<64 hex>`` and equals the HMAC-SHA256 of the bytes received (compared in constant
    time); the body is a JSON object with ``id``, ``event`` and ``sent_at``; the timestamp,
    event and delivery headers (when sent) say what the signed body says; and ``sent_at`` is at
    most ``max_age`` seconds old (or ahead: clocks differ). A delivery that passes is genuine;
    it may still be a retry of one seen before: drop duplicates by its ``id`` (keep the ids seen
    in the last ``max_age`` seconds, older ones are refused here anyway).

    Args:
        secret: the hook's secret, as ``webhook add`` printed it.
        body: the request's body, the bytes as received (before any JSON parsing).
        headers: the request's headers (any mapping; names in any case).
        max_age: seconds a delivery stays acceptable (5 minutes).
        now: the time to judge age against (default: now); for tests.

    Returns:
        The body: ``id``, ``event``, ``asset``, ``record``, ``registry``, ``sent_at``.

    Raises:
        WebhookVerificationError: a missing or wrong signature, a malformed body or header,
            headers that contradict the body, or a stale timestamp (a replay).

    Example:
        >>> import json
        >>> body = json.dumps({"id": "d1", "event": "ping", "sent_at": "2026-12-08T00:00:00.000000Z"}).encode()
        >>> headers = {"X-Modelshelf-Signature": sign("s3cret", body)}
        >>> at = datetime(2026, 12, 8, 0, 1, tzinfo=UTC)
        >>> verify_webhook("s3cret", body, headers, now=at)["event"]
        'ping'
    """  # noqa: E501
    if not isinstance(body, bytes | bytearray | memoryview):
        raise WebhookVerificationError("the webhook body must be the bytes received, not text")
    body = bytes(body)
    if len(body) > MAX_BODY:
        raise WebhookVerificationError(
            f"the webhook body holds {len(body)} bytes, more than the {MAX_BODY} a registry sends"
        )
    given = _header(headers, SIGNATURE_HEADER)
    match = _SIGNATURE.fullmatch(given.strip()) if given is not None else None
    if match is None:
        raise WebhookVerificationError(
            f"the webhook has no {SIGNATURE_HEADER} header of the form sha256=<64 hex digits>"
        )
    expected = sign(secret, body).removeprefix("sha256=")
    if not hmac.compare_digest(match.group(1).lower(), expected):
        raise WebhookVerificationError(
            "the webhook's signature does not match its body: it was not signed with this"
            " hook's secret, or the body was changed on the way"
        )
    try:
        data = trust.loads_json(body)
    except (ValueError, RecursionError) as exc:
        raise WebhookVerificationError(f"the webhook body is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise WebhookVerificationError("the webhook body is not a JSON object")
    for field in ("id", "event", "sent_at"):
        if not isinstance(data.get(field), str):
            raise WebhookVerificationError(f"the webhook body has no text field {field!r}")
    for header, field in ((TIMESTAMP_HEADER, "sent_at"), (EVENT_HEADER, "event"),
                          (DELIVERY_HEADER, "id")):  # fmt: skip
        value = _header(headers, header)
        if value is not None and value != data[field]:
            raise WebhookVerificationError(
                f"the {header} header says {trust.show(value)}, the signed body's {field}"
                f" {trust.show(data[field])}: refused"
            )
    try:
        sent = datetime.strptime(data["sent_at"], TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise WebhookVerificationError(
            f"the webhook's sent_at {trust.show(data['sent_at'])} is not a time"
            " (YYYY-MM-DDTHH:MM:SS.ffffffZ)"
        ) from None
    age = ((now or datetime.now(UTC)) - sent).total_seconds()
    if abs(age) > max_age:
        when = "ago" if age > 0 else "ahead of this clock"
        raise WebhookVerificationError(
            f"the webhook {trust.show(data['id'])} was sent {abs(age):.0f} s {when}, more than"
            f" the {max_age:g} s accepted: a replay, or clocks that disagree"
        )
    return data
