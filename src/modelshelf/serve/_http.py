"""Bodies decoded and answers encoded, for both faces: off the event loop when they are large,
and every decode failure a 400 naming what was wrong (reading bodies and their memory budget:
:mod:`modelshelf.serve._body`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.requests import Request

from modelshelf._bounds import NonFiniteError, loads_json
from modelshelf.models._jsonable import plain
from modelshelf.serve._body import Charge, RefusedError, clip
from modelshelf.serve._cost import json_cost

__all__ = [
    "dump_json",
    "header_length",
    "in_codec_thread",
    "looks_large",
    "parse_json",
]

# Bodies and answers above this are decoded and encoded in a thread, so the loop keeps answering.
OFF_LOOP_BYTES = 256 * 1024
_LARGE_ELEMENTS = 20_000
_codec_pool = ThreadPoolExecutor(2, thread_name_prefix="modelshelf-codec")


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


def parse_json(body: bytes, charge: Charge | None = None) -> Any:
    """The JSON value of ``body``; 400 when it cannot be decoded, whatever the reason.

    ``charge`` is given what decoding will build (an upper estimate) before it starts, and
    may refuse it. Every decode failure is a 400 naming the fault, never a 500: a number
    past the interpreter's digit limit raises a plain ValueError inside ``json``, and ``NaN``,
    ``Infinity`` or ``1e999`` (no JSON number) would reach the model as nan/inf.
    """
    if charge is not None:
        charge(json_cost(body))
    try:
        return loads_json(body.decode("utf-8"))  # JSON on the wire is UTF-8 (RFC 8259)
    except UnicodeDecodeError:
        raise RefusedError(400, "the body is not UTF-8 JSON") from None
    except NonFiniteError as exc:  # json.loads reads them as nan/inf, answered 500 later
        raise RefusedError(400, f"the body is not JSON: {exc}") from None
    except json.JSONDecodeError as exc:
        raise RefusedError(
            400, f"the body is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise RefusedError(400, "the body nests too deep to decode; flatten it") from None
    except ValueError as exc:  # e.g. an integer of more digits than int() accepts
        raise RefusedError(400, f"the body cannot be decoded: {clip(str(exc))}") from None


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
