"""Types, inputs and payloads of webhooks and their delivery log (issue 16)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry

from crm_graphql.context import Info
from crm_graphql.errors import BadUserInput
from crm_graphql.models.webhooks import Webhook, WebhookDelivery
from crm_graphql.schema.common import Connection, Edge, PageInfo, UserError, page_size
from crm_graphql.services.listing import ListError, SortKey, fetch_page

DELIVERY_ORDER = (SortKey("id", True),)


@strawberry.enum(description="Where a delivery stands.")
class WebhookDeliveryStatus(Enum):
    PENDING = strawberry.enum_value(
        "PENDING", description="Waiting to be sent, or to be retried at `nextAttemptAt`."
    )
    SUCCEEDED = strawberry.enum_value("SUCCEEDED", description="The receiver answered 2xx.")
    FAILED = strawberry.enum_value("FAILED", description="Given up.")
    SKIPPED = strawberry.enum_value(
        "SKIPPED",
        description="Not sent: when its turn came the owner could no longer see the object.",
    )


@strawberry.type(
    name="WebhookDelivery",
    description="One event sent (or to be sent) to a webhook, with its last attempt.",
)
class WebhookDeliveryType:
    id: strawberry.ID = strawberry.field(description="Delivery id (for webhookRedeliver).")
    event_type: str = strawberry.field(description="The event type, e.g. `company.updated`.")
    attempts: int = strawberry.field(description="Attempts made so far.")
    response_code: int | None = strawberry.field(
        description="HTTP status of the last attempt, null when no answer came."
    )
    duration_ms: int | None = strawberry.field(description="Milliseconds the last attempt took.")
    error: str = strawberry.field(description="Why the last attempt failed (empty if it did not).")
    next_attempt_at: datetime | None = strawberry.field(
        description="When it is tried again (PENDING after a failure), else null."
    )
    created_at: datetime = strawberry.field(description="When the event entered the outbox.")
    delivered_at: datetime | None = strawberry.field(description="When the receiver took it.")

    @strawberry.field(description="The event's id in the change log (its `data.id`).")
    def event_id(self, root: strawberry.Parent[WebhookDelivery]) -> strawberry.ID:
        return strawberry.ID(str(root.event_id))

    @strawberry.field(
        description="The `webhook-id` header: the same for every attempt of this event."
    )
    def message_id(self, root: strawberry.Parent[WebhookDelivery]) -> str:
        return f"msg_{root.webhook_id}_{root.event_id}"

    @strawberry.field(description="Where it stands.")
    def status(self, root: strawberry.Parent[WebhookDelivery]) -> WebhookDeliveryStatus:
        return WebhookDeliveryStatus(root.status.value)


@strawberry.type(
    name="Webhook",
    description="An endpoint that receives, signed, the change events its owner may see.",
)
class WebhookType:
    id: strawberry.ID = strawberry.field(description="Webhook id.")
    url: str = strawberry.field(description="Where events are POSTed.")
    description: str = strawberry.field(description="What it is for.")
    active: bool = strawberry.field(
        description="False when disabled (by its owner or after repeated failures)."
    )
    disabled_reason: str = strawberry.field(description="Why it is disabled (empty when active).")
    failure_count: int = strawberry.field(description="Failed attempts in a row.")
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it was last changed.")

    @strawberry.field(description="The event types it receives, e.g. `company.updated`.")
    def events(self, root: strawberry.Parent[Webhook]) -> list[str]:
        return list(root.event_types)

    @strawberry.field(description="Its delivery log, newest first.")
    async def deliveries(
        self,
        root: strawberry.Parent[Webhook],
        info: Info,
        first: Annotated[
            int | None, strawberry.argument(description="How many (default 10, at most 50).")
        ] = None,
        after: Annotated[
            str | None, strawberry.argument(description="The endCursor of the previous page.")
        ] = None,
    ) -> Connection[WebhookDeliveryType]:
        limits = info.context.settings.limits
        size = page_size(first, limits.nested_page_size_default, limits.nested_page_size_max)
        try:
            page = await fetch_page(
                WebhookDelivery.filter(webhook_id=root.id), DELIVERY_ORDER, size, after
            )
        except ListError as exc:
            raise BadUserInput(str(exc)) from None
        edges: list[Edge[Any]] = [
            Edge(cursor=c, node=r) for r, c in zip(page.rows, page.cursors, strict=True)
        ]
        return Connection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next,
                has_previous_page=page.has_previous,
                start_cursor=page.cursors[0] if page.cursors else None,
                end_cursor=page.cursors[-1] if page.cursors else None,
            ),
            _count=page.count,
        )


@strawberry.input(description="A new webhook.")
class WebhookCreateInput:
    url: str = strawberry.field(
        description="An http(s) URL on a public address (private, loopback and link-local "
        "destinations are refused)."
    )
    events: list[str] = strawberry.field(
        description="Event types: `<object>.created|updated|deleted` for company, contact, "
        "contract, invoice, lead, activity, file."
    )
    description: str = strawberry.field(default="", description="What it is for.")


@strawberry.input(description="Changes to a webhook; omitted fields stay as they are.")
class WebhookUpdateInput:
    id: strawberry.ID = strawberry.field(description="The webhook.")
    url: str | None = strawberry.field(default=None, description="A new URL.")
    events: list[str] | None = strawberry.field(default=None, description="New event types.")
    description: str | None = strawberry.field(default=None, description="A new description.")
    active: bool | None = strawberry.field(
        default=None,
        description="True re-enables a disabled webhook (its waiting delivery goes at once); "
        "false disables it.",
    )


@strawberry.type(description="Result of webhookCreate.")
class WebhookCreatePayload:
    webhook: Webhook | None = strawberry.field(
        graphql_type=WebhookType | None, description="The new webhook."
    )
    secret: str | None = strawberry.field(
        description="Its signing secret (`whsec_...`), shown this once: verify the "
        "`webhook-signature` header with it (Standard Webhooks)."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.type(description="Result of webhookUpdate.")
class WebhookPayload:
    webhook: Webhook | None = strawberry.field(
        graphql_type=WebhookType | None, description="The webhook."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.type(description="Result of webhookRedeliver.")
class WebhookRedeliverPayload:
    delivery: WebhookDelivery | None = strawberry.field(
        graphql_type=WebhookDeliveryType | None,
        description="The delivery that will be sent (a new one when the old one had ended).",
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")
