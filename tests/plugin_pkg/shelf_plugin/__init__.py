"""A third-party modelshelf backend, as a separate distribution would ship it (tests only).

``plain://NAME`` keeps objects in a dict of this process, shared by name. It takes options as a
real plugin would: ``token`` (a credential, checked), ``shard`` (selects the store, so it is
part of the identity) and ``page_size`` (an integer; from the CLI it arrives as text).
Everything it is given is recorded in :data:`RECEIVED` so that tests can check what arrived.

Its own failures are plain Python exceptions, some of which quote the token, as careless
plugins do: modelshelf must turn them into one line that never shows the token.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from modelshelf import Backend, ObjectExistsError, ObjectMeta, ObjectNotFoundError
from modelshelf.backends import PutMode

TOKEN = "open-sesame-2718"
RECEIVED: list[dict[str, Any]] = []
# method name -> the exception it raises next (tests set these to play an ailing service).
FAILURES: dict[str, Exception] = {}
_DATA: dict[tuple[str, str], dict[str, bytes]] = {}
_LOCK = threading.Lock()


class PlainBackend(Backend):
    """Objects in a dict of this process, named by ``plain://NAME`` or the ``name`` option."""

    def __init__(
        self, name: str = "default", *, token: str = "", shard: str = "a", page_size: Any = 100
    ) -> None:
        RECEIVED.append({"name": name, "token": token, "shard": shard, "page_size": page_size})
        if token != TOKEN:
            raise PermissionError(f"token {token!r} is not accepted by plain://{name}")
        self.page_size = int(page_size)  # text from the CLI, an int from Python
        self.url = f"plain://{name}"
        self.shard = shard
        with _LOCK:
            self._objects = _DATA.setdefault((name, shard), {})

    @classmethod
    def from_url(cls, url: str, **options: Any) -> PlainBackend:
        return cls(url.split("://", 1)[1].strip("/") or "default", **options)

    def store_identity(self) -> dict[str, str]:
        return type(self).identity(self.url, shard=self.shard)

    def _maybe_fail(self, method: str) -> None:
        failure = FAILURES.get(method)
        if failure is not None:
            raise failure

    def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
        self._maybe_fail("get")
        data = self._read(key)
        for start in range(0, len(data), chunk_size):
            yield data[start : start + chunk_size]

    def get_range(self, key: str, start: int, end: int) -> bytes:
        self._maybe_fail("get")
        return self._read(key)[start:end]

    def put(self, key: str, data: bytes | Path | BinaryIO, *, mode: PutMode = "overwrite") -> None:
        if isinstance(data, Path):
            body = data.read_bytes()
        elif isinstance(data, bytes):
            body = data
        else:
            body = b"".join(iter(lambda: data.read(1 << 20), b""))
        if key.startswith("assets/"):  # records: blobs go first, so a failure here is late
            self._maybe_fail("put_record")
        with _LOCK:
            if mode == "create" and key in self._objects:
                raise ObjectExistsError(f"{self.url}/{key} already exists")
            self._objects[key] = body

    def head(self, key: str) -> ObjectMeta:
        self._maybe_fail("head")
        return ObjectMeta(path=key, size=len(self._read(key)))

    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        self._maybe_fail("list")
        start = prefix.rstrip("/") + "/" if prefix else ""
        with _LOCK:
            found = [(k, len(v)) for k, v in self._objects.items() if k.startswith(start)]
        for key, size in found:
            yield ObjectMeta(path=key, size=size)

    def delete(self, key: str) -> None:
        with _LOCK:
            self._objects.pop(key, None)

    def _read(self, key: str) -> bytes:
        with _LOCK:
            data = self._objects.get(key)
        if data is None:
            raise ObjectNotFoundError(f"{self.url}/{key} does not exist")
        return data


def reset() -> None:
    """Forget every store and every recorded call."""
    with _LOCK:
        _DATA.clear()
    RECEIVED.clear()
    FAILURES.clear()
