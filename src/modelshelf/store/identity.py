"""The cache id of a store, computed without loading the store layout (a cache hit needs it)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping

from modelshelf.backends.base import without_password

__all__ = ["REGISTRY_OPTIONS", "is_registry_url", "registry_identity", "store_id"]

REGISTRY_OPTIONS = ("token", "token_file", "ca_file", "timeout")
"""The settings a registry store (``http(s)://``) takes: the keywords of ``HttpStore``."""


def store_id(url: str, identity: Mapping[str, str] | None = None) -> str:
    """The cache id of a store: a readable tail of ``url`` plus a hash of its identity.

    Args:
        url: the store URL, for the readable part.
        identity: everything that selects the store (backend class, URL, endpoint,
            options; never secrets), as :meth:`Backend.identity` gives it; default the
            URL alone. The hash covers its canonical JSON, so stores that differ in any
            part of it never share cached manifests.
    """
    readable = (identity or {}).get("url") or url  # canonical, when the backend gives one
    slug = re.sub(r"[^a-z0-9]+", "-", without_password(readable).lower())
    slug = slug.strip("-")[-40:].strip("-")
    canonical = json.dumps(
        dict(identity) if identity is not None else {"url": without_password(url)},
        sort_keys=True,
        separators=(",", ":"),
    )
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    return f"{slug}-{digest}"


def registry_identity(url: str) -> dict[str, str]:
    """What selects an ``http(s)://`` registry store: its URL alone (a token or a CA file
    changes who asks, not what is stored, so the cache is shared across tokens)."""
    return {"store": "registry", "url": without_password(url.rstrip("/"))}


def is_registry_url(url: str) -> bool:
    """True if ``url`` names a registry store (``http://`` or ``https://``).

    Example:
        >>> is_registry_url("https://models.example.com"), is_registry_url("s3://b/p")
        (True, False)
    """
    return url.strip().lower().startswith(("http://", "https://"))
