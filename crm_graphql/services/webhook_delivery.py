"""Webhook delivery (issue 16): the durable outbox of each webhook, sent by whichever
server process holds the webhook's lease, following the Standard Webhooks specification.

Per webhook and pass: claim the webhook (a conditional UPDATE of `claimed_by` and
`claimed_until`, the database's clock, as `services/outbox.py` does), then repeat:
  - the oldest PENDING delivery is the head; when none waits, read the events after the
    webhook's cursor that its owner may see NOW (`source`, the event log's
    `visible_events` with the owner's Viewer, given by the caller: services sit below
    permissions) and, in one transaction, append a delivery per wanted event and move
    the cursor (only while the claim is still ours);
  - send the head: its event is read again through `source` first, so an event the
    owner may no longer see is SKIPPED, never sent. 2xx: SUCCEEDED, the failure count
    resets. Otherwise the head waits (exponential backoff with jitter) and nothing after
    it is sent, so deliveries go in event order (in order per object); after
    `CRM_WEBHOOK_MAX_FAILURES` failed attempts in a row the webhook is disabled with the
    reason, its head still PENDING for when it is re-enabled.
A process killed mid-attempt leaves the head PENDING and the lease runs out: another
process (or the restarted one) sends it again. Delivery is at least once; receivers
deduplicate with `webhook-id` (the same for every attempt of one event)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from crm_graphql.models.auth import TokenKind, TokenScope
from crm_graphql.models.users import User
from crm_graphql.models.webhooks import (
    WEBHOOK_ACTIONS,
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
)
from crm_graphql.services.auth import Viewer, user_bits
from crm_graphql.services.database import database_now
from crm_graphql.services.deadline import deadline_scope
from crm_graphql.services.orm import column_values
from crm_graphql.services.webhook_transport import post
from crm_graphql.settings import Settings

log = logging.getLogger("crm_graphql.webhooks")

BATCH = 100  # events read into the outbox at once
PER_CLAIM = 200  # deliveries one claim sends before it lets go (others get a turn)
WEBHOOKS_AT_ONCE = 8  # webhooks one process sends to concurrently
WORKER = f"{socket.gethostname()}:{os.getpid()}"[:40]
USER_AGENT = "crm-graphql-webhooks/1"


class EventLike(Protocol):
    """What delivery reads of an event of the log (`models/events.Event`)."""

    id: int
    object_type: Any
    object_id: int
    action: Any
    changes: Any
    actor_id: int | None
    created_at: datetime


class LostPosition(LookupError):
    """The log no longer holds the event a webhook's cursor names (pruned)."""


class EventSource(Protocol):
    """The event log as one viewer may see it now (permissions/webhooks.py; services sit
    below permissions, so the caller hands it in)."""

    async def after(
        self, viewer: Viewer, position: int | None, types: Sequence[str], limit: int
    ) -> Sequence[EventLike]:
        """The next `limit` events after the event `position` (None: from the start)
        in the log's reading order; LostPosition when the log no longer has it."""
        ...

    async def one(self, viewer: Viewer, event_id: int, object_type: str) -> EventLike | None:
        """The event, or None when the viewer may not see it (now)."""
        ...


def event_type(event: EventLike) -> str:
    """`company.updated` for an UPDATE of a company."""
    action = WEBHOOK_ACTIONS.get(str(event.action), str(event.action).lower())
    return f"{str(event.object_type).lower()}.{action}"


def message_id(webhook_id: int, event_id: int) -> str:
    """The `webhook-id`: one per webhook and event, the same for every attempt."""
    return f"msg_{webhook_id}_{event_id}"


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` keyed with the secret's
    bytes (the part after `whsec_`, base64-decoded)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def body(event: EventLike) -> bytes:
    """The JSON body: the type, the event's time and the event itself."""
    created = event.created_at.isoformat().replace("+00:00", "Z")
    return json.dumps(
        {
            "type": event_type(event),
            "timestamp": created,
            "data": {
                "id": str(event.id),
                "objectType": str(event.object_type),
                "objectId": str(event.object_id),
                "action": str(event.action),
                "changes": event.changes or {},
                "actorId": str(event.actor_id) if event.actor_id is not None else None,
                "createdAt": created,
            },
        },
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    ).encode()


def backoff(attempts: int, config: Settings) -> timedelta:
    """The retry delay after `attempts` failed attempts: doubling from the setting, at
    most an hour, with up to 25% jitter either way (receivers that come back are not
    hit by every sender at once)."""
    base = min(config.webhook_retry_seconds * 2 ** max(attempts - 1, 0), 3600.0)
    return timedelta(seconds=base * random.uniform(0.75, 1.25))  # noqa: S311  (jitter)


def _lease(config: Settings) -> timedelta:
    # One attempt at most takes twice the timeout (the transport's overall bound).
    return timedelta(seconds=config.webhook_timeout_seconds * 2 + 5)


def _db_scope(config: Settings) -> Any:
    # Background work has no request deadline: bound its statements all the same.
    return deadline_scope(config.query_timeout_seconds or 30, inherit=False)


async def _claim(webhook_id: int, config: Settings) -> str | None:
    now = await database_now()
    token = f"{WORKER}/{secrets.token_hex(8)}"
    taken = await Webhook.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now), id=webhook_id, active=True
    ).update(claimed_by=token, claimed_until=now + _lease(config))
    return token if taken == 1 else None


async def _renew(webhook_id: int, token: str, config: Settings) -> bool:
    now = await database_now()
    kept = await Webhook.filter(id=webhook_id, claimed_by=token).update(
        claimed_until=now + _lease(config)
    )
    return kept == 1


async def _release(webhook_id: int, token: str) -> None:
    try:
        await Webhook.filter(id=webhook_id, claimed_by=token).update(claimed_until=None)
    except Exception:  # the lease runs out on its own
        log.warning("webhook %s: could not release its claim", webhook_id)


async def owner_viewer(owner: User) -> Viewer:
    """The owner as a FULL-scope viewer with today's bits: what the owner may see now."""
    return Viewer(owner, await user_bits(owner.id), 0, TokenKind.SESSION, TokenScope.FULL)


async def _disable(webhook: Webhook, token: str, reason: str) -> None:
    await Webhook.filter(id=webhook.id, claimed_by=token).update(
        active=False, disabled_reason=reason[:1000]
    )
    log.warning("webhook %s disabled: %s", webhook.id, reason)


async def _take_events(webhook: Webhook, viewer: Viewer, source: EventSource, token: str) -> bool:
    """Append the next events to the outbox; False when there were none."""
    wanted = set(webhook.event_types)
    objects = sorted({t.split(".", 1)[0].upper() for t in wanted})
    events = await source.after(viewer, webhook.cursor or None, objects, BATCH)
    if not events:
        return False
    # The cursor is a position in the log's reading order: the last event read.
    last = int(events[-1].id)
    async with in_transaction():
        moved = await Webhook.filter(id=webhook.id, claimed_by=token, cursor=webhook.cursor).update(
            cursor=last
        )
        if not moved:
            return False  # the claim was lost: the new holder takes these events
        rows = [
            WebhookDelivery(webhook_id=webhook.id, event_id=e.id, event_type=event_type(e))
            for e in events
            if event_type(e) in wanted
        ]
        if rows:
            await WebhookDelivery.bulk_create(rows)
    webhook.cursor = last
    return True


async def _attempt(
    webhook: Webhook,
    delivery: WebhookDelivery,
    viewer: Viewer,
    source: EventSource,
    config: Settings,
    token: str,
) -> bool:
    """Send the head delivery once; True when the queue may go on."""
    obj = delivery.event_type.split(".", 1)[0].upper()
    event = await source.one(viewer, int(delivery.event_id), obj)
    if event is None:
        await WebhookDelivery.filter(id=delivery.id).update(
            status=DeliveryStatus.SKIPPED,
            error="The owner may not see this object (any more), or it is gone.",
            next_attempt_at=None,
        )
        return True
    content = body(event)
    msg_id = message_id(webhook.id, int(delivery.event_id))
    timestamp = int(time.time())
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(webhook.secret, msg_id, timestamp, content),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
    # The lease covers this attempt from now (an attempt is bounded by the transport).
    if not await _renew(webhook.id, token, config):
        return False
    outcome = await post(
        webhook.url,
        content,
        headers,
        seconds=config.webhook_timeout_seconds,
        allow_private=config.webhook_allow_private,
    )
    now = await database_now()
    attempts = delivery.attempts + 1
    async with in_transaction():
        # Recorded only under our claim: after a lost claim the new holder records.
        if not await Webhook.filter(id=webhook.id, claimed_by=token).exists():
            return False
        if outcome.ok:
            await WebhookDelivery.filter(id=delivery.id).update(
                status=DeliveryStatus.SUCCEEDED,
                attempts=attempts,
                response_code=outcome.status,
                duration_ms=outcome.duration_ms,
                error="",
                next_attempt_at=None,
                delivered_at=now,
            )
            await Webhook.filter(id=webhook.id).update(failure_count=0, next_attempt_at=None)
            webhook.failure_count = 0
            return True
        failures = webhook.failure_count + 1
        due = now + backoff(attempts, config)
        await WebhookDelivery.filter(id=delivery.id).update(
            attempts=attempts,
            response_code=outcome.status,
            duration_ms=outcome.duration_ms,
            error=outcome.error,
            next_attempt_at=due,
        )
        if failures >= config.webhook_max_failures:
            reason = f"Disabled after {failures} failed attempts in a row; last: {outcome.error}"
            await Webhook.filter(id=webhook.id).update(
                failure_count=failures,
                active=False,
                disabled_reason=reason[:1000],
                next_attempt_at=None,
            )
            log.warning("webhook %s disabled: %s", webhook.id, reason)
        else:
            await Webhook.filter(id=webhook.id).update(
                failure_count=F("failure_count") + 1, next_attempt_at=due
            )
        webhook.failure_count = failures
    log.info("webhook %s: delivery %s failed: %s", webhook.id, delivery.id, outcome.error)
    return False


async def deliver_webhook(webhook_id: int, source: EventSource, config: Settings) -> int:
    """One claim of one webhook: send what is due, in order; how many were sent."""
    with _db_scope(config):
        token = await _claim(webhook_id, config)
    if token is None:
        return 0
    sent = 0
    try:
        with _db_scope(config):
            webhook = await Webhook.get(id=webhook_id)
            owner = await User.filter(id=webhook.owner_id).select_related("company").first()
            if owner is None or not owner.enabled:
                await _disable(webhook, token, "The owner's account is disabled.")
                return 0
            viewer = await owner_viewer(owner)
        for _ in range(PER_CLAIM):
            with _db_scope(config):
                head = (
                    await WebhookDelivery.filter(
                        webhook_id=webhook_id, status=DeliveryStatus.PENDING
                    )
                    .order_by("id")
                    .first()
                )
                if head is None:
                    try:
                        if await _take_events(webhook, viewer, source, token):
                            continue
                    except LostPosition:
                        await _disable(
                            webhook,
                            token,
                            "The change log no longer holds this webhook's position; "
                            "create it again.",
                        )
                    break
                now = await database_now()
                if head.next_attempt_at is not None and head.next_attempt_at > now:
                    await Webhook.filter(id=webhook_id, claimed_by=token).update(
                        next_attempt_at=head.next_attempt_at
                    )
                    break
            if not await _attempt(webhook, head, viewer, source, config, token):
                break
            sent += 1
    finally:
        with _db_scope(config):
            await _release(webhook_id, token)
    return sent


async def due_webhooks() -> list[int]:
    """Active webhooks nobody holds whose waiting delivery (if any) is due."""
    now = await database_now()
    return await column_values(
        Webhook.filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
            active=True,
        ).order_by("id"),
        "id",
    )


async def run_due(source: EventSource, config: Settings) -> int:
    """One pass over every due webhook; how many deliveries were sent."""
    with _db_scope(config):
        ids = await due_webhooks()
    slots = asyncio.Semaphore(WEBHOOKS_AT_ONCE)
    sent = 0

    async def one(webhook_id: int) -> None:
        nonlocal sent
        async with slots:
            try:
                sent += await deliver_webhook(webhook_id, source, config)
            except Exception:  # the database went away: the lease runs out, a later pass retries
                log.exception("webhook %s: delivery pass failed", webhook_id)

    await asyncio.gather(*(one(i) for i in ids))
    return sent


async def next_due_in(config: Settings) -> float:
    """Seconds until the next retry is due (at most the poll interval)."""
    row = (
        await Webhook.filter(active=True, next_attempt_at__not_isnull=True)
        .order_by("next_attempt_at")
        .first()
        .values("next_attempt_at")
    )
    if row is None:
        return config.webhook_poll_seconds
    seconds = (row["next_attempt_at"] - await database_now()).total_seconds()
    return min(max(seconds, 0.05), config.webhook_poll_seconds)
