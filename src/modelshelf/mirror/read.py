"""The reading side of ``modelshelf mirror``: the listing and each object's bytes, bounded.

A bucket's listing and sizes are outside input. The listing is refused past
``MODELSHELF_MAX_LIST_KEYS`` keys or ``MODELSHELF_MAX_LIST_MIB`` MiB of key names (a store that
pages forever would keep the mirror reading and growing, and it keeps every key); an object
listed without a size gets its HEAD's. Each object is read up to its listed size and no
further: a store that lists 10 bytes and sends gigabytes fails the object after one chunk, with
nothing kept (the caller removes the temporary file). Larger objects are read in ranges of
exactly the listed size, between two HEADs that prove one version was read. Keys reach this
module through :func:`modelshelf.mirror.plan.check_key` (no control characters): shown as they are.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from modelshelf import constants
from modelshelf.backends.base import Backend, ObjectMeta
from modelshelf.backends.local import LocalBackend
from modelshelf.errors import ObjectNotFoundError, StoreError
from modelshelf.mirror.plan import MirrorItem
from modelshelf.transfer.download import ObjectBlob, fetch_into
from modelshelf.trust import bounded_listing

__all__ = ["ChangedError", "mirror_listing", "object_chunks"]

_CHUNK = 1 << 20


class ChangedError(StoreError):
    """An object changed in the store while it was read: it is left out, the rest goes on."""


def mirror_listing(
    backend: Backend, url: str, prefix: str, folder_only: bool
) -> tuple[list[ObjectMeta], bool, str]:
    """Everything under ``prefix/``, or the one object ``prefix`` names; ``(metas, single,
    prefix)``: a ``file://`` prefix comes back with the links in it resolved (see
    :func:`_real_prefix`).

    Raises:
        UntrustedStoreDataError: the listing holds more than ``MODELSHELF_MAX_LIST_KEYS`` keys
            or ``MODELSHELF_MAX_LIST_MIB`` MiB of key names.
        ObjectNotFoundError: nothing exists at the URL.
    """
    prefix = _real_prefix(backend, prefix)
    where = f"{backend.url.rstrip('/')}/{prefix}/" if prefix else backend.url
    bounded = bounded_listing(backend.list(prefix), constants.max_list_keys(), where)
    listing = [_sized(backend, meta) for meta in bounded]
    if listing or folder_only:
        return listing, False, prefix
    try:
        meta = backend.head(prefix)
    except ObjectNotFoundError:
        raise ObjectNotFoundError(
            f"nothing to mirror at {url}: no object under {prefix}/ and none named {prefix};"
            " check the prefix (list it with your store's tools)"
        ) from None
    # A store's HEAD answers for the key asked; the path it echoes is not trusted over it.
    single = ObjectMeta(prefix, meta.size, meta.etag, meta.last_modified, meta.version)
    return [single], True, prefix


def _real_prefix(backend: Backend, prefix: str) -> str:
    """A ``file://`` mirror's prefix with the symbolic links in it resolved.

    The path a user types is theirs to choose (``/tmp`` is a link on macOS, ``/home`` on some
    systems); below it, in what is listed, no link is followed (:mod:`modelshelf.backends.local`).
    Keys, and the tree below DEST, then follow the folder's real path.
    """
    if not prefix or not isinstance(backend, LocalBackend):
        return prefix
    real = Path(os.path.realpath(backend.root / prefix))
    try:
        below = real.relative_to(backend.root).as_posix()
    except ValueError:
        return prefix  # it leads out of the store's folder: listed as typed, links refused
    return "" if below == "." else below


def _sized(backend: Backend, meta: ObjectMeta) -> ObjectMeta:
    """``meta``, with the size of a HEAD when the listing gave none (some custom stores)."""
    if meta.size is not None or not isinstance(meta.path, str):
        return meta
    head = backend.head(meta.path)
    return ObjectMeta(meta.path, head.size, meta.etag, meta.last_modified, meta.version)


def object_chunks(backend: Backend, item: MirrorItem, fd: int) -> Iterator[bytes | memoryview]:
    """Write ``item``'s bytes into ``fd`` and yield them, never more than its listed size.

    Raises:
        ChangedError: the object is larger than listed, or changed while its ranges were read.
    """
    if item.size == 0:
        return  # nothing to read: no request
    if item.size <= constants.RANGE_SIZE:
        yield from _streamed(backend, item, fd)
        return
    before = backend.head(item.key)  # before planning ranges on a listed size
    if before.size != item.size:
        raise ChangedError(
            f"{backend.url}/{item.key} now holds {before.size} bytes, the listing"
            f" said {item.size}; the object changed during the mirror: run it again"
        )
    # Ranges of exactly the listed size: a store sending more than a range asked is refused.
    yield from fetch_into(ObjectBlob(backend, item.key), item.size, fd)
    # Each range is its own request: another writer's PUT between two of them would leave
    # a mix of two versions. The same HEAD before and after proves one version was read.
    after = backend.head(item.key)
    if _version(after) != _version(before) or after.size != before.size:
        raise ChangedError(
            f"{backend.url}/{item.key} was replaced while its ranges were read; the"
            " object changed during the mirror: run it again"
        )


def _streamed(backend: Backend, item: MirrorItem, fd: int) -> Iterator[bytes | memoryview]:
    """One GET, read up to the listed size: the first byte past it fails the object, so a
    store that lists 10 bytes and sends gigabytes gets at most one chunk more read."""
    left = item.size
    stream = backend.get(item.key, _CHUNK)
    try:
        for chunk in stream:
            view = memoryview(chunk)
            if view.nbytes > left:
                raise ChangedError(
                    f"{backend.url}/{item.key} is larger than listed ({item.size}"
                    " bytes): stopped reading there; the object changed during the mirror, or"
                    " the store lists wrong sizes: run it again"
                )
            left -= view.nbytes
            while view:
                view = view[os.write(fd, view) :]
            yield chunk
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # stops the download instead of draining the rest of the object


def _version(meta: ObjectMeta) -> tuple[str, str | None]:
    """What tells two versions of an object apart in HEADs of the same store: the ETag, else
    the version id, else the time."""
    if meta.etag is not None:
        return ("etag", meta.etag)
    if meta.version is not None:
        return ("version", meta.version)
    return ("time", meta.last_modified.isoformat() if meta.last_modified else None)
