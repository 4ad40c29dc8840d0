"""``/webhooks``: subscriptions (admin) and their delivery log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query, Response

from adapters.feed import head_position, topics_for
from adapters.http.deps import Admin, Svc
from adapters.http.documents import DeliveryDoc, WebhookCreated, WebhookDoc, answers
from adapters.http.routing import Router
from adapters.http.schemas import WebhookCreate
from adapters.webhooks.signing import new_secret

router = Router(prefix="/webhooks", tags=["webhooks"])

MAX_DELIVERIES = 1000


@router.get("", **answers(list[WebhookDoc]))
def list_webhooks(svc: Svc, _: Admin) -> list[dict[str, Any]]:
    return [s.doc() for s in svc.webhooks.subscriptions()]


@router.post("", **answers(WebhookCreated, 201))
def add_webhook(body: WebhookCreate, svc: Svc, key: Admin, response: Response) -> dict[str, Any]:
    """Subscribe a URL; the secret is returned once, in this response only."""
    topics_for(body.event_types)  # refuse unknown types now, not at delivery time
    secret = body.secret or new_secret()
    position = body.from_position if body.from_position is not None else head_position(svc.ledger)
    subscription = svc.webhooks.add(body.url, secret, body.event_types, position, key.name)
    response.headers["Location"] = f"/webhooks/{subscription.id}"
    return subscription.created_doc()


@router.get("/{ref}", **answers(WebhookDoc))
def show_webhook(ref: str, svc: Svc, _: Admin) -> dict[str, Any]:
    return svc.webhooks.subscription(ref).doc()


@router.delete("/{ref}", **answers(WebhookDoc))
def remove_webhook(ref: str, svc: Svc, _: Admin) -> dict[str, Any]:
    return svc.webhooks.remove(ref).doc()


@router.get("/{ref}/deliveries", **answers(list[DeliveryDoc]))
def webhook_deliveries(
    ref: str,
    svc: Svc,
    _: Admin,
    status: Literal["pending", "delivered", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_DELIVERIES)] = 100,
) -> list[dict[str, Any]]:
    subscription = svc.webhooks.subscription(ref)
    return [d.doc() for d in svc.webhooks.deliveries(subscription.id, status, limit)]
