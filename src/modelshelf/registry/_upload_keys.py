"""Where upload sessions live in the store, and which of them a sweep drops.

::

    registry/uploads/{ID}/session.json          the session's record; create-only
    registry/uploads/{ID}/{offset:020d}         a piece of the blob from that offset on
    registry/upload-owners/{token}/{ID}         an empty marker: opened by that token, and
                                                rewritten by every chunk (its age is the
                                                session's idleness)

A session is stale once nothing of it (marker, record, pieces) was written for
:data:`SESSION_TTL`. That also finds the folders no record names any more: the pieces of a
chunk stored while a sweep (of another replica) deleted its session.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from modelshelf.backends.base import Backend

__all__ = [
    "ID",
    "OWNERS",
    "PIECE_NAME",
    "PREFIX",
    "SESSION_TTL",
    "owner_key",
    "piece_key",
    "session_key",
    "stale_sessions",
]

PREFIX = "registry/uploads"
OWNERS = "registry/upload-owners"
ID = re.compile(r"([a-z0-9][a-z0-9.-]{0,62})_[0-9a-f]{32}")
"""An upload's ID: the name of the token that opened it, ``_``, 32 hex digits."""
PIECE_NAME = re.compile(r"[0-9]{20}")
SESSION_TTL = timedelta(hours=24)
"""A session nothing was written to for this long is dropped (and stops counting against its
token)."""


def session_key(upload_id: str) -> str:
    return f"{PREFIX}/{upload_id}/session.json"


def owner_key(token: str, upload_id: str) -> str:
    return f"{OWNERS}/{token}/{upload_id}"


def piece_key(upload_id: str, offset: int) -> str:
    return f"{PREFIX}/{upload_id}/{offset:020d}"


def stale_sessions(backend: Backend, since: datetime) -> list[str]:
    """The IDs of every session, or folder of pieces without one, of which nothing was written
    since ``since``; an object without a time keeps its session (it cannot be judged)."""
    newest: dict[str, datetime | None] = {}

    def seen(upload_id: str, when: datetime | None) -> None:
        if not ID.fullmatch(upload_id):
            return  # listed keys are outside input
        if upload_id in newest:
            before = newest[upload_id]
            newest[upload_id] = None if before is None or when is None else max(before, when)
        else:
            newest[upload_id] = when

    for meta in backend.list(OWNERS):
        seen(meta.path.rsplit("/", 1)[-1], meta.last_modified)
    for meta in backend.list(PREFIX):
        parts = meta.path[len(PREFIX) + 1 :].split("/")
        if len(parts) == 2:
            seen(parts[0], meta.last_modified)
    return sorted(i for i, when in newest.items() if when is not None and when < since)
