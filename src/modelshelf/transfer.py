"""Concurrent, hashed transfers between local files and a backend.

A download is a series of ranged GETs of ``RANGE_SIZE`` bytes: a bounded window of them is in
flight, each worker writes its range at its offset as it arrives, and this thread feeds the
ranges to sha256 in order (hashlib releases the GIL on large updates). Hashing thus overlaps the
transfer and the writes instead of re-reading the file afterwards, and no byte is copied between
the store client's buffer, the file and the hash.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import TypeVar

from modelshelf import constants
from modelshelf._progress import ProgressTask
from modelshelf.backends.base import Backend
from modelshelf.errors import (
    CacheWriteError,
    IntegrityError,
    ObjectNotFoundError,
    StoreAuthError,
    StoreError,
    StoreUnreachableError,
)

__all__ = ["download_verified", "hash_file", "run_concurrently"]

T = TypeVar("T")
R = TypeVar("R")


def hash_file(path: Path, progress: ProgressTask | None = None) -> str:
    """The sha256 (hex) of a local file, read in large chunks."""
    digest = hashlib.sha256()
    with path.open("rb", buffering=0) as handle:
        while chunk := handle.read(constants.CHUNK_SIZE):
            digest.update(chunk)
            if progress is not None:
                progress.advance(len(chunk))
    return digest.hexdigest()


def run_concurrently(
    fn: Callable[[T], R], items: Sequence[T], max_workers: int | None = None
) -> list[R]:
    """``[fn(i) for i in items]`` on a bounded thread pool, in order; the first error wins.

    On an error, work not yet started is cancelled before the error is raised, so a failing
    pull stops quickly instead of finishing every other download first.
    """
    if not items:
        return []
    workers = min(max_workers or constants.max_concurrency(), len(items))
    if workers == 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="modelshelf") as pool:
        futures = {pool.submit(fn, item): index for index, item in enumerate(items)}
        results: list[R | None] = [None] * len(items)
        try:
            for future in as_completed(futures):
                results[futures[future]] = future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return results  # type: ignore[return-value]


def _ranges(size: int, range_size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, size, range_size):
        yield start, min(start + range_size, size)


def _fetch_to_file(backend: Backend, key: str, size: int, fd: int) -> Iterator[memoryview]:
    """Write the object into ``fd`` by ranges, in parallel; yield each range's bytes in order."""

    def fetch(start: int, end: int) -> memoryview:
        data = memoryview(backend.get_range(key, start, end))
        view = data
        while view:
            view = view[os.pwrite(fd, view, start + data.nbytes - view.nbytes) :]
        return data

    ranges = list(_ranges(size, constants.RANGE_SIZE))
    if len(ranges) <= 1:
        yield from (fetch(start, end) for start, end in ranges)
        return
    window = max(2, constants.max_concurrency())
    pending: deque[Future[memoryview]] = deque()
    with ThreadPoolExecutor(max_workers=window, thread_name_prefix="modelshelf-range") as pool:
        try:
            for start, end in ranges:
                pending.append(pool.submit(fetch, start, end))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _explain_damage(
    backend: Backend, key: str, size: int, expected: str, label: str, exc: Exception
) -> None:
    """Turn a failed read of a missing or truncated blob into the IntegrityError it is."""
    where = f"{backend.url}/{key}"
    try:
        actual = backend.head(key).size
    except ObjectNotFoundError:
        raise IntegrityError(label, expected, "nothing: the blob is missing", where) from exc
    except StoreError:
        return  # the store cannot tell us more now (restarting): report the read's own failure
    if actual != size:
        raise IntegrityError(
            label, expected, f"an object of {actual} bytes instead of {size}", where
        ) from exc


def download_verified(
    backend: Backend,
    key: str,
    size: int,
    expected_sha256: str,
    dest: Path,
    *,
    label: str,
    progress: ProgressTask | None = None,
) -> None:
    """Write the object at ``key`` to the new file ``dest``, checking size and sha256 on the way.

    Args:
        label: what to call the content in an error (the file's path in its asset).

    Raises:
        IntegrityError: the bytes do not hash to ``expected_sha256`` or have the wrong size;
            ``dest`` is then left for the caller to delete.
        CacheWriteError: ``dest`` could not be written (a full disk); left for the caller too.
    """
    digest = hashlib.sha256()
    received = 0
    try:
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise CacheWriteError(label, str(dest.parent), exc) from exc
    try:
        for chunk in _fetch_to_file(backend, key, size, fd):
            digest.update(chunk)
            received += chunk.nbytes
            if progress is not None:
                progress.advance(chunk.nbytes)
    except (StoreUnreachableError, StoreAuthError):
        raise
    except StoreError as exc:
        _explain_damage(backend, key, size, expected_sha256, label, exc)
        raise
    except OSError as exc:  # the store's failures are StoreErrors: this is the local write
        raise CacheWriteError(label, str(dest.parent), exc) from exc
    finally:
        os.close(fd)
    actual = digest.hexdigest()
    if received != size or actual != expected_sha256:
        raise IntegrityError(
            label,
            expected_sha256,
            actual if received == size else f"{actual} ({received} bytes, expected {size})",
            where=f"{backend.url}/{key}",
        )
