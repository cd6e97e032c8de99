"""Filtering and sorting leads: the LeadFilter input, its SQL (LEAD_FILTER_SPEC) and the
default of open leads only."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Any

import strawberry
from tortoise.expressions import Q, Subquery

from crm_graphql.ids import id_number
from crm_graphql.models.leads import CLOSED_FROM, PROGRESS_NAMES, LeadTagLink
from crm_graphql.permissions.companies import company_ids_seen_by
from crm_graphql.schema.common import (
    CompanyRefFilter,
    DateTimeFilter,
    IDFilter,
    IntFilter,
    SortDirection,
    StringFilter,
    UserRefFilter,
)
from crm_graphql.schema.companies import USER_REF_SPEC, MoneyFilter
from crm_graphql.schema.customfields import CustomFieldFilter, custom_fields_q
from crm_graphql.services.listing import FilterSpec, ListError, Relation, SortKey, has_condition
from crm_graphql.services.orm import lookup_q


@strawberry.input(description="Conditions on a date; all given conditions must hold.")
class LeadDateFilter:
    eq: date | None = strawberry.field(default=strawberry.UNSET, description="On.")
    lt: date | None = strawberry.field(default=strawberry.UNSET, description="Before.")
    lte: date | None = strawberry.field(default=strawberry.UNSET, description="On or before.")
    gt: date | None = strawberry.field(default=strawberry.UNSET, description="After.")
    gte: date | None = strawberry.field(default=strawberry.UNSET, description="On or after.")
    is_null: bool | None = strawberry.field(
        default=strawberry.UNSET, description="True: has no date. False: has one."
    )


@strawberry.input(description="Conditions on a progress code (0..80 open, 100..102 and 200).")
class ProgressFilter(IntFilter):
    @staticmethod
    def coerce(value: object) -> object:
        """An unknown code is the client's error: it would silently match nothing."""
        for code in value if isinstance(value, list) else [value]:
            if code not in PROGRESS_NAMES:
                known = ", ".join(str(c) for c in PROGRESS_NAMES)
                raise ListError(f"Unknown progress code {code}; one of {known}.")
        return value


@strawberry.input(
    description="Conditions on leads; all given conditions must hold. Without `showFinished` "
    "or a progress condition, only open leads (progress below 100) are listed."
)
class LeadFilter:
    search: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="A number finds the lead with that id; other text is looked for in the "
        "name, e-mail, prospect company and description (ignoring case).",
    )
    show_finished: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Include closed leads (progress 100 and above)."
    )
    unowned: bool | None = strawberry.field(
        default=strawberry.UNSET, description="True: only leads without owner. False: owned."
    )
    id: IDFilter | None = strawberry.field(default=strawberry.UNSET, description="Lead id.")
    owner: UserRefFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Its owner."
    )
    full_name: StringFilter | None = strawberry.field(default=strawberry.UNSET, description="Name.")
    email: StringFilter | None = strawberry.field(default=strawberry.UNSET, description="E-mail.")
    prospect_company: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Prospect company (text)."
    )
    country: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Country."
    )
    language: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Language."
    )
    product: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Product or category."
    )
    channel: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Channel."
    )
    currency: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Currency."
    )
    lead_type: IDFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Lead type id."
    )
    custom_fields: list[CustomFieldFilter] | None = strawberry.field(
        default=strawberry.UNSET, description="Conditions on the type's custom field values."
    )
    progress: ProgressFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Progress code (a condition lists closed leads too)."
    )
    estimated_sale: MoneyFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Estimated sale (e.g. gte: 1000)."
    )
    tags: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="Has any of these tags."
    )
    company: CompanyRefFilter | None = strawberry.field(
        default=strawberry.UNSET, description="The managing company."
    )
    duplicate: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Flagged as a duplicate e-mail."
    )
    close_date: LeadDateFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Estimated close date range."
    )
    created_at: DateTimeFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Creation time range."
    )
    updated_at: DateTimeFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Last change range."
    )
    and_: list[LeadFilter] | None = strawberry.field(
        name="and", default=strawberry.UNSET, description="All of these hold."
    )
    or_: list[LeadFilter] | None = strawberry.field(
        name="or", default=strawberry.UNSET, description="At least one holds."
    )
    not_: LeadFilter | None = strawberry.field(
        name="not", default=strawberry.UNSET, description="This does not hold."
    )


def search_q(text: str, prefix: str = "") -> Q:
    text = text.strip()
    if not text:
        return Q()
    if text.isdigit():
        # "²" is a digit to isdigit() but no number: it, like an id out of range, finds nothing
        number = id_number(text)
        return lookup_q({f"{prefix}id": number}) if number is not None else Q(id__in=[])
    return Q(
        *(
            Q(**{f"{prefix}{column}__icontains": text})
            for column in ("full_name", "email", "prospect_company", "description")
        ),
        join_type="OR",
    )


def _show_finished_q(value: bool, prefix: str = "") -> Q:
    return Q() if value else lookup_q({f"{prefix}progress__lt": CLOSED_FROM})


def _unowned_q(value: bool, prefix: str = "") -> Q:
    return lookup_q({f"{prefix}owner_id__isnull": value})


def _tags_q(values: list[Any], prefix: str = "") -> Q:
    ids = [IDFilter.coerce(v) for v in values]
    if not ids:
        return Q()
    links = LeadTagLink.filter(tag_id__in=ids).values("lead_id")
    return lookup_q({f"{prefix}id__in": Subquery(links)})


LEAD_FILTER_SPEC: FilterSpec = {
    "search": search_q,
    "show_finished": _show_finished_q,
    "unowned": _unowned_q,
    "id": "id",
    "owner": Relation("owner", USER_REF_SPEC),
    "full_name": "full_name",
    "email": "email",
    "prospect_company": "prospect_company",
    "country": "country",
    "language": "language",
    "product": "product",
    "channel": "channel",
    "currency": "currency",
    "lead_type": "lead_type_id",
    "custom_fields": lambda value, prefix: custom_fields_q(value, prefix),
    "progress": "progress",
    "estimated_sale": "estimated_sale_cents",
    "tags": _tags_q,
    # A lead may be visible while its managing company is not (its owner's).
    "company": Relation("company", {"id": "id", "name": "name"}, visible=company_ids_seen_by),
    "duplicate": "duplicate",
    "close_date": "close_date",
    "created_at": "created_at",
    "updated_at": "updated_at",
}


# The list's order when the client gives none (and the tie-breaker after its keys).
LEAD_DEFAULT_ORDER = [SortKey("updated_at", descending=True), SortKey("id", descending=True)]


def default_open_q(flt: Any) -> Q:
    """Open leads only, unless the filter asks for closed ones (showFinished or a
    progress condition, at any level, as contracts' status)."""
    if has_condition(flt, "show_finished", "progress"):
        return Q()
    return Q(progress__lt=CLOSED_FROM)


@strawberry.enum(description="Columns leads can be sorted by.")
class LeadOrderField(Enum):
    CREATED_AT = strawberry.enum_value("created_at", description="Creation time.")
    UPDATED_AT = strawberry.enum_value("updated_at", description="Last change.")
    ESTIMATED_SALE = strawberry.enum_value("estimated_sale_cents", description="Estimated sale.")
    CLOSE_DATE = strawberry.enum_value(
        "close_key", description="Estimated close date (leads without one last when ascending)."
    )
    PROGRESS = strawberry.enum_value("progress", description="Progress code.")
    ID = strawberry.enum_value("id", description="Id.")


@strawberry.input(description="One sort key; later keys break ties, then the id.")
class LeadOrder:
    field: LeadOrderField = strawberry.field(description="Column.")
    direction: SortDirection = strawberry.field(default=SortDirection.ASC, description="Direction.")
