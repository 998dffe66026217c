"""Inter-process locks of the cache: per-blob download locks, owner locks, the maintenance lock.

The per-blob locks only save duplicate downloads. Correctness never depends on them (some
network filesystems ignore locks silently): every download goes to a process-unique temporary
file and is renamed into place, so the worst a broken blob lock costs is a second download.
Owner locks say which temporary files and pins belong to a live process. The maintenance lock
keeps a pull's pin and a prune's plan from crossing, so correctness does depend on it: a pull
that cannot take it in time fails rather than go ahead unpinned (a prune, ``cache rm`` or
``cache verify`` could then delete a blob the pull is about to link).
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock

from modelshelf.errors import ModelshelfError

__all__ = ["blob_lock", "maintenance_lock", "owner_alive", "owner_token"]

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


# -- liveness by lock ownership ------------------------------------------------------------------
#
# A process that writes into a cache holds an exclusive flock on ``<owners>/<token>.lock`` for
# as long as it lives; its temporary files and pins carry the token in their names. Whether they
# still have an owner is asked of the lock, never of a PID: PIDs mean nothing across the PID
# namespaces of containers sharing one cache, and they are reused. The kernel drops the lock
# when its holder dies, however it dies.

_owners: dict[tuple[int, str], tuple[str, int]] = {}
_TIDY_LIMIT = 64
_owners_guard = threading.Lock()


def owner_token(folder: Path) -> str:
    """This process's owner token under ``folder``, created and locked on first use.

    The lock is held until the process exits (a forked child gets its own token). The token is
    ``<pid>-<random>``: the PID is only for people reading file names.
    """
    import fcntl  # POSIX; imported here so that ``import modelshelf`` works everywhere

    key = (os.getpid(), str(folder))
    with _owners_guard:
        if key in _owners:
            return _owners[key][0]
        folder.mkdir(parents=True, exist_ok=True)
        while True:
            token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
            path = folder / f"{token}.lock"
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            # A cleaner may have taken the fresh, not yet locked file for an orphan and removed
            # it; then the lock we hold is on no name, and we start again.
            try:
                same = path.stat().st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                _owners[key] = (token, fd)
                break
            os.close(fd)
    # Tidy up after processes that are gone (their files' owners), a few at a time.
    with os.scandir(folder) as items:
        for item in itertools.islice(items, _TIDY_LIMIT):
            if item.name.endswith(".lock") and item.name != f"{token}.lock":
                owner_alive(folder, item.name[: -len(".lock")], remove_if_dead=True)
    return token


def owner_alive(folder: Path, token: str, *, remove_if_dead: bool = False) -> bool:
    """True if a live process holds the lock of ``token`` (this one included).

    Args:
        remove_if_dead: delete the lock file of a dead owner (while holding its lock, so a
            process that is just creating it notices and picks another token).
    """
    import fcntl

    if not token or "/" in token or token.startswith("."):
        return False
    path = folder / f"{token}.lock"
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        if remove_if_dead:
            path.unlink(missing_ok=True)
        return False
    finally:
        os.close(fd)


@contextmanager
def maintenance_lock(path: Path, *, shared: bool, timeout: float) -> Iterator[None]:
    """Hold ``path`` shared (a pull writing its pin) or exclusive (prune, rm, verify).

    Exclusive holders wait as long as it takes: shared holders keep it for a moment only.
    A shared holder logs while it waits and gives up after ``timeout`` seconds.

    Raises:
        ModelshelfError: a shared holder waited past ``timeout`` (a long prune, rm or verify).
    """
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not shared:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            start = time.monotonic()
            logged = start
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    now = time.monotonic()
                    if now - start >= timeout:
                        raise ModelshelfError(
                            f"the cache is busy: a `cache prune`, `cache rm` or `cache verify`"
                            f" has held {path} for over {timeout:g}s"
                            " (MODELSHELF_LOCK_TIMEOUT); pull again when it is done, or raise"
                            " MODELSHELF_LOCK_TIMEOUT"
                        ) from None
                    if now - logged >= _LOG_EVERY:
                        logged = now
                        logger.info("waiting for cache maintenance (prune, rm or verify)")
                    time.sleep(0.01)
        yield
    finally:
        os.close(fd)
