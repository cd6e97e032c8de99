"""The event log (issue 16): one row per create, update or delete of a CRM object,
written in the transaction of the change. The change feed (`changes`), record history,
webhooks and subscriptions all read it, each through `permissions/events.py`."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class EventObjectType(StrEnum):
    COMPANY = "COMPANY"
    CONTACT = "CONTACT"
    CONTRACT = "CONTRACT"
    INVOICE = "INVOICE"
    LEAD = "LEAD"
    ACTIVITY = "ACTIVITY"
    FILE = "FILE"


class EventAction(StrEnum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


class Event(Model):
    """One change. Readers page in (`txid`, `id`) order: see docs/architecture.md, "The
    event log", for why that order never skips an event that commits late."""

    id = fields.BigIntField(primary_key=True)
    # PostgreSQL: the writing transaction's id (txid_current()); SQLite: 0 (one writer).
    txid = fields.BigIntField(default=0)
    object_type = fields.CharField(max_length=24)
    object_id = fields.IntField()
    action = fields.CharField(max_length=12)
    # {apiFieldName: [old, new]}, JSON values; empty for a deletion.
    changes: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    # No foreign key: deleting a user keeps the history.
    actor_id = fields.IntField(null=True)
    created_at = fields.DatetimeField()
    # Visibility snapshot at write time: the object's company (the company itself for
    # a company), what a tombstone's reader is checked against with `audience`.
    company_id = fields.IntField(null=True)
    scope: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)

    class Meta:
        table = "events"
        indexes = (("txid", "id"), ("object_type", "object_id", "id"))


class EventAudience(Model):
    """Who could see a deleted object when it was deleted (superadmins see every
    tombstone and are not listed): the snapshot a tombstone's visibility is decided by."""

    id = fields.BigIntField(primary_key=True)
    event_id = fields.BigIntField()
    user_id = fields.IntField()

    class Meta:
        table = "event_audience"
        unique_together = (("user_id", "event_id"),)
