"""Webhooks (issue 16): a user's subscription of an HTTPS endpoint to change events, and
the delivery log of what was sent to it.

A webhook reads the event log after its own cursor; each event it takes becomes one
delivery row (the durable outbox), sent in id order by whichever server process holds
the webhook's lease. The signing secret is kept in clear: the HMAC needs it; the API
shows it only once, in the payload of `webhookCreate`."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from crm_graphql.models.users import User

# The objects whose changes a webhook can follow (the event log's object types) and
# the actions, as the lower-case parts of an event type such as `company.updated`.
WEBHOOK_OBJECTS = ("company", "contact", "contract", "invoice", "lead", "activity", "file")
WEBHOOK_ACTIONS = {"CREATE": "created", "UPDATE": "updated", "DELETE": "deleted"}
WEBHOOK_EVENT_TYPES = tuple(
    f"{obj}.{action}" for obj in WEBHOOK_OBJECTS for action in WEBHOOK_ACTIONS.values()
)


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"


class Webhook(Model):
    """An endpoint that receives the change events its owner may see."""

    id = fields.IntField(primary_key=True)
    owner: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "crm.User", related_name="webhooks", on_delete=fields.CASCADE
    )
    url = fields.CharField(max_length=2000)
    event_types: fields.JSONField[list[str]] = fields.JSONField(default=list)
    description = fields.CharField(max_length=500, default="")
    secret = fields.CharField(max_length=100)
    active = fields.BooleanField(default=True)
    disabled_reason = fields.CharField(max_length=1000, default="")
    # Failed attempts in a row (reset by a success); at the limit the webhook is disabled.
    failure_count = fields.IntField(default=0)
    # The last event id taken into the delivery log.
    cursor = fields.BigIntField(default=0)
    # When the oldest pending delivery is due again (backoff), null when nothing waits.
    next_attempt_at = fields.DatetimeField(null=True)
    # A server process holds the webhook until then (its lease), `claimed_by` says which.
    claimed_until = fields.DatetimeField(null=True)
    claimed_by = fields.CharField(max_length=64, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    owner_id: int

    class Meta:
        table = "webhooks"
        ordering = ["id"]


class WebhookDelivery(Model):
    """One event sent (or to be sent) to one webhook, with its last attempt's outcome."""

    id = fields.BigIntField(primary_key=True)
    webhook: fields.ForeignKeyRelation[Webhook] = fields.ForeignKeyField(
        "crm.Webhook", related_name="deliveries", on_delete=fields.CASCADE
    )
    event_id = fields.BigIntField()
    event_type = fields.CharField(max_length=40)
    status = fields.CharEnumField(DeliveryStatus, max_length=10, default=DeliveryStatus.PENDING)
    attempts = fields.IntField(default=0)
    response_code = fields.IntField(null=True)
    duration_ms = fields.IntField(null=True)
    error = fields.CharField(max_length=1000, default="")
    next_attempt_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    delivered_at = fields.DatetimeField(null=True)

    webhook_id: int

    class Meta:
        table = "webhook_deliveries"
        ordering = ["id"]
        indexes = (("webhook_id", "status", "id"),)
