"""Contracts and contract types (SPEC §5)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from crm_graphql.models.companies import Company
from crm_graphql.models.users import User

if TYPE_CHECKING:
    from crm_graphql.models.invoices import Invoice


class ContractStatus(StrEnum):
    INACTIVE = "INACTIVE"
    ACTIVE = "ACTIVE"
    PENDING = "PENDING"


class ContractType(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    description = fields.CharField(max_length=255, default="")

    class Meta:
        table = "contract_types"
        ordering = ["name", "id"]


class Contract(Model):
    id = fields.IntField(primary_key=True)
    company: fields.ForeignKeyRelation[Company] = fields.ForeignKeyField(
        "crm.Company", related_name="contracts", on_delete=fields.CASCADE
    )
    # The short name shown in lists ("SAMPLE CUSTOMER 2021"); unique per company.
    reference = fields.CharField(max_length=200)
    # The external code ("21/1001"); unique when set.
    number = fields.CharField(max_length=100, null=True, unique=True)
    description = fields.TextField(default="")
    date_begin = fields.DateField()
    date_end = fields.DateField(null=True)
    status = fields.CharEnumField(ContractStatus, max_length=10, default=ContractStatus.ACTIVE)
    private = fields.BooleanField(default=False)
    contract_type: fields.ForeignKeyNullableRelation[ContractType] = fields.ForeignKeyField(
        "crm.ContractType", related_name="contracts", null=True, on_delete=fields.SET_NULL
    )
    owner: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "crm.User", related_name="owned_contracts", null=True, on_delete=fields.SET_NULL
    )
    sla_id = fields.IntField(null=True)
    group_id = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    version = fields.IntField(default=1)

    company_id: int
    contract_type_id: int | None
    owner_id: int | None

    class Meta:
        table = "contracts"
        ordering = ["id"]
        unique_together = (("company", "reference"),)
        indexes = (("status", "date_end"), ("company_id", "date_begin"))


class ContractLink(Model):
    """Related contracts, stored once per pair with the lower id first."""

    id = fields.IntField(primary_key=True)
    contract: fields.ForeignKeyRelation[Contract] = fields.ForeignKeyField(
        "crm.Contract", related_name="links_out", on_delete=fields.CASCADE
    )
    related: fields.ForeignKeyRelation[Contract] = fields.ForeignKeyField(
        "crm.Contract", related_name="links_in", on_delete=fields.CASCADE
    )

    contract_id: int
    related_id: int

    class Meta:
        table = "contract_links"
        unique_together = (("contract", "related"),)
        indexes = (("related_id",),)


class ContractInvoice(Model):
    """A contract and an invoice related to it (many-to-many)."""

    id = fields.IntField(primary_key=True)
    contract: fields.ForeignKeyRelation[Contract] = fields.ForeignKeyField(
        "crm.Contract", related_name="invoice_links", on_delete=fields.CASCADE
    )
    invoice: fields.ForeignKeyRelation[Invoice] = fields.ForeignKeyField(
        "crm.Invoice", related_name="contract_links", on_delete=fields.CASCADE
    )

    contract_id: int
    invoice_id: int

    class Meta:
        table = "contract_invoices"
        unique_together = (("contract", "invoice"),)
        indexes = (("invoice_id",),)
