"""A custom backend's own exceptions, turned into modelshelf's store errors at the seam.

Built-in backends translate their SDK's errors themselves (``_obstore.py``). A third-party
backend may let a ``ConnectionError``, a ``PermissionError`` or a ``KeyError`` escape; the
:class:`GuardedBackend` wrapper turns each into one line naming the store, of the matching
``StoreError`` class (so an unreachable custom store falls back to the cache like any other),
with the values of secret-looking options cut out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Literal, NoReturn, TypeVar

from modelshelf.backends.base import Backend, ObjectMeta, PutMode, is_secret_option
from modelshelf.backends.base import without_password as _no_password
from modelshelf.errors import (
    ModelshelfError,
    StoreAuthError,
    StoreError,
    StoreUnreachableError,
)
from modelshelf.trust import foreign_error

__all__ = ["GuardedBackend", "scrub"]

T = TypeVar("T")
# Most specific first: what a foreign exception means, and what to check.
_KINDS: tuple[tuple[tuple[type[Exception], ...], type[StoreError], str], ...] = (
    ((ConnectionError, TimeoutError), StoreUnreachableError,
     "check the store URL, its endpoint setting and that the service is running"),
    ((PermissionError,), StoreAuthError,
     "check the backend's credentials ({backend_options}, {profile})"),
)  # fmt: skip


def scrub(text: str, options: dict[str, Any]) -> str:
    """``text`` with the value of every secret-looking option replaced by ``***``, on one line."""
    for name, value in options.items():
        secret = str(value) if value is not None else ""
        if is_secret_option(name) and len(secret) >= 3:
            text = text.replace(secret, "***")
    return _no_password(" ".join(text.split()))[:400]


class GuardedBackend(Backend):
    """Delegates to ``inner``; a non-modelshelf exception becomes a ``StoreError``."""

    def __init__(self, inner: Backend, options: dict[str, Any]) -> None:
        self.inner = inner
        # What is shown: the inner backend keeps its raw url (it opened the store with it).
        self.url = _no_password(str(getattr(inner, "url", "") or type(inner).__name__))
        self._options = options

    def __repr__(self) -> str:
        return f"GuardedBackend({self.inner!r})"

    def __getattr__(self, name: str) -> Any:  # the plugin's own extras (page_size, ...)
        return getattr(self.inner, name)

    def store_identity(self) -> dict[str, str]:
        return self.inner.store_identity()

    def _fail(self, exc: Exception, what: str, key: str) -> NoReturn:
        where = f"{_no_password(self.url)}/{key}" if key else _no_password(self.url)
        # The plugin's own text, secrets cut, on one line of at most 400 characters (scrub),
        # escaped. Not chained: the original may quote a secret value scrub cut here.
        detail = foreign_error(exc, 400, text=scrub(str(exc), self._options))
        for kinds, error, step in _KINDS:
            if isinstance(exc, kinds):
                raise error(f"the store {where} failed to {what} ({detail})").with_fix(
                    f"; {step}"
                ) from None
        raise StoreError(
            f"the store {where} failed to {what} ({detail}); check the store URL and the"
            " backend's settings, or report it to the backend's authors"
        ) from None

    def _call(self, what: str, key: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except ModelshelfError:
            raise
        except Exception as exc:
            self._fail(exc, what, key)

    def _stream(self, what: str, key: str, items: Callable[[], Iterator[T]]) -> Iterator[T]:
        iterator = self._call(what, key, lambda: iter(items()))
        while True:
            try:
                item = next(iterator)
            except StopIteration:
                return
            except ModelshelfError:
                raise
            except Exception as exc:
                self._fail(exc, what, key)
            yield item

    def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
        return self._stream("read", key, lambda: self.inner.get(key, chunk_size))

    def get_range(self, key: str, start: int, end: int) -> bytes | memoryview:
        return self._call("read", key, lambda: self.inner.get_range(key, start, end))

    def get_range_chunks(
        self, key: str, start: int, end: int, chunk_size: int
    ) -> Iterator[bytes | memoryview]:
        return self._stream(
            "read", key, lambda: self.inner.get_range_chunks(key, start, end, chunk_size)
        )

    def create_store(self) -> None:
        self._call("create", "", self.inner.create_store)

    def put(self, key: str, data: bytes | Path | BinaryIO, *, mode: PutMode = "overwrite") -> None:
        self._call("write", key, lambda: self.inner.put(key, data, mode=mode))

    def head(self, key: str) -> ObjectMeta:
        return self._call("describe", key, lambda: self.inner.head(key))

    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        return self._stream("list", prefix, lambda: self.inner.list(prefix))

    def list_after(self, prefix: str, after: str) -> Iterator[ObjectMeta]:
        return self._stream("list", prefix, lambda: self.inner.list_after(prefix, after))

    def delete(self, key: str) -> None:
        self._call("delete", key, lambda: self.inner.delete(key))

    def copy(self, source: str, target: str) -> None:
        self._call("copy", source, lambda: self.inner.copy(source, target))

    def signed_url(
        self, key: str, method: Literal["GET", "PUT"] = "GET", expires_seconds: int = 300
    ) -> str | None:
        return self._call(
            "presign", key, lambda: self.inner.signed_url(key, method, expires_seconds)
        )
