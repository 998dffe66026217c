"""Per-blob inter-process locks that only save duplicate downloads.

Correctness never depends on them (some network filesystems ignore locks silently): every
download goes to a process-unique temporary file and is renamed into place, so the worst a
broken lock costs is a second download of the same bytes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock

__all__ = ["blob_lock"]

logger = logging.getLogger("modelshelf")

_LOG_EVERY = 10.0


@contextmanager
def blob_lock(path: Path, timeout: float, what: str) -> Iterator[None]:
    """Hold the lock file ``path``; log while waiting; give up after ``timeout`` seconds.

    On time-out we go ahead without the lock rather than fail: the rename keeps the cache right.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(path))
    deadline = time.monotonic() + timeout
    acquired = False
    while not acquired:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            logger.warning("gave up waiting for the lock on %s; downloading it anyway", what)
            break
        try:
            lock.acquire(timeout=min(_LOG_EVERY, remaining))
            acquired = True
        except filelock.Timeout:
            logger.info("waiting for another process that is downloading %s", what)
    try:
        yield
    finally:
        if acquired:
            lock.release()
