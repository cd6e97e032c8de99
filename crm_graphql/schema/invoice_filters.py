"""Filters and sort keys of the invoices list (SPEC §6): the GraphQL inputs and the
spec that turns them into SQL conditions (services/listing.py)."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Any

import strawberry
from tortoise.expressions import Q, Subquery

from crm_graphql.models.contracts import ContractInvoice
from crm_graphql.permissions.contracts import contract_ids_seen_by
from crm_graphql.schema.common import (
    BooleanFilter,
    CompanyRefFilter,
    DateTimeFilter,
    IDFilter,
    SortDirection,
    StringFilter,
    UserRefFilter,
)
from crm_graphql.schema.companies import REF_SPEC, USER_REF_SPEC, MoneyFilter
from crm_graphql.schema.invoices import InvoiceKindEnum, InvoiceStatusEnum
from crm_graphql.services.listing import (
    FilterSpec,
    Relation,
    SortKey,
    ViewerCondition,
    scalar_q,
)
from crm_graphql.services.orm import lookup_q


@strawberry.input(description="Conditions on a date; all given conditions must hold.")
class DateFilter:
    eq: date | None = strawberry.field(default=strawberry.UNSET, description="On this day.")
    lt: date | None = strawberry.field(default=strawberry.UNSET, description="Before.")
    lte: date | None = strawberry.field(default=strawberry.UNSET, description="On or before.")
    gt: date | None = strawberry.field(default=strawberry.UNSET, description="After.")
    gte: date | None = strawberry.field(default=strawberry.UNSET, description="On or after.")
    is_null: bool | None = strawberry.field(
        default=strawberry.UNSET, description="True: has no date. False: has one."
    )


@strawberry.input(description="Conditions on the invoice kind.")
class InvoiceKindFilter:
    eq: InvoiceKindEnum | None = strawberry.field(default=strawberry.UNSET, description="Is.")
    in_: list[InvoiceKindEnum] | None = strawberry.field(
        name="in", default=strawberry.UNSET, description="Is one of."
    )


@strawberry.input(description="Conditions on the invoice status.")
class InvoiceStatusFilter:
    eq: InvoiceStatusEnum | None = strawberry.field(default=strawberry.UNSET, description="Is.")
    neq: InvoiceStatusEnum | None = strawberry.field(
        default=strawberry.UNSET, description="Is not."
    )
    in_: list[InvoiceStatusEnum] | None = strawberry.field(
        name="in", default=strawberry.UNSET, description="Is one of."
    )


@strawberry.input(description="Conditions on invoices; all given conditions must hold.")
class InvoiceFilter:
    search: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Text in the bill ID, the company name or the description (ignoring case).",
    )
    id: IDFilter | None = strawberry.field(default=strawberry.UNSET, description="Invoice id.")
    bill_id: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Bill ID."
    )
    reference: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Reference."
    )
    kind: InvoiceKindFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Submitted or received."
    )
    status: InvoiceStatusFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Status."
    )
    issued_on: DateFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Creation date range."
    )
    expires_on: DateFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Expiration date range."
    )
    paid_on: DateFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Payment date range."
    )
    updated_at: DateTimeFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Time of its last change."
    )
    currency: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Currency code."
    )
    locked: BooleanFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Locked or not."
    )
    total: MoneyFilter | None = strawberry.field(
        default=strawberry.UNSET, description='Total (e.g. {gte: "100", lte: "5000"}).'
    )
    company: CompanyRefFilter | None = strawberry.field(
        default=strawberry.UNSET, description="The company (id, name)."
    )
    company_role: CompanyRefFilter | None = strawberry.field(
        default=strawberry.UNSET, description="The company's role (id, name)."
    )
    company_manager: UserRefFilter | None = strawberry.field(
        default=strawberry.UNSET, description="The company's manager."
    )
    contract_number: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Number of a related contract."
    )
    and_: list[InvoiceFilter] | None = strawberry.field(
        name="and", default=strawberry.UNSET, description="All of these hold."
    )
    or_: list[InvoiceFilter] | None = strawberry.field(
        name="or", default=strawberry.UNSET, description="At least one holds."
    )
    not_: InvoiceFilter | None = strawberry.field(
        name="not", default=strawberry.UNSET, description="This does not hold."
    )


def invoice_search_q(text: str, prefix: str = "") -> Q:
    text = text.strip()
    if not text:
        return Q()
    return (
        Q(**{f"{prefix}bill_id__icontains": text})
        | Q(**{f"{prefix}company__name__icontains": text})
        | Q(**{f"{prefix}description__icontains": text})
    )


def contract_number_q(value: Any, prefix: str, viewer: Any) -> Q:
    """Invoices related to a contract of that number which the viewer may see (a
    private or hidden contract never matches)."""
    links = ContractInvoice.filter(scalar_q("contract__number", value))
    visible = contract_ids_seen_by(viewer)
    if visible is not None:
        links = links.filter(contract_id__in=visible)
    return lookup_q({f"{prefix}id__in": Subquery(links.values("invoice_id"))})


# The root list's order when none is asked for: newest first (the id breaks ties).
INVOICE_DEFAULT_ORDER = [SortKey("issued_on", descending=True), SortKey("id", descending=True)]

INVOICE_FILTER_SPEC: FilterSpec = {
    "search": invoice_search_q,
    "id": "id",
    "bill_id": "bill_id",
    "reference": "reference",
    "kind": "kind",
    "status": "status",
    "issued_on": "issued_on",
    "expires_on": "expires_on",
    "paid_on": "paid_on",
    "updated_at": "updated_at",
    "currency": "currency",
    "locked": "locked",
    "total": "total_cents",
    "company": Relation("company", REF_SPEC),
    "company_role": Relation("company__role", REF_SPEC),
    "company_manager": Relation("company__manager", USER_REF_SPEC),
    "contract_number": ViewerCondition(contract_number_q),
}


@strawberry.enum(description="Columns invoices can be sorted by.")
class InvoiceOrderField(Enum):
    ISSUED_ON = strawberry.enum_value("issued_on", description="Creation date.")
    BILL_ID = strawberry.enum_value("bill_id", description="Bill ID (as text).")
    TOTAL = strawberry.enum_value("total_cents", description="Total.")
    CREATED_AT = strawberry.enum_value("created_at", description="When it was recorded.")
    UPDATED_AT = strawberry.enum_value("updated_at", description="Time of its last change.")
    ID = strawberry.enum_value("id", description="Id.")


@strawberry.input(description="One sort key; later keys break ties, then the id.")
class InvoiceOrder:
    field: InvoiceOrderField = strawberry.field(description="Column.")
    direction: SortDirection = strawberry.field(default=SortDirection.ASC, description="Direction.")
