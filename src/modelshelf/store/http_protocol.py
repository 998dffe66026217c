"""The registry's HTTP API, version 1: what the server (:mod:`modelshelf.registry`) and the client
(:mod:`modelshelf.store.http`) must agree on, kept in one place.

Routes live under ``{base}/api/v1``; an asset name (which holds ``/``) ends at ``/-/``, a
segment no name has. Errors travel as ``{"error": {"type", "message", "fix", "fix_values",
"attrs"}}``: the server writes :func:`error_body`, the client turns it back into the same
:class:`~modelshelf.errors.ModelshelfError` with :func:`error_from_body`. Text from the other
side is outside input: bounded and escaped before it is shown.
"""

from __future__ import annotations

import re
from typing import Any

from modelshelf import errors, trust
from modelshelf.errors import (
    AliasConflictError,
    AssetNotFoundError,
    IntegrityError,
    InvalidInputError,
    InvalidManifestError,
    InvalidSpecError,
    ModelshelfError,
    NotesConflictError,
    ObjectExistsError,
    ObjectNotFoundError,
    StoreAuthError,
    StoreError,
    StoreUnavailableError,
    UntrustedStoreDataError,
    VersionExistsError,
)

__all__ = [
    "API",
    "AUDITED_BY_SERVER",
    "CHUNK",
    "MAX_BATCH",
    "MAX_ERROR_TEXT",
    "MAX_JSON_BODY",
    "MAX_SINGLE_UPLOAD",
    "NO_REDIRECT_HEADER",
    "TOKEN_NAME",
    "TOKEN_PREFIX",
    "UPLOAD_OFFSET_HEADER",
    "asset_path",
    "error_body",
    "error_text",
    "error_from_body",
    "status_for",
    "token_name_of",
]

API = "/api/v1"
"""Every route of the API is under this path of the registry's base URL."""

MAX_JSON_BODY = 2 << 20
"""The largest JSON request body but a manifest (whose bound is ``trust.manifest_cap()``)."""
MAX_SINGLE_UPLOAD = 64 << 20
"""The largest blob sent in one blob ``PUT``; larger ones go through a session."""
CHUNK = 64 << 20
"""The largest chunk of an upload session (one ``PATCH``)."""
MAX_BATCH = 10_000
"""The most blobs one ``POST /blobs/present`` asks about, and the largest page of a listing."""
MAX_ERROR_TEXT = 4096
"""The longest error message the client shows from a server."""

NO_REDIRECT_HEADER = "X-Modelshelf-No-Redirect"
"""A blob ``GET`` with this header set to ``1`` is answered with the bytes, never a 307."""
UPLOAD_OFFSET_HEADER = "Upload-Offset"
"""Where a ``PATCH`` of an upload session starts, in bytes."""

AUDITED_BY_SERVER = frozenset({"push", "alias", "remove", "label"})
"""Actions whose audit record the server writes itself, as part of the write."""

TOKEN_PREFIX = "msr_"
TOKEN_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{0,62}")
"""A token's name: lowercase letters, digits, ``.`` and ``-``; it never holds ``_``, which ends it
in the token's text ``msr_<name>_<secret>``."""


def token_name_of(token: str) -> str | None:
    """The name inside a token's text ``msr_<name>_<secret>``, or ``None`` if it is not one.

    Example:
        >>> token_name_of("msr_ci-bot_Zm9vYmFy")
        'ci-bot'
        >>> token_name_of("not-a-token") is None
        True
    """
    if not token.startswith(TOKEN_PREFIX):
        return None
    name, sep, secret = token[len(TOKEN_PREFIX) :].partition("_")
    if not sep or not secret or not TOKEN_NAME.fullmatch(name):
        return None
    return name


def asset_path(name: str, *rest: str) -> str:
    """The API path of an asset's resource: ``/assets/nlp/sentiment/-/versions/1.3``.

    Example:
        >>> asset_path("nlp/sentiment", "versions", "1.3")
        '/api/v1/assets/nlp/sentiment/-/versions/1.3'
    """
    return "/".join((f"{API}/assets/{name}/-", *rest))


# (error type, HTTP status), most specific first: the first isinstance match wins.
_STATUS: tuple[tuple[type[ModelshelfError], int], ...] = (
    (UntrustedStoreDataError, 422),
    (IntegrityError, 422),
    (InvalidSpecError, 400),
    (InvalidManifestError, 400),
    (InvalidInputError, 400),
    (StoreAuthError, 403),
    (AssetNotFoundError, 404),
    (ObjectNotFoundError, 404),
    (VersionExistsError, 409),
    (AliasConflictError, 409),
    (NotesConflictError, 409),
    (ObjectExistsError, 409),
    (StoreError, 503),
)
# A fix's fields are plain words: ``{a.b}`` or ``{a[0]}`` would reach into the values.
_PLAIN_FIELDS = re.compile(r"(?:[^{}]|\{[a-z_]{1,40}\})*")
# Attributes of an error that travel with it (plain values only).
_ATTRS = (
    "name", "version", "store", "alias", "current", "path", "expected", "actual", "key", "offset",
)  # fmt: skip


def status_for(exc: ModelshelfError) -> int:
    """The HTTP status that answers ``exc``: 4xx for what the caller can fix, 503 when the store
    behind the registry failed, 500 for the rest."""
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def error_body(exc: ModelshelfError, *, store_url: str = "", shown_as: str = "") -> dict[str, Any]:
    """The JSON body of an error answer; every mention of ``store_url`` (the store behind the
    registry) is replaced by ``shown_as`` (the registry's URL as the client called it)."""

    def swap(text: str) -> str:
        return text.replace(store_url, shown_as) if store_url and shown_as else text

    attrs = {}
    for key in _ATTRS:
        value = getattr(exc, key, None)
        if isinstance(value, str | int | float | bool):
            attrs[key] = swap(value) if isinstance(value, str) else value
    return {
        "error": {
            "type": type(exc).__name__,
            "message": swap(Exception.__str__(exc)),
            "fix": exc.fix,
            "fix_values": {k: swap(v) for k, v in exc.fix_values.items()},
            "attrs": attrs,
        }
    }


def error_text(exc: ModelshelfError, *, store_url: str = "", shown_as: str = "") -> str:
    """The message and next step of ``exc`` as a person reads them from the registry (its
    pages): what :func:`error_body` says, the store's URL replaced by ``shown_as`` alike."""
    said = error_body(exc, store_url=store_url, shown_as=shown_as)["error"]
    return ModelshelfError(said["message"]).with_fix(said["fix"], **said["fix_values"]).render()


def _error_type(name: object) -> type[ModelshelfError]:
    found = (
        getattr(errors, name, None) if isinstance(name, str) and name in errors.__all__ else None
    )
    if isinstance(found, type) and issubclass(found, ModelshelfError):
        return found
    return StoreError


def _blank(kind: type[ModelshelfError]) -> ModelshelfError:
    """An instance of ``kind`` whose ``__init__`` has not run. The ``__new__`` that may make it
    is that of its builtin base with a layout of its own (``OSError`` for a FileNotFoundError
    subclass), which the first ``__new__`` found on the MRO (``LookupError``'s) may not be."""
    for base in kind.__mro__:
        if "__new__" in vars(base):
            try:
                made: ModelshelfError = base.__new__(kind)  # type: ignore[call-overload]
            except TypeError:
                continue
            return made
    raise AssertionError(f"no __new__ makes {kind.__name__}")  # pragma: no cover: object's does


def _text(value: object, limit: int = MAX_ERROR_TEXT) -> str:
    text = value if isinstance(value, str) else ""
    return trust.escape_controls(text[:limit])


def error_from_body(status: int, body: object, registry_url: str) -> ModelshelfError:
    """The error a server's answer describes, as the same :class:`ModelshelfError` subclass.

    The server is outside input: only error types of :mod:`modelshelf.errors` are rebuilt
    (anything else is a :class:`~modelshelf.errors.StoreError`), every text is bounded and its
    control characters escaped, and attributes are plain values. The instance is built without
    running the type's ``__init__`` (whose arguments differ by type): its message is the
    server's.
    """
    detail = body.get("error") if isinstance(body, dict) else None
    if not isinstance(detail, dict):
        what = f"answered HTTP {status} without an error body"
        if status in (502, 503, 504):
            return StoreUnavailableError(f"the registry {registry_url} {what}; try again later")
        return StoreError(f"the registry {registry_url} {what}; is it a modelshelf registry?")
    kind = _error_type(detail.get("type"))
    message = _text(detail.get("message")) or f"the registry {registry_url} answered HTTP {status}"
    exc = _blank(kind)
    Exception.__init__(exc, message)
    attrs = detail.get("attrs")
    for key, value in attrs.items() if isinstance(attrs, dict) else ():
        if key in _ATTRS and isinstance(value, str | int | float | bool):
            setattr(exc, key, _text(value, 512) if isinstance(value, str) else value)
    fix, values = detail.get("fix"), detail.get("fix_values")
    if isinstance(fix, str) and fix and isinstance(values, dict) and _PLAIN_FIELDS.fullmatch(fix):
        clean = {str(k)[:64]: _text(v, 512) for k, v in list(values.items())[:20]}
        try:
            exc.with_fix(_text(fix, 512), **clean)
            exc.render()  # a fix whose fields do not render is dropped, not raised later
        except (KeyError, ValueError, IndexError, TypeError, AttributeError):
            exc.fix, exc.fix_values = "", {}
    return exc
