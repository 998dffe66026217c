"""What every part of the store layout shares: the backend, bounded reads and listings, who
writes and when.

:class:`KeyLayout` is the base of the layout classes (``removal``, ``aliases``, then
:class:`modelshelf.store.bucket.Store`): each adds the keys of one responsibility, and only they
know what a key means.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Iterator
from datetime import UTC, datetime

from modelshelf import constants, trust
from modelshelf.backends.base import Backend, ObjectMeta, without_secrets
from modelshelf.errors import InvalidManifestError, UntrustedStoreDataError
from modelshelf.manifest import Manifest

__all__ = ["NOT_OURS", "KeyLayout", "actor", "checked_manifest", "now_iso"]

NOT_OURS = "modelshelf did not write it (or it was edited since)"


def now_iso() -> str:
    """The current UTC time, ISO 8601 with microseconds and a ``Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def actor() -> dict[str, str]:
    """Who is writing: user and host, for manifests and audit records.

    Control characters in them are escaped, so that the records pass the reader's checks.
    """
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return {
        "user": trust.escape_controls(user),
        "host": trust.escape_controls(socket.gethostname()),
    }


def checked_manifest(
    raw: bytes, name: str, version: str, *, where: str, store: str, key: str, step: str
) -> Manifest:
    """The manifest of ``name:version`` read at ``where``, checked at the trust boundary: it
    parses as modelshelf writes it, and describes that very version (every store layout reads
    a manifest through here).

    Args:
        step: what to do about a bad one (``restore or delete that key in the store``).

    Raises:
        UntrustedStoreDataError: it does not parse, or describes another version.
    """
    try:
        manifest = Manifest.from_json(raw, where=where)
    except InvalidManifestError as exc:
        raise UntrustedStoreDataError(f"{exc}; {NOT_OURS}: {step}", store=store, key=key) from exc
    if manifest.name != name or manifest.version != version:
        raise UntrustedStoreDataError(
            f"{where} describes {manifest.name}:{manifest.version}, not {name}:{version}; the"
            f" store has been edited by hand: {step}",
            store=store,
            key=key,
        )
    return manifest


class KeyLayout:
    """The backend of one store and the reads every record kind needs.

    Args:
        backend: where the bytes live.
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        # Every message of the layout names the store by this: never a password or signature.
        self.url = without_secrets(backend.url)

    @staticmethod
    def manifest_key(name: str, version: str) -> str:
        return f"assets/{name}/versions/{version}.json"

    def _listed(self, prefix: str) -> Iterator[ObjectMeta]:
        """The store's listing of ``prefix``, refused past ``MODELSHELF_MAX_LIST_KEYS`` keys or
        ``MODELSHELF_MAX_LIST_MIB`` MiB of key names."""
        where = f"{self.url}/{prefix}/" if prefix else self.url
        listing = self.backend.list(prefix)
        return trust.bounded_listing(listing, constants.max_list_keys(), where, store=self.url)

    def _read_bounded(self, key: str, limit: int, what: str, other_step: str = "") -> bytes:
        """The object at ``key``, refused once it grows past ``limit`` bytes."""
        step = f"delete that key in the store{' ' + other_step if other_step else ''}"
        chunks, total = [], 0
        for chunk in self.backend.get(key, chunk_size=1 << 20):
            total += len(chunk)
            if total > limit:
                raise UntrustedStoreDataError(
                    f"{self.url}/{key} is larger than the {limit} bytes {what} may hold;"
                    f" {NOT_OURS}: {step}",
                    store=self.url,
                    key=key,
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _untrusted(
        self, key: str, what: str, exc: BaseException, hint: str
    ) -> UntrustedStoreDataError:
        """The one-line error for a record at ``key`` that failed :mod:`modelshelf.trust`."""
        return UntrustedStoreDataError(
            f"{self.url}/{key} is not a valid {what} ({exc}); {NOT_OURS}: {hint}",
            store=self.url,
            key=key,
        )
