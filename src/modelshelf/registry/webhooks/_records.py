"""Small JSON records under ``registry/webhooks/``: read bounded, written create-only, numbered
ones found by listing (the pattern of alias records: compare-and-swap on the number)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from modelshelf import trust
from modelshelf.backends.base import Backend
from modelshelf.errors import UntrustedStoreDataError
from modelshelf.store.bucket import now_iso

__all__ = ["PREFIX", "dumps", "log_id", "numbered", "read_json", "stamp"]

PREFIX = "registry/webhooks"
_NUMBERED = re.compile(r"(\d{8})\.json")
MAX_LISTED = 100_000


def stamp(when: str | None = None) -> str:
    """``2026-12-08T00:19:36.123456Z`` as ``20261208T001936.123456Z``: the time part of a
    store-log id, so that it sorts with them."""
    return (when or now_iso()).replace(":", "").replace("-", "")


def log_id(when: str | None = None) -> str:
    """A new time-sortable id, ``<stamp>-<12 hex>`` (as the store-wide log's)."""
    return f"{stamp(when)}-{uuid.uuid4().hex[:12]}"


def dumps(record: dict[str, Any]) -> bytes:
    return json.dumps(record, indent=2).encode() + b"\n"


def read_json(backend: Backend, key: str, url: str, limit: int = trust.MAX_RECORD_BYTES) -> Any:
    """The JSON at ``key``, refused past ``limit`` bytes or when it does not parse.

    Raises:
        ObjectNotFoundError: no such key.
        UntrustedStoreDataError: too large, or not JSON.
    """
    chunks, total = [], 0
    for chunk in backend.get(key, chunk_size=1 << 16):
        total += len(chunk)
        if total > limit:
            raise UntrustedStoreDataError(
                f"{url}/{key} is larger than the {limit} bytes a webhook record may hold;"
                " modelshelf did not write it: delete that key",
                store=url,
                key=key,
            )
        chunks.append(chunk)
    try:
        return trust.loads_json(b"".join(chunks))
    except (ValueError, RecursionError) as exc:
        raise UntrustedStoreDataError(
            f"{url}/{key} is not a webhook record ({exc}); modelshelf did not write it: delete"
            " that key",
            store=url,
            key=key,
        ) from None


def numbered(backend: Backend, prefix: str, url: str) -> list[int]:
    """The numbers of the records ``<prefix>/<NNNNNNNN>.json``, ascending."""
    found = []
    for meta in trust.bounded_listing(backend.list(prefix), MAX_LISTED, f"{url}/{prefix}/"):
        match = _NUMBERED.fullmatch(meta.path[len(prefix) + 1 :])
        if match and int(match.group(1)) > 0:
            found.append(int(match.group(1)))
    return sorted(found)
