"""The front page (assets and search), the audit log, sign-in and sign-out, the CSS, and the
JSON twins of search and the log (``/api/v1/search``, ``/api/v1/log``).

Every route is a plain ``def`` (FastAPI runs it in its thread pool: the catalog's poll and the
store's reads block).
"""

from __future__ import annotations

import functools
import importlib.resources
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from modelshelf import trust
from modelshelf.errors import InvalidInputError, ModelshelfError
from modelshelf.registry.auth import Caller, session_of, tokens_of
from modelshelf.registry.context import Principal
from modelshelf.registry.pages.catalog import AssetSummary, Catalog
from modelshelf.registry.pages.render import (
    SECURITY_HEADERS,
    guarded,
    page,
    url,
)
from modelshelf.registry.pages.search import PER_PAGE, page_number, parse_query, search
from modelshelf.registry.pages.session import (
    MAX_TOKEN_CHARS,
    csrf_matches,
    forget_session,
    page_principal,
    same_origin,
    start_session,
)
from modelshelf.store.http_protocol import API

__all__ = ["LOG_ACTIONS", "catalog_of", "log_page_records", "router"]

router = APIRouter(include_in_schema=False)
api_router = APIRouter(tags=["pages"])

LOG_ACTIONS = ("push", "alias", "remove", "copy", "repair", "label")
MAX_FORM_BYTES = 16 << 10
MAX_LOG_PAGE = 1_000_000


def catalog_of(request: Request) -> Catalog:
    """The app's catalog, made fresh (polled) when its last poll is over a second old."""
    catalog: Catalog = request.app.state.catalog
    catalog.refresh_if_stale()
    return catalog


def asset_json(asset: AssetSummary) -> dict[str, Any]:
    newest = asset.newest
    return {
        "name": asset.name,
        "versions": len(asset.versions),
        "newest": newest.to_json() if newest else None,
        "last_push": asset.last_push,
        "aliases": dict(sorted(asset.aliases.items())),
        "labels": dict(sorted(asset.labels.items())),
    }


# -- the front page ------------------------------------------------------------------------------
@router.get("/")
def front(request: Request) -> Response:
    def build() -> Response:
        principal = page_principal(request)
        catalog = catalog_of(request)
        query = parse_query(request.query_params)
        result = search(catalog.assets(), query, lambda n: principal.can("read", n))
        return page(
            request, "front.html", title="Assets", principal=principal,
            twin=url(f"{API}/search", query.params()), query=query, result=result,
            progress=catalog.progress(principal.can("read", None)),
        )  # fmt: skip

    return guarded(request, build)


@api_router.get(f"{API}/search", summary="Search assets (the front page's twin)")
def search_json(request: Request, principal: Caller) -> dict[str, Any]:
    principal.require_any("read")  # 401 without a token, as the API's listings: not an empty list
    catalog = catalog_of(request)
    query = parse_query(request.query_params)
    result = search(catalog.assets(), query, lambda n: principal.can("read", n))
    return {
        "total": result.total,
        "page": query.page,
        "per_page": PER_PAGE,
        "pages": result.pages,
        "indexing": catalog.progress(principal.can("read", None)),
        "assets": [asset_json(a) for a in result.assets],
    }


# -- the audit log -------------------------------------------------------------------------------
def _details(record: dict[str, Any]) -> str:
    action = record.get("action")
    if action == "alias":
        target = record.get("version") or "(removed)"
        return f"@{record.get('alias')}: {record.get('previous') or '(unset)'} → {target}"
    if action == "push":
        return f"{record.get('message', '')} ({record.get('files', '?')} files)".strip()
    if action == "label":
        return str(record.get("labels", ""))
    if action == "copy":
        return f"from {record.get('source', '?')}"
    return str(record.get("message", ""))


def log_page_records(
    request: Request, principal: Principal, params: dict[str, str]
) -> list[dict[str, Any]]:
    """The records the log page shows, newest first, filtered by scope and ``params``
    (``asset`` reads that asset's own log: complete even for records older than the
    store-wide log)."""
    asset, action, who = params["asset"], params["action"], params["who"].lower()
    if asset:
        name = trust.check_name(asset) if trust.is_name(asset) else None
        if name is None or not principal.can("read", name):
            return []
        records = sorted(request.app.state.catalog.store.log(name), key=lambda r: r["when"])
    else:
        records = [r for _, r in catalog_of(request).log_records()]
    kept = [
        r
        for r in reversed(records)
        if principal.can("read", str(r.get("name", "")))
        and (not action or r.get("action") == action)
        and (not who or who in str(r.get("user", "")).lower())
    ]
    return kept


def _log_params(request: Request) -> tuple[dict[str, str], int]:
    params = {k: request.query_params.get(k, "").strip()[:200] for k in ("asset", "action", "who")}
    if params["action"] and params["action"] not in LOG_ACTIONS:
        raise InvalidInputError(f"action is one of {', '.join(LOG_ACTIONS)}")
    return params, page_number(request.query_params.get("page"), MAX_LOG_PAGE)


@router.get("/log")
def log_page(request: Request) -> Response:
    def build() -> Response:
        principal = page_principal(request)
        params, page_no = _log_params(request)
        records = log_page_records(request, principal, params)
        pages = max(1, -(-len(records) // PER_PAGE))
        shown = [
            {**r, "details": _details(r), "version": r.get("version")}
            for r in records[(page_no - 1) * PER_PAGE : page_no * PER_PAGE]
        ]
        kept = {k: v for k, v in params.items() if v}
        return page(
            request, "log.html", title="Audit log", principal=principal,
            twin=url(f"{API}/log", {**kept, **({"page": str(page_no)} if page_no > 1 else {})}),
            filters=params, actions=LOG_ACTIONS, records=shown, total=len(records),
            pages=pages, page_no=page_no,
            prev_url=url("/log", {**kept, "page": str(page_no - 1)}) if page_no > 1 else None,
            next_url=url("/log", {**kept, "page": str(page_no + 1)}) if page_no < pages else None,
            progress=request.app.state.catalog.progress(principal.can("read", None)),
        )  # fmt: skip

    return guarded(request, build)


@api_router.get(f"{API}/log", summary="The store's audit log, newest first (the log page's twin)")
def log_json(request: Request, principal: Caller) -> dict[str, Any]:
    principal.require_any("read")
    params, page_no = _log_params(request)
    records = log_page_records(request, principal, params)
    shown = records[(page_no - 1) * PER_PAGE : page_no * PER_PAGE]
    return {
        "total": len(records),
        "page": page_no,
        "per_page": PER_PAGE,
        "records": shown,
    }


# -- sign-in and sign-out ------------------------------------------------------------------------
@router.get("/sign-in")
def sign_in_form(request: Request) -> Response:
    return guarded(
        request,
        lambda: page(
            request,
            "sign_in.html",
            title="Sign in",
            principal=page_principal(request),
            sign_in_error=None,
        ),
    )


async def read_form(request: Request) -> dict[str, str]:
    """A page form's fields, refused past :data:`MAX_FORM_BYTES` before it is parsed."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise InvalidInputError(f"a form takes at most {MAX_FORM_BYTES} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise InvalidInputError(f"a form takes at most {MAX_FORM_BYTES} bytes")
    from urllib.parse import parse_qsl

    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise InvalidInputError("the form is not URL-encoded UTF-8") from None
    return dict(pairs)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    from modelshelf.registry.context import ANONYMOUS

    anonymous = Principal(ANONYMOUS, ())
    if not same_origin(request):  # another site signing this browser in with its own token
        return forbidden(request, anonymous)
    try:
        form = await read_form(request)
        token = form.get("token", "").strip()
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise InvalidInputError("that is not a token of this registry")
        book = tokens_of(request)
        holder = await run_in_threadpool(book.verify, token)
        session, seconds = await run_in_threadpool(book.start_session, holder.name)
    except ModelshelfError:
        return page(
            request, "sign_in.html", title="Sign in", principal=anonymous, status=401,
            sign_in_error="This registry refused that token: check it, or ask an admin for a"
            " new one (it may have expired or been revoked).",
        )  # fmt: skip
    answer = RedirectResponse("/?done=signed-in", status_code=303, headers=SECURITY_HEADERS)
    start_session(request, answer, session, seconds)  # the cookie holds no token
    return answer


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    from modelshelf.registry.context import ANONYMOUS

    form = await read_form(request)
    if not csrf_matches(request, form.get("csrf")):
        return forbidden(request, Principal(ANONYMOUS, ()))
    session = session_of(request)
    if session is not None:  # ended on every replica, not only dropped by this browser
        await run_in_threadpool(tokens_of(request).end_session, session)
    answer = RedirectResponse("/?done=signed-out", status_code=303, headers=SECURITY_HEADERS)
    forget_session(request, answer)
    return answer


def forbidden(request: Request, principal: Principal) -> Response:
    """The 403 page of a form without the right CSRF token (nothing was written)."""
    return page(
        request, "error.html", title="Refused", principal=principal, status=403,
        error="This form is out of date or did not come from this registry's pages (its CSRF"
        " token is missing or wrong); nothing was changed. Reload the page and try again.",
        signed_out_refusal=False,
    )  # fmt: skip


# -- the style sheet -----------------------------------------------------------------------------
@functools.cache
def _css() -> bytes:
    return (
        importlib.resources.files("modelshelf.registry.pages") / "static/modelshelf.css"
    ).read_bytes()


@router.get("/static/modelshelf.css")
def stylesheet() -> Response:
    return Response(
        _css(),
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


def json_answer(data: dict[str, Any]) -> JSONResponse:
    return JSONResponse(data)
