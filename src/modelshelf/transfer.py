"""Concurrent, hashed transfers between local files and a backend.

Downloads hash while they stream, so a file is read once. Files of ``RANGED_GET_THRESHOLD`` bytes
or more arrive as parallel ranged GETs: a bounded window of ranges is in flight while this thread
writes the finished ones in order and feeds the hash (hashlib releases the GIL on large updates,
so hashing overlaps the transfer instead of re-reading the file afterwards).
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import TypeVar

from modelshelf import constants
from modelshelf._progress import Progress
from modelshelf.backends.base import Backend
from modelshelf.errors import IntegrityError

__all__ = ["download_verified", "hash_file", "run_concurrently"]

T = TypeVar("T")
R = TypeVar("R")


def hash_file(path: Path, progress: Progress | None = None) -> str:
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


def _ranged_chunks(backend: Backend, key: str, size: int) -> Iterator[bytes]:
    """The object's bytes in order, fetched as a bounded window of concurrent ranged GETs."""
    window = max(2, constants.max_concurrency())
    ranges: Iterable[tuple[int, int]] = _ranges(size, constants.RANGE_SIZE)
    pending: deque[Future[bytes]] = deque()
    with ThreadPoolExecutor(max_workers=window, thread_name_prefix="modelshelf-range") as pool:
        try:
            for start, end in ranges:
                pending.append(pool.submit(backend.get_range, key, start, end))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def download_verified(
    backend: Backend,
    key: str,
    size: int,
    expected_sha256: str,
    dest: Path,
    *,
    label: str,
    progress: Progress | None = None,
) -> None:
    """Write the object at ``key`` to the new file ``dest``, checking size and sha256 on the way.

    Args:
        label: what to call the content in an error (the file's path in its asset).

    Raises:
        IntegrityError: the bytes do not hash to ``expected_sha256`` or have the wrong size;
            ``dest`` is then left for the caller to delete.
    """
    digest = hashlib.sha256()
    received = 0
    if size >= constants.RANGED_GET_THRESHOLD:
        chunks = _ranged_chunks(backend, key, size)
    else:
        chunks = backend.get(key, chunk_size=constants.CHUNK_SIZE)
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            digest.update(chunk)
            received += len(chunk)
            if progress is not None:
                progress.advance(len(chunk))
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
