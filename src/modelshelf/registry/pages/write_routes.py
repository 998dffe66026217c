"""The writes people make from the pages: move an alias (``POST /a/NAME/-/alias``) and edit
labels and a description (``POST /a/NAME/-/notes``).

Each form carries the session's CSRF token (:mod:`modelshelf.registry.pages.session`); one that
is missing or wrong is answered 403 before anything is read or written. Then the caller needs
the write scope on the name, as in the API, and every write is audited like the API's: the
token's name as ``user`` (under ``modelshelf ui``, the local user and this machine).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from modelshelf import trust
from modelshelf.errors import AliasConflictError, InvalidInputError, ModelshelfError
from modelshelf.registry.audit import audit_done_write
from modelshelf.registry.auth import audit_of, writer_of
from modelshelf.registry.context import ANONYMOUS, Principal
from modelshelf.registry.pages.browse_routes import forbidden, read_form
from modelshelf.registry.pages.render import SECURITY_HEADERS, asset_url, error_page
from modelshelf.registry.pages.session import csrf_matches, local_user, page_principal
from modelshelf.spec import Version, movable_alias
from modelshelf.store.bucket import Store

__all__ = ["parse_labels", "router"]

router = APIRouter(include_in_schema=False)
log = logging.getLogger("modelshelf.registry")

MAX_LABEL_LINES = 64


def parse_labels(text: str) -> dict[str, str]:
    """``team=nlp`` and ``gpu`` lines as ``{"team": "nlp", "gpu": ""}`` (blank lines skipped;
    the store checks keys and values).

    Raises:
        InvalidInputError: more than :data:`MAX_LABEL_LINES` labels, or a key given twice.
    """
    labels: dict[str, str] = {}
    lines = [line.strip() for line in text.replace("\r", "\n").split("\n") if line.strip()]
    if len(lines) > MAX_LABEL_LINES:
        raise InvalidInputError(f"at most {MAX_LABEL_LINES} labels, one a line")
    for line in lines:
        key, _, value = line.partition("=")
        key = key.strip()
        if key in labels:
            raise InvalidInputError(f"the label {trust.show(key)} is given twice")
        labels[key] = value.strip()
    return labels


def _who(request: Request, principal: Principal) -> tuple[dict[str, str], dict[str, str]]:
    """(writer of the record, fields of the audit record) for a write from a page."""
    user = local_user(request)
    if user is not None:
        return {"user": user.name, "host": user.host}, {
            "user": user.name, "host": user.host, "via": "ui",
        }  # fmt: skip
    return writer_of(principal), audit_of(request, principal)


async def _checked(request: Request, name: str) -> tuple[Principal, dict[str, str]] | Response:
    """The form and the caller of a write, or the answer refusing it (403 without the CSRF
    token, before anything else is looked at)."""
    form = await read_form(request)
    if not csrf_matches(request, form.get("csrf")):
        return forbidden(request, Principal(ANONYMOUS, ()))
    try:
        principal = await run_in_threadpool(page_principal, request)
        principal.require("write", trust.check_name(name))
    except ValueError as exc:
        return error_page(request, InvalidInputError(f"no asset name: {exc}"), None)
    except ModelshelfError as exc:
        return error_page(request, exc, None)
    return principal, form


@router.post("/a/{name:path}/-/alias")
async def move_alias(request: Request, name: str) -> Response:
    checked = await _checked(request, name)
    if isinstance(checked, Response):
        return checked
    principal, form = checked
    try:
        await run_in_threadpool(_move, request, principal, name, form)
    except ValueError as exc:  # a version the form made up
        return error_page(request, InvalidInputError(f"the move is refused: {exc}"), principal)
    except ModelshelfError as exc:
        return error_page(request, exc, principal)
    return RedirectResponse(asset_url(name) + "?done=alias", 303, headers=SECURITY_HEADERS)


def _move(request: Request, principal: Principal, name: str, form: dict[str, str]) -> None:
    store: Store = request.app.state.catalog.store
    alias = movable_alias(form.get("alias", "").strip())
    version = form.get("version", "").strip()
    # `expected` is every alias as the page showed it (alias=version,...): the move is a
    # compare-and-swap against what the person saw.
    seen = dict(p.partition("=")[::2] for p in form.get("expected", "").split(",") if "=" in p)
    live = store.versions(name)
    if version not in {str(v) for v in live}:
        raise store.version_not_found(name, Version.parse(trust.check_version(version)), live)
    writer, audit = _who(request, principal)
    try:
        record = store.set_alias(name, alias, version, expected=seen.get(alias, ""), writer=writer)
    except AliasConflictError as exc:
        raise AliasConflictError(
            f"{exc}. The page was out of date: reload it to see where {alias} points now"
        ) from None
    audit_done_write(store, name, "alias", alias=record.alias, version=record.version,
           previous=record.previous, seq=record.seq, **audit)  # fmt: skip
    request.app.state.catalog.touch(name)


@router.post("/a/{name:path}/-/notes")
async def edit_notes(request: Request, name: str) -> Response:
    checked = await _checked(request, name)
    if isinstance(checked, Response):
        return checked
    principal, form = checked
    try:
        version = await run_in_threadpool(_edit, request, principal, name, form)
    except ValueError as exc:
        return error_page(request, InvalidInputError(f"the notes are refused: {exc}"), principal)
    except ModelshelfError as exc:
        return error_page(request, exc, principal)
    target = asset_url(name, "v", version) if version else asset_url(name)
    return RedirectResponse(target + "?done=notes", 303, headers=SECURITY_HEADERS)


def _edit(request: Request, principal: Principal, name: str, form: dict[str, str]) -> str | None:
    store: Store = request.app.state.catalog.store
    version = form.get("version", "").strip() or None
    if version is not None:
        version = trust.check_version(version)
    seq_text = form.get("expected_seq", "")
    if not seq_text.isdigit():
        raise InvalidInputError("expected_seq is the number of the notes record the form showed")
    labels = parse_labels(form.get("labels", ""))
    description = form.get("description", "").replace("\r\n", "\n")
    writer, audit = _who(request, principal)
    before = store.read_notes(name, version)
    notes = store.write_notes(
        name, version, labels=labels, description=description,
        expected_seq=int(seq_text), writer=writer,
    )  # fmt: skip
    fields: dict[str, Any] = {"version": version} if version else {}
    audit_done_write(store, name, "label", **fields, seq=notes.seq,
           labels=", ".join(f"{k}={v}" if v else k for k, v in sorted(labels.items())),
           description_changed=before.description != description, **audit)  # fmt: skip
    request.app.state.catalog.touch(name)
    return version
