"""The audit record of a write the registry has done (a commit, an alias move, a removal,
notes), whichever route or page made it: one policy.

The write happened: a failure of its record must not answer it as failed (the client would
retry a commit that is taken, or believe an alias did not move). The append is tried
:data:`AUDIT_TRIES` times; if the store still refuses, the record is logged at ERROR, whole,
for an operator to add.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from modelshelf.errors import ModelshelfError
from modelshelf.store.bucket import Store, now_iso

__all__ = ["AUDIT_PAUSE", "AUDIT_TRIES", "audit_done_write"]

log = logging.getLogger("modelshelf.registry")

AUDIT_TRIES = 3
"""Tries of the audit record of a write that is done, before it is given up and logged."""
AUDIT_PAUSE = 0.2
"""Seconds before the second try of an audit record, doubled before each next one."""


def audit_done_write(store: Store, name: str, action: str, **fields: Any) -> None:
    """Append the audit record of a write that is done.

    The write happened: a failure here must not answer it as failed (the client would retry
    a commit that is taken, or believe an alias did not move). The append is tried
    :data:`AUDIT_TRIES` times; if the store still refuses, the record is logged at ERROR, whole,
    for an operator to add.
    """
    failure: ModelshelfError | None = None
    for attempt in range(AUDIT_TRIES):
        try:
            store.append_log(name, action, **fields)
            return
        except ModelshelfError as exc:
            failure = exc
            if attempt + 1 < AUDIT_TRIES:
                time.sleep(AUDIT_PAUSE * 2**attempt)
    record = json.dumps({"action": action, "name": name, "when": now_iso(), **fields})
    log.error(
        "AUDIT RECORD LOST: the %s on %s is done, but its audit record could not be written"
        " after %d tries (%s); add it to %s under assets/%s/log/ by hand: %s",
        action, name, AUDIT_TRIES, failure, store.url, name, record,
    )  # fmt: skip
