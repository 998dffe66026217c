"""Request bodies in: bounded before they are read, then decoded at this one boundary.

A body whose ``Content-Length`` is over its bound is refused with 413 before a byte of it is
read; a body without one is read with a running count and refused as soon as it passes the
bound. JSON is decoded by :func:`modelshelf.trust.loads_json` (no ``NaN``, no numbers beyond a
float) and must be an object. Routes take these as dependencies (:func:`json_body`,
:func:`manifest_body`), which FastAPI resolves after the scope checks declared before them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import ClientDisconnect, Request

from modelshelf import trust
from modelshelf.errors import InvalidInputError, ModelshelfError
from modelshelf.store.http_protocol import MAX_JSON_BODY

__all__ = [
    "Refusal",
    "decode_object",
    "documented",
    "field",
    "json_body",
    "manifest_body",
    "read_bounded",
]


class Refusal(Exception):  # noqa: N818 - an answer, not a failure of the server
    """A refusal answered with a status of its own (411, 413, 416, 422), not the one
    :func:`~modelshelf.store.http_protocol.status_for` gives its error.

    Routes raise it; the app's handler answers with :attr:`error`'s body, :attr:`status`,
    :attr:`headers`, and :attr:`attrs` added to the body's (a session's ``offset`` for a 416).
    """

    def __init__(
        self,
        error: ModelshelfError,
        status: int,
        headers: dict[str, str] | None = None,
        attrs: dict[str, int] | None = None,
    ) -> None:
        super().__init__(str(error))
        self.error, self.status = error, status
        self.headers, self.attrs = headers or {}, attrs or {}


async def read_bounded(request: Request, limit: int, what: str = "the request body") -> bytes:
    """The whole body of ``request``, at most ``limit`` bytes.

    Raises:
        Refusal: 413, its ``Content-Length`` (before reading) or its bytes (while reading)
            pass ``limit``.
        InvalidInputError: a ``Content-Length`` that is not a number, or a body cut short.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit() or len(declared) > 20:
            raise InvalidInputError(
                f"the Content-Length {trust.show(declared)} is not a byte count"
            )
        if int(declared) > limit:
            raise _too_large(what, limit, f"{declared} bytes")
    chunks, total = [], 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                raise _too_large(what, limit, f"more than {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise InvalidInputError(f"{what} was cut short: the client went away") from None
    return b"".join(chunks)


def _too_large(what: str, limit: int, size: str) -> Refusal:
    error = InvalidInputError(f"{what} takes {size}, over the {limit} bytes this route takes")
    return Refusal(error, 413)


def decode_object(raw: bytes, what: str = "the request body") -> dict[str, Any]:
    """``raw`` decoded as a JSON object (outside input: no ``NaN``, bounded numbers).

    Raises:
        InvalidInputError: not JSON, or not an object.
    """
    try:
        data = trust.loads_json(raw)
    except (ValueError, RecursionError) as exc:
        raise InvalidInputError(f"{what} is not JSON: {trust.show(str(exc), 200)}") from None
    if not isinstance(data, dict):
        raise InvalidInputError(f"{what} must be a JSON object, not {trust.show(data)}")
    return data


def json_body(
    limit: int = MAX_JSON_BODY,
) -> Callable[[Request], Awaitable[dict[str, Any]]]:
    """A dependency: the request's JSON object body, at most ``limit`` bytes."""

    async def body(request: Request) -> dict[str, Any]:
        return decode_object(await read_bounded(request, limit))

    return body


async def manifest_body(request: Request) -> bytes:
    """A dependency: the request's body as bytes, bounded by ``trust.manifest_cap()`` (the
    manifest is parsed by :meth:`~modelshelf.manifest.Manifest.from_json`)."""
    return await read_bounded(request, trust.manifest_cap(), "the manifest")


def documented(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """``openapi_extra`` of a route that reads a JSON object body through these dependencies
    (FastAPI cannot see it): its fields, for the OpenAPI document."""
    schema = {"type": "object", "properties": properties, "required": list(required)}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def field(
    data: dict[str, Any], key: str, kinds: type | tuple[type, ...], *, default: Any = ...
) -> Any:
    """``data[key]`` if it is of ``kinds`` (``bool`` is never an ``int`` here).

    Raises:
        InvalidInputError: missing (and no ``default``), or of another type.
    """
    if key not in data:
        if default is ...:
            raise InvalidInputError(f"the request body lacks the field {key!r}")
        return default
    value = data[key]
    wanted = kinds if isinstance(kinds, tuple) else (kinds,)
    if (isinstance(value, bool) and bool not in wanted) or not isinstance(value, wanted):
        names = " or ".join("null" if k is type(None) else k.__name__ for k in wanted)
        raise InvalidInputError(f"the field {key!r} must be {names}, not {trust.show(value)}")
    return value
