"""``memory://name`` stores: in-process, for tests and experiments.

Stores of the same name share their content within a process, so two ``Shelf("memory://x")``
objects see each other's pushes, as two clients of one server would.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from modelshelf.backends._obstore import ObstoreBackend

if TYPE_CHECKING:
    from obstore.store import MemoryStore

__all__ = ["MemoryBackend"]

_stores: dict[str, MemoryStore] = {}
_stores_lock = threading.Lock()


class MemoryBackend(ObstoreBackend):
    """An in-memory store; content lasts as long as the process."""

    def __init__(self, name: str = "default") -> None:
        from obstore.store import MemoryStore  # here: importing the module stays light

        with _stores_lock:
            store = _stores.setdefault(name, MemoryStore())
        super().__init__(store, f"memory://{name}")

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> MemoryBackend:
        """Open ``memory://name`` (``memory://`` is ``memory://default``)."""
        return cls(_name(url), **kwargs)

    @classmethod
    def identity(cls, url: str, **options: Any) -> dict[str, str]:
        """The class and the store's name: ``memory://`` and ``memory://default`` are one."""
        return super().identity(f"memory://{_name(url)}", **options)

    @staticmethod
    def reset(name: str | None = None) -> None:
        """Forget one named store, or all of them (tests use this)."""
        with _stores_lock:
            if name is None:
                _stores.clear()
            else:
                _stores.pop(name, None)


def _name(url: str) -> str:
    parts = urlsplit(url)
    return (parts.netloc + parts.path).strip("/") or "default"
