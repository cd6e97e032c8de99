"""Webhooks: list, create, change, delete, redeliver (issue 16).

FM users (and superadmins) manage webhooks, through a session or a FULL token acting for
its user; each sees and changes only their own. A webhook delivers what its owner may
see when the delivery is sent (services/webhook_delivery.py)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from crm_graphql.context import Info
from crm_graphql.errors import FieldError, PayloadErrors
from crm_graphql.ids import parse_id
from crm_graphql.models.webhooks import Webhook, WebhookDelivery
from crm_graphql.permissions.base import auth
from crm_graphql.permissions.webhooks import start_position
from crm_graphql.resolvers.common import input_fields
from crm_graphql.schema.common import DeletePayload, user_errors
from crm_graphql.schema.webhooks import (
    WebhookCreateInput,
    WebhookCreatePayload,
    WebhookPayload,
    WebhookRedeliverPayload,
    WebhookType,
    WebhookUpdateInput,
)
from crm_graphql.services import webhooks as service
from crm_graphql.services.mutations import atomic

Described = strawberry.argument


@strawberry.type
class WebhookQuery:
    @strawberry.field(
        description="Your webhooks (FM), oldest first.",
        extensions=auth("FM"),
        graphql_type=list[WebhookType],
    )
    async def webhooks(self, info: Info) -> list[Webhook]:
        viewer = info.context.require_viewer()
        return await Webhook.filter(owner_id=viewer.user.id).order_by("id")


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        description="Create a webhook (FM): events its owner may see are POSTed to the URL, "
        "signed (Standard Webhooks). The secret is in this payload only.",
        extensions=auth("FM"),
    )
    async def webhook_create(
        self,
        info: Info,
        input: Annotated[WebhookCreateInput, Described(description="The webhook.")],
    ) -> WebhookCreatePayload:
        viewer = info.context.require_viewer()
        config = info.context.settings
        data = input_fields(input)
        # Checked before the transaction: resolving the URL's host may take seconds.
        try:
            fields = await service.checked_fields(data, config)
        except PayloadErrors as exc:
            return WebhookCreatePayload(webhook=None, secret=None, errors=user_errors(exc.errors))

        async def work() -> tuple[Webhook, str]:
            start = await start_position()
            return await service.create(viewer.user, fields, start, info.context.request_id)

        result, errors = await atomic(work)
        if result is None:
            return WebhookCreatePayload(webhook=None, secret=None, errors=user_errors(errors))
        return WebhookCreatePayload(webhook=result[0], secret=result[1], errors=[])

    @strawberry.mutation(
        description="Change one of your webhooks, or re-enable it (`active: true`).",
        extensions=auth("FM"),
    )
    async def webhook_update(
        self,
        info: Info,
        input: Annotated[WebhookUpdateInput, Described(description="The changes.")],
    ) -> WebhookPayload:
        viewer = info.context.require_viewer()
        config = info.context.settings
        data = input_fields(input)
        active = data.pop("active", None)
        # Checked before the transaction: resolving the URL's host may take seconds.
        try:
            webhook_id = parse_id(data.pop("id"), "id")
            fields = await service.checked_fields(data, config)
        except FieldError as exc:
            return WebhookPayload(webhook=None, errors=user_errors([exc]))
        except PayloadErrors as exc:
            return WebhookPayload(webhook=None, errors=user_errors(exc.errors))

        async def work() -> Webhook:
            return await service.update(
                viewer.user, webhook_id, fields, active, info.context.request_id
            )

        webhook, errors = await atomic(work)
        return WebhookPayload(webhook=webhook, errors=user_errors(errors))

    @strawberry.mutation(
        description="Delete one of your webhooks and its delivery log.", extensions=auth("FM")
    )
    async def webhook_delete(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="The webhook.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            await service.delete(viewer.user, parse_id(id, "id"), info.context.request_id)

        _, errors = await atomic(work)
        return DeletePayload(deleted_id=None if errors else id, errors=user_errors(errors))

    @strawberry.mutation(
        description="Send a delivery's event again: a waiting delivery now, a finished one "
        "as a new delivery (same `webhook-id`).",
        extensions=auth("FM"),
    )
    async def webhook_redeliver(
        self,
        info: Info,
        delivery_id: Annotated[strawberry.ID, Described(description="The delivery.")],
    ) -> WebhookRedeliverPayload:
        viewer = info.context.require_viewer()

        async def work() -> WebhookDelivery:
            return await service.redeliver(
                viewer.user, parse_id(delivery_id, "deliveryId"), info.context.request_id
            )

        delivery, errors = await atomic(work)
        return WebhookRedeliverPayload(delivery=delivery, errors=user_errors(errors))
