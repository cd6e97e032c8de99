"""Leads (SPEC §7): the pipeline of prospective sales, with types, tags, history,
activities and saved searches."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from crm_graphql import values
from crm_graphql.models.companies import Company
from crm_graphql.models.matching import MatchKeys
from crm_graphql.models.users import User

# Progress codes are fixed (their names are editable in CRM setup).
PROGRESS_NAMES: dict[int, str] = {
    0: "New",
    20: "Meeting arranged",
    40: "Needs discovered",
    60: "Proposal delivered",
    80: "Offer accepted",
    100: "Closed - no response or dead",
    101: "Closed - lost",
    102: "Closed - invalid or N/A",
    200: "Closed successfully",
}
CLOSED_FROM = 100
WON = 200
DEFAULT_CHANNELS = ["Web form", "E-mail", "Phone", "Referral", "Event", "Other"]


class LeadType(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    description = fields.CharField(max_length=255, default="")

    class Meta:
        table = "lead_types"
        ordering = ["name", "id"]


class LeadTag(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=60, unique=True)
    # "#rrggbb"
    colour = fields.CharField(max_length=7, default="#808080")

    class Meta:
        table = "lead_tags"
        ordering = ["name", "id"]


class Lead(MatchKeys):
    id = fields.IntField(primary_key=True)
    full_name = fields.CharField(max_length=200)
    email = fields.CharField(max_length=254, default="")
    phone = fields.CharField(max_length=60, default="")
    mobile = fields.CharField(max_length=60, default="")
    position = fields.CharField(max_length=100, default="")
    prospect_company = fields.CharField(max_length=200, default="")
    country = fields.CharField(max_length=100, default="")
    language = fields.CharField(max_length=10, default="")
    product = fields.CharField(max_length=100, default="")
    lead_type: fields.ForeignKeyNullableRelation[LeadType] = fields.ForeignKeyField(
        "crm.LeadType", related_name="leads", null=True, on_delete=fields.SET_NULL
    )
    channel = fields.CharField(max_length=60, default="")
    # Integer cents: SQLite keeps decimals as text, which sums and sorts wrongly.
    estimated_sale_cents = fields.BigIntField(default=0)
    currency = fields.CharField(max_length=3, default="EUR")
    close_date = fields.DateField(null=True)
    # close_date as YYYYMMDD, 99991231 when unset: a NOT NULL keyset sort key.
    close_key = fields.IntField(default=99991231)
    progress = fields.IntField(default=0)
    owner: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "crm.User", related_name="owned_leads", null=True, on_delete=fields.SET_NULL
    )
    # The managing company ("managed by"): its viewers see the lead.
    company: fields.ForeignKeyNullableRelation[Company] = fields.ForeignKeyField(
        "crm.Company", related_name="leads", null=True, on_delete=fields.SET_NULL
    )
    executive_overview = fields.TextField(default="")
    description = fields.TextField(default="")
    alarm_at = fields.DatetimeField(null=True)
    # Another lead had the same email when this one came in.
    duplicate = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    version = fields.IntField(default=1)
    # Duplicate-matching keys (issue 18), filled on every write (models/matching.py).
    email_key = fields.CharField(max_length=254, default="", db_default="")
    phone_key = fields.CharField(max_length=60, default="", db_default="")
    mobile_key = fields.CharField(max_length=60, default="", db_default="")

    KEYS = {
        "email_key": ("email", values.email_key),
        "phone_key": ("phone", values.phone_key),
        "mobile_key": ("mobile", values.phone_key),
    }

    lead_type_id: int | None
    owner_id: int | None
    company_id: int | None

    class Meta:
        table = "leads"
        ordering = ["id"]
        indexes = (
            ("progress", "estimated_sale_cents"),
            # The pipeline's close-date and last-change orders: a few index rows per
            # step, not a sort of the step's leads.
            ("progress", "close_key"),
            ("progress", "updated_at"),
            ("owner_id", "progress"),
            ("company_id", "progress"),
            ("created_at",),
            ("updated_at",),
            ("email",),
            ("email_key",),
            ("phone_key",),
            ("mobile_key",),
        )


class LeadTagLink(Model):
    id = fields.IntField(primary_key=True)
    lead: fields.ForeignKeyRelation[Lead] = fields.ForeignKeyField(
        "crm.Lead", related_name="tag_links", on_delete=fields.CASCADE
    )
    tag: fields.ForeignKeyRelation[LeadTag] = fields.ForeignKeyField(
        "crm.LeadTag", related_name="lead_links", on_delete=fields.CASCADE
    )

    lead_id: int
    tag_id: int

    class Meta:
        table = "lead_tag_links"
        unique_together = (("lead", "tag"),)
        indexes = (("tag_id", "lead_id"),)


class LeadHistoryKind(StrEnum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    PROGRESS = "PROGRESS"
    ESTIMATED_SALE = "ESTIMATED_SALE"
    CLOSE_DATE = "CLOSE_DATE"
    OWNER_TAKEN = "OWNER_TAKEN"
    OWNER_CHANGED = "OWNER_CHANGED"
    CLOSED = "CLOSED"
    MAIL_SENT = "MAIL_SENT"
    MAIL_RECEIVED = "MAIL_RECEIVED"
    FORWARDED = "FORWARDED"


class LeadHistory(Model):
    """One line per event, written by the server only."""

    id = fields.IntField(primary_key=True)
    lead: fields.ForeignKeyRelation[Lead] = fields.ForeignKeyField(
        "crm.Lead", related_name="history", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "crm.User", related_name="lead_history", null=True, on_delete=fields.SET_NULL
    )
    kind = fields.CharEnumField(LeadHistoryKind, max_length=20)
    description = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    lead_id: int
    user_id: int | None

    class Meta:
        table = "lead_history"
        ordering = ["created_at", "id"]
        indexes = (("lead_id", "id"),)


class LeadActivityKind(StrEnum):
    NOTE = "NOTE"
    MAIL_SENT = "MAIL_SENT"
    MAIL_RECEIVED = "MAIL_RECEIVED"
    FORWARDED = "FORWARDED"


class LeadActivity(Model):
    """A note on a lead, or the body of a mail sent from it or received for it."""

    id = fields.IntField(primary_key=True)
    lead: fields.ForeignKeyRelation[Lead] = fields.ForeignKeyField(
        "crm.Lead", related_name="activities", on_delete=fields.CASCADE
    )
    author: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "crm.User", related_name="lead_activities", null=True, on_delete=fields.SET_NULL
    )
    kind = fields.CharEnumField(LeadActivityKind, max_length=15, default=LeadActivityKind.NOTE)
    # For mail: who wrote it (address) and the subject.
    sender = fields.CharField(max_length=320, default="")
    subject = fields.CharField(max_length=500, default="")
    text = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    lead_id: int
    author_id: int | None

    class Meta:
        table = "lead_activities"
        ordering = ["-created_at", "-id"]
        indexes = (("lead_id", "created_at"),)


class SavedLeadSearch(Model):
    """A user's named lead filter (the LeadFilter input as JSON)."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "crm.User", related_name="saved_lead_searches", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=100)
    # A LeadFilter as JSON (any JSON value the schema accepts as one, null included).
    filter_json: fields.JSONField[Any] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)

    user_id: int

    class Meta:
        table = "saved_lead_searches"
        ordering = ["name", "id"]
        unique_together = (("user", "name"),)
