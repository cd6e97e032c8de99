"""Activities: dated notes on a company, or on one of its contacts (which also show in
the company's feed)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from crm_graphql.models.companies import Company
from crm_graphql.models.contacts import Contact
from crm_graphql.models.users import User


class Activity(Model):
    id = fields.IntField(primary_key=True)
    company: fields.ForeignKeyRelation[Company] = fields.ForeignKeyField(
        "crm.Company", related_name="activities", on_delete=fields.CASCADE
    )
    contact: fields.ForeignKeyNullableRelation[Contact] = fields.ForeignKeyField(
        "crm.Contact", related_name="activities", null=True, on_delete=fields.CASCADE
    )
    author: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "crm.User", related_name="activities", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    text = fields.TextField()

    company_id: int
    contact_id: int | None
    author_id: int | None

    class Meta:
        table = "activities"
        ordering = ["-created_at", "-id"]
        indexes = (("company_id", "created_at"), ("contact_id", "created_at"))
