"""Calendar events (invoice payment reminders, lead alarms, the user's own notes) and
the per-user iCalendar feed tokens that publish them (SPEC §9).

A feed token is a credential of its own, in its own table: only its SHA-256 is stored,
it is revocable, and it is never a bearer token for the API (it does not even have the
API tokens' prefix)."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from crm_graphql.models.users import User


class CalendarEventKind(StrEnum):
    INVOICE_DUE = "INVOICE_DUE"
    LEAD_ALARM = "LEAD_ALARM"
    OTHER = "OTHER"


class CalendarEvent(Model):
    """One event of one user's calendar."""

    # starts_on is always set: the day of an all-day event (starts_at null), or the UTC
    # day of starts_at for a timed one. Ranges and ordering use it.

    id = fields.IntField(primary_key=True)
    owner: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "crm.User", related_name="calendar_events", on_delete=fields.CASCADE
    )
    title = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    starts_on = fields.DateField()
    starts_at = fields.DatetimeField(null=True)
    kind = fields.CharEnumField(CalendarEventKind, max_length=20, default=CalendarEventKind.OTHER)
    # The object the event is about (e.g. "Invoice" and its id), or "" and null.
    object_type = fields.CharField(max_length=40, default="")
    object_id = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    owner_id: int

    class Meta:
        table = "calendar_events"
        ordering = ["starts_on", "id"]
        # One reminder of a kind per owner and object (NULL object ids never collide).
        unique_together = (("owner", "kind", "object_type", "object_id"),)
        indexes = (("owner_id", "starts_on"),)


class CalendarFeed(Model):
    """A user's iCalendar feed URL token. Only its SHA-256 is kept."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "crm.User", related_name="calendar_feeds", on_delete=fields.CASCADE
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    prefix = fields.CharField(max_length=16, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)
    last_used_at = fields.DatetimeField(null=True)

    user_id: int

    class Meta:
        table = "calendar_feeds"
        ordering = ["id"]
