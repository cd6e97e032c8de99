"""Contacts: people at a company. They never log in (SPEC §4)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from crm_graphql.models.companies import Company


class Contact(Model):
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

    company_id: int

    class Meta:
        table = "contacts"
        ordering = ["id"]
        indexes = (("company_id", "full_name"),)
