"""Contacts: people at a company. They never log in (SPEC §4)."""

from __future__ import annotations

from tortoise import fields

from crm_graphql import values
from crm_graphql.models.companies import Company
from crm_graphql.models.matching import MatchKeys


class Contact(MatchKeys):
    id = fields.IntField(primary_key=True)
    company: fields.ForeignKeyRelation[Company] = fields.ForeignKeyField(
        "crm.Company", related_name="contacts", on_delete=fields.CASCADE
    )
    full_name = fields.CharField(max_length=200)
    email = fields.CharField(max_length=254)
    phone = fields.CharField(max_length=60, default="")
    mobile = fields.CharField(max_length=60, default="")
    position = fields.CharField(max_length=200, default="")
    description = fields.TextField(default="")
    disabled = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    version = fields.IntField(default=1)
    # Duplicate-matching keys (issue 18), filled on every write (models/matching.py).
    name_key = fields.CharField(max_length=255, default="", db_default="")
    email_key = fields.CharField(max_length=254, default="", db_default="")
    phone_key = fields.CharField(max_length=60, default="", db_default="")
    mobile_key = fields.CharField(max_length=60, default="", db_default="")

    KEYS = {
        "name_key": ("full_name", values.name_key),
        "email_key": ("email", values.email_key),
        "phone_key": ("phone", values.phone_key),
        "mobile_key": ("mobile", values.phone_key),
    }

    company_id: int

    class Meta:
        table = "contacts"
        ordering = ["id"]
        indexes = (
            ("company_id", "full_name"),
            ("name_key",),
            ("email_key",),
            ("phone_key",),
            ("mobile_key",),
        )
