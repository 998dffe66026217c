"""The webhooks' admin routes (``admin:*`` only): add, list, remove, test, delivery log.

```
POST   /api/v1/webhooks                    {url, events, prefix} -> 201 {hook, secret}
GET    /api/v1/webhooks                    {hooks: [...]}   (a fingerprint, never a secret)
DELETE /api/v1/webhooks/{id}               {id, removed}
POST   /api/v1/webhooks/{id}/test          a ping now: {delivery, status, error, duration_ms, ok}
GET    /api/v1/webhooks/{id}/deliveries    {deliveries: [...]} newest first (?limit=, 1-1000)
```
Plain ``def`` routes: FastAPI runs them in its thread pool, where the store's blocking calls (and
the test's one delivery, at most 10 s) belong.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request

from modelshelf.errors import InvalidInputError
from modelshelf.registry.auth import Context, may_on_all
from modelshelf.registry.bodies import documented, field, json_body
from modelshelf.registry.context import Principal
from modelshelf.registry.webhooks.deliveries import DeliveryLog
from modelshelf.registry.webhooks.hooks import HookBook
from modelshelf.registry.webhooks.sender import ping

__all__ = ["router"]

router = APIRouter(tags=["webhooks"])

Admin = Annotated[Principal, Depends(may_on_all("admin"))]
JsonBody = Annotated[dict[str, Any], Depends(json_body())]


@router.post(
    "/webhooks",
    status_code=201,
    summary="Add a webhook; its secret is shown once",
    openapi_extra=documented(
        {
            "url": {"type": "string"},
            "events": {"type": "array", "items": {"type": "string"}},
            "prefix": {"type": "string"},
        },
        ("url", "events"),
    ),
)
def add_webhook(
    request: Request, principal: Admin, body: JsonBody, context: Context
) -> dict[str, Any]:
    url = field(body, "url", str)
    events = field(body, "events", list)
    if not all(isinstance(e, str) for e in events):
        raise InvalidInputError("events must be a list of texts such as push or alias")
    prefix = field(body, "prefix", str, default="")
    registry = str(request.base_url).rstrip("/")
    hook, secret = HookBook(context.store).add(
        url, events, prefix, who=principal.name, registry=registry
    )
    return {"hook": hook.public(), "secret": secret}


@router.get("/webhooks", summary="Every webhook (never a secret)")
def list_webhooks(_: Admin, context: Context) -> dict[str, Any]:
    return {"hooks": [hook.public() for hook in HookBook(context.store).hooks()]}


@router.delete("/webhooks/{hook_id}", summary="Remove a webhook and its delivery log")
def remove_webhook(hook_id: str, _: Admin, context: Context) -> dict[str, Any]:
    HookBook(context.store).remove(hook_id)
    return {"id": hook_id, "removed": True}


@router.post("/webhooks/{hook_id}/test", summary="Send a ping now; the receiver's answer")
def test_webhook(hook_id: str, principal: Admin, context: Context) -> dict[str, Any]:
    hook = HookBook(context.store).get(hook_id)
    attempt = ping(context.store, hook, principal.name)
    return {
        "delivery": attempt.delivery,
        "status": attempt.status,
        "error": attempt.error,
        "duration_ms": attempt.duration_ms,
        "ok": attempt.ok,
    }


@router.get("/webhooks/{hook_id}/deliveries", summary="A webhook's delivery log, newest first")
def list_deliveries(
    hook_id: str,
    _: Admin,
    context: Context,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    HookBook(context.store).get(hook_id)  # 404 for a hook that is not there
    return {"deliveries": DeliveryLog(context.store).newest(hook_id, limit)}
