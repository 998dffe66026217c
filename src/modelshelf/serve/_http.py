"""Bodies in and answers out, for both faces: the size limits, decoding and encoding off the
event loop when they are large, and the refusal every route turns into its error body.

Memory is bounded twice: one body by ``max_body_bytes`` (413), and the bodies being read or
waiting in the queue of one worker together by a budget (429), so that many connections cannot
each hold a large body while the queue bound looks respected.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.requests import Request

from modelshelf.models._jsonable import plain

__all__ = [
    "BodyBudget",
    "RefusedError",
    "clip",
    "dump_json",
    "header_length",
    "in_codec_thread",
    "looks_large",
    "parse_json",
    "read_body",
]

# Bodies and answers above this are decoded and encoded in a thread, so the loop keeps answering.
OFF_LOOP_BYTES = 256 * 1024
_LARGE_ELEMENTS = 20_000
_codec_pool = ThreadPoolExecutor(2, thread_name_prefix="modelshelf-codec")


class RefusedError(Exception):
    """A request refused before or after the runner: status, message and extra headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


class BodyBudget:
    """Bytes of request bodies held at once in one worker (being read, queued or running)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self._lock = threading.Lock()

    def take(self, size: int) -> bool:
        """Reserve ``size`` bytes; False when that would pass the limit."""
        with self._lock:
            if self.held + size > self.limit:
                return False
            self.held += size
            return True

    def give_back(self, size: int) -> None:
        """Return bytes reserved with :meth:`take`."""
        with self._lock:
            self.held -= size


def _busy(budget: BodyBudget) -> RefusedError:
    return RefusedError(
        429,
        f"the server holds {budget.held} bytes of request bodies (its limit is {budget.limit});"
        " retry shortly",
        {"Retry-After": "1"},
    )


async def read_body(request: Request, limit: int, budget: BodyBudget) -> bytes:
    """The body, refusing one over ``limit`` (413) or over the worker's ``budget`` (429).

    The bytes stay reserved in ``budget`` (as ``request.state.body_reserved``) until the caller
    gives them back, after the answer.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise RefusedError(400, f"Content-Length {clip(declared)!r} is not a number") from None
        if size > limit:
            raise RefusedError(413, _too_large(size, limit))
    chunks: list[bytes] = []
    total = 0
    state = request.scope.setdefault("state", {})
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise RefusedError(413, _too_large(total, limit))
        if not budget.take(len(chunk)):
            raise _busy(budget)
        state["body_reserved"] = state.get("body_reserved", 0) + len(chunk)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> str:
    return (
        f"the request body ({size} bytes or more) is over the limit of {limit} bytes; send"
        " smaller batches, or start the server with a larger --max-body-mb"
    )


async def in_codec_thread(large: bool, function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)``: inline when small, else in the codec threads (never the loop).

    The codec threads are their own pool: load requests and other work on asyncio's default
    pool cannot starve them.
    """
    if not large:
        return function(*args)
    return await asyncio.get_running_loop().run_in_executor(_codec_pool, function, *args)


def looks_large(value: Any) -> bool:
    """Whether encoding ``value`` as JSON is worth a thread (arrays, long lists, long text)."""
    size = getattr(value, "size", None)
    if isinstance(size, int) and not isinstance(value, str | bytes):
        return size > _LARGE_ELEMENTS
    if isinstance(value, str | bytes):
        return len(value) > OFF_LOOP_BYTES
    if isinstance(value, list | tuple | dict):
        if len(value) > _LARGE_ELEMENTS:
            return True
        items = value.values() if isinstance(value, dict) else value
        return any(looks_large(item) for item in list(items)[:8])
    return False


def parse_json(body: bytes) -> Any:
    """The JSON value of ``body``; 400 when it is not UTF-8 JSON or nests too deep."""
    try:
        return json.loads(body.decode("utf-8"))  # JSON on the wire is UTF-8 (RFC 8259)
    except UnicodeDecodeError:
        raise RefusedError(400, "the body is not UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise RefusedError(
            400, f"the body is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise RefusedError(400, "the body nests too deep to decode; flatten it") from None


def dump_json(value: Any) -> str:
    """``value`` (arrays as lists) as compact JSON; ValueError/TypeError when it is not JSON."""
    try:
        return json.dumps(plain(value), allow_nan=False, separators=(",", ":"))
    except RecursionError:
        raise ValueError("the prediction nests too deep to encode") from None


def header_length(request: Request) -> int | None:
    """``Inference-Header-Content-Length`` as a number, or None when absent."""
    raw = request.headers.get("inference-header-content-length")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise RefusedError(
            400, f"Inference-Header-Content-Length {clip(raw)!r} is not a whole number"
        ) from None


def clip(text: str, limit: int = 80) -> str:
    """``text`` shortened to ``limit`` printable characters, for quoting client input."""
    shown = "".join(c if c.isprintable() else "?" for c in text[:limit])
    return shown + ("..." if len(text) > limit else "")
