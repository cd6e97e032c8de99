"""Companies and company roles (SPEC §3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from crm_graphql import values
from crm_graphql.models.matching import MatchKeys

if TYPE_CHECKING:
    from crm_graphql.models.users import User


class CompanyRole(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    description = fields.CharField(max_length=255, default="")

    class Meta:
        table = "company_roles"
        ordering = ["id"]


class Company(MatchKeys):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200, unique=True)
    address = fields.TextField(default="")
    fiscal_id = fields.CharField(max_length=60, null=True, unique=True)
    country = fields.CharField(max_length=100, default="")
    website = fields.CharField(max_length=255, default="")
    comments = fields.TextField(default="")
    role: fields.ForeignKeyNullableRelation[CompanyRole] = fields.ForeignKeyField(
        "crm.CompanyRole", related_name="companies", null=True, on_delete=fields.SET_NULL
    )
    parent: fields.ForeignKeyNullableRelation[Company] = fields.ForeignKeyField(
        "crm.Company", related_name="children", null=True, on_delete=fields.RESTRICT
    )
    manager: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "crm.User", related_name="managed_companies", null=True, on_delete=fields.SET_NULL
    )
    last_update = fields.DatetimeField(auto_now=True)
    payment_conditions = fields.IntField(default=30)
    office_phone = fields.CharField(max_length=60, default="")
    general_email = fields.CharField(max_length=254, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    version = fields.IntField(default=1)
    # Materialized path of ids from the root, "/1/7/42/": descendants of X are the rows
    # whose path starts with X's path, one indexed comparison for the access rule.
    path = fields.CharField(max_length=1000, default="", db_default="")
    last_activity_at = fields.DatetimeField(null=True)
    # last_activity_at as microseconds since the epoch, 0 when none: a NOT NULL key the
    # keyset pagination can sort on (NULLs sort differently in SQLite and PostgreSQL).
    last_activity_key = fields.BigIntField(default=0, db_default=0)
    # Duplicate-matching keys (issue 18), filled on every write (models/matching.py).
    name_key = fields.CharField(max_length=255, default="", db_default="")
    fiscal_key = fields.CharField(max_length=60, default="", db_default="")
    domain_key = fields.CharField(max_length=255, default="", db_default="")

    KEYS = {
        "name_key": ("name", values.name_key),
        "fiscal_key": ("fiscal_id", values.fiscal_key),
        "domain_key": ("website", values.domain_key),
    }

    role_id: int | None
    parent_id: int | None
    manager_id: int | None

    class Meta:
        table = "companies"
        ordering = ["id"]
        indexes = (
            ("path",),
            ("manager_id",),
            ("parent_id",),
            ("last_activity_key", "id"),
            ("name_key",),
            ("fiscal_key",),
            ("domain_key",),
        )


class CompanyBilling(Model):
    """A company's billing in one currency.

    SPEC §3: amounts of different currencies are never added. `cents` is the sum of
    the bases of its non-canceled Submitted invoices in that currency (integer cents:
    SQLite stores decimals as text, which would sort and compare wrongly). Kept by the
    invoicing service; no row means zero."""

    id = fields.IntField(primary_key=True)
    company: fields.ForeignKeyRelation[Company] = fields.ForeignKeyField(
        "crm.Company", related_name="billings", on_delete=fields.CASCADE
    )
    currency = fields.CharField(max_length=3)
    cents = fields.BigIntField()

    company_id: int

    class Meta:
        table = "company_billings"
        ordering = ["company_id", "currency"]
        unique_together = (("company", "currency"),)
        # Billing filters and top-by-invoicing read one currency, largest first.
        indexes = (("currency", "cents", "company_id"),)
