"""Webhooks (issue 16): create, change, delete, redeliver; the delivery itself is in
`services/webhook_delivery.py`, the loop that runs it in `webhookworkers.py`.

A webhook belongs to the user who made it (an FM user, or a FULL token acting for its
user) and only that user sees or changes it. Its URL passes the SSRF guard
(`services/webhook_transport.py`) when it is set, and again at every delivery. The
secret (`whsec_` + base64 of 32 random bytes, the Standard Webhooks form) is returned
once by `webhookCreate`."""

from __future__ import annotations

import base64
import secrets
from typing import Any

from crm_graphql.errors import ErrorCode, FieldError, PayloadErrors
from crm_graphql.models.users import User
from crm_graphql.models.webhooks import (
    WEBHOOK_EVENT_TYPES,
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
)
from crm_graphql.services import audit, events, files
from crm_graphql.services.database import database_now
from crm_graphql.services.webhook_transport import RefusedDestination, check_destination
from crm_graphql.settings import Settings

SECRET_PREFIX = "whsec_"  # noqa: S105  (a marker, not a secret)
MAX_DESCRIPTION = 500
MAX_WEBHOOKS_PER_USER = 20


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def parse_event_types(values: list[str]) -> list[str]:
    """The event types asked for, deduplicated in the catalogue's order."""
    if not values:
        raise FieldError("events", ErrorCode.REQUIRED, "Name at least one event type.")
    unknown = sorted({v for v in values if v not in WEBHOOK_EVENT_TYPES})
    if unknown:
        raise FieldError(
            "events",
            ErrorCode.INVALID,
            f"Unknown event types: {', '.join(unknown[:5])[:200]}. "
            "Known: <object>.created|updated|deleted for company, contact, contract, "
            "invoice, lead, activity, file.",
        )
    return [t for t in WEBHOOK_EVENT_TYPES if t in set(values)]


async def check_url(url: str, config: Settings) -> str:
    url = url.strip()
    if not url:
        raise FieldError("url", ErrorCode.REQUIRED, "A URL is required.")
    try:
        await check_destination(url, config.webhook_allow_private)
    except RefusedDestination as exc:
        raise FieldError("url", ErrorCode.INVALID, exc.message) from None
    return url


def _description(value: str) -> str:
    value = value.strip()
    if len(value) > MAX_DESCRIPTION:
        raise FieldError(
            "description", ErrorCode.TOO_LARGE, f"At most {MAX_DESCRIPTION} characters."
        )
    return value


async def checked_fields(data: dict[str, Any], config: Settings) -> dict[str, Any]:
    """The given fields parsed, every problem collected (nothing is written before)."""
    errors: list[FieldError] = []
    parsed: dict[str, Any] = {}
    try:
        if data.get("url") is not None:
            parsed["url"] = await check_url(str(data["url"]), config)
    except FieldError as exc:
        errors.append(exc)
    try:
        if data.get("events") is not None:
            parsed["event_types"] = parse_event_types(list(data["events"]))
    except FieldError as exc:
        errors.append(exc)
    try:
        if data.get("description") is not None:
            parsed["description"] = _description(str(data["description"]))
    except FieldError as exc:
        errors.append(exc)
    if errors:
        raise PayloadErrors(errors)
    return parsed


async def create(
    owner: User, fields: dict[str, Any], start_after: int, request_id: str
) -> tuple[Webhook, str]:
    """A new webhook (fields from `checked_fields`) that delivers the events after
    `start_after`; returns it and its secret."""
    for required in ("url", "event_types"):
        if required not in fields:
            name = "events" if required == "event_types" else required
            raise FieldError(name, ErrorCode.REQUIRED, "A value is required.")
    if await Webhook.filter(owner_id=owner.id).count() >= MAX_WEBHOOKS_PER_USER:
        raise FieldError(None, ErrorCode.INVALID, f"At most {MAX_WEBHOOKS_PER_USER} webhooks.")
    secret = new_secret()
    webhook = await Webhook.create(owner_id=owner.id, secret=secret, cursor=start_after, **fields)
    await audit.record(
        owner,
        "webhook.create",
        "Webhook",
        webhook.id,
        {"url": webhook.url, "events": webhook.event_types},
        request_id,
    )
    return webhook, secret


async def owned(owner: User, webhook_id: int, field: str = "id") -> Webhook:
    webhook = await Webhook.filter(id=webhook_id, owner_id=owner.id).select_for_update().first()
    if webhook is None:
        raise FieldError(field, ErrorCode.NOT_FOUND, "No such webhook.")
    return webhook


async def update(
    owner: User, webhook_id: int, fields: dict[str, Any], active: bool | None, request_id: str
) -> Webhook:
    """Change a webhook; `active=True` re-enables a disabled one (its failure count
    starts again and the waiting delivery is due at once)."""
    webhook = await owned(owner, webhook_id)
    for name, value in fields.items():
        setattr(webhook, name, value)
    if active is True and not webhook.active:
        webhook.active = True
        webhook.disabled_reason = ""
        webhook.failure_count = 0
        webhook.next_attempt_at = None
        await WebhookDelivery.filter(webhook_id=webhook.id, status=DeliveryStatus.PENDING).update(
            next_attempt_at=None
        )
        # This process's delivery loop waits on the log's wake-ups: run it after commit.
        files.on_commit(events.wake)
    elif active is False:
        webhook.active = False
        webhook.disabled_reason = "Disabled by its owner."
    await webhook.save()
    changes: dict[str, Any] = {k if k != "event_types" else "events": v for k, v in fields.items()}
    if active is not None:
        changes["active"] = active
    await audit.record(owner, "webhook.update", "Webhook", webhook.id, changes, request_id)
    return webhook


async def delete(owner: User, webhook_id: int, request_id: str) -> None:
    webhook = await owned(owner, webhook_id)
    await webhook.delete()
    await audit.record(owner, "webhook.delete", "Webhook", webhook_id, {}, request_id)


async def redeliver(owner: User, delivery_id: int, request_id: str) -> WebhookDelivery:
    """Send a delivery's event again: a waiting one at once, a finished one as a new
    delivery at the end of the webhook's queue (with the same `webhook-id`)."""
    delivery = (
        await WebhookDelivery.filter(id=delivery_id, webhook__owner_id=owner.id)
        .select_related("webhook")
        .first()
    )
    if delivery is None:
        raise FieldError("deliveryId", ErrorCode.NOT_FOUND, "No such delivery.")
    now = await database_now()
    if delivery.status == DeliveryStatus.PENDING:
        await WebhookDelivery.filter(id=delivery.id).update(next_attempt_at=now)
        delivery.next_attempt_at = now
        again = delivery
    else:
        again = await WebhookDelivery.create(
            webhook_id=delivery.webhook_id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
        )
    await Webhook.filter(id=delivery.webhook_id).update(next_attempt_at=now)
    files.on_commit(events.wake)
    await audit.record(
        owner,
        "webhook.redeliver",
        "Webhook",
        delivery.webhook_id,
        {"event": delivery.event_id},
        request_id,
    )
    return again
