"""The generic aggregate root fields, one per entity, made by one factory: the same
filter input and filtered queryset as the entity's list (`resolvers/filtering.py`,
visibility included), the same bits, then one statement (`services/aggregates.py`).

This module does not use postponed annotations: the factory's resolver is annotated
with each entity's own input types, which must be real objects when strawberry reads
them."""

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.types.nodes import SelectedField

from crm_graphql.context import Info
from crm_graphql.errors import BadUserInput
from crm_graphql.ids import id_number
from crm_graphql.permissions.aggregates import AGGREGATE_BITS, viewer_columns
from crm_graphql.permissions.base import auth
from crm_graphql.resolvers.filtering import (
    filtered_companies,
    filtered_contacts,
    filtered_contracts,
    filtered_invoices,
    filtered_leads,
)
from crm_graphql.schema.aggregates import (
    INPUTS,
    AggregateGroup,
    AggregateHaving,
    AggregateKey,
    AggregateOrder,
    AggregatePageInfo,
    AggregateResult,
    AggregateValue,
)
from crm_graphql.schema.common import SortDirection, page_size
from crm_graphql.schema.companies import CompanyFilter
from crm_graphql.schema.contacts import ContactFilter
from crm_graphql.schema.contracts import ContractFilter
from crm_graphql.schema.invoice_filters import InvoiceFilter
from crm_graphql.schema.leads import LeadFilter
from crm_graphql.services import aggregate_plan as planning
from crm_graphql.services import aggregates as machinery
from crm_graphql.services.aggregate_catalog import CATALOGS
from crm_graphql.services.aggregate_plan import OPERATORS, AggregateError, Plan

EXAMPLES = {
    "leads": """

**Example: won amount per quarter and country** (money is grouped per currency too):
```graphql
{ leadsAggregate(
    filter: {progress: {eq: 200}}
    groupBy: [{field: CLOSE_DATE, bucket: QUARTER}, {field: COUNTRY}]
    measures: [{function: COUNT}, {function: SUM, field: ESTIMATED_SALE, name: "won"}]
    orderBy: [{by: "closeDate"}, {by: "won", direction: DESC}]) {
  groups { keys { name value label } currency values { name value } }
  totals { currency values { name value } } } }
```""",
    "invoices": """

**Example: invoices per month (Madrid time) and company role, over 1,000 billed**:
```graphql
{ invoicesAggregate(
    filter: {kind: {eq: SUBMITTED}}
    groupBy: [{field: CREATED_AT, bucket: MONTH}, {field: COMPANY_ROLE}]
    measures: [{function: COUNT}, {function: SUM, field: BASE, name: "billed"}]
    having: [{measure: "billed", gt: "1000"}]
    timeZone: "Europe/Madrid", first: 50) {
  groups { keys { name value label } currency values { name value } }
  groupCount pageInfo { hasNextPage endCursor } } }
```""",
    "contracts": """

**Example: contracts per type and status, and per value of a COMBO custom field**:
```graphql
{ contractsAggregate(
    groupBy: [{field: TYPE}, {field: STATUS}, {customFieldId: "7", name: "release"}]
    measures: [{function: COUNT}, {function: COUNT_DISTINCT, field: COMPANY}]) {
  groups { keys { name value label } values { name value } } } }
```""",
}

FILTERS: dict[str, tuple[Any, Callable[..., Any]]] = {
    "companies": (CompanyFilter, filtered_companies),
    "contacts": (ContactFilter, filtered_contacts),
    "contracts": (ContractFilter, filtered_contracts),
    "invoices": (InvoiceFilter, filtered_invoices),
    "leads": (LeadFilter, lambda info, flt: filtered_leads(info, flt, open_default=False)),
}


def _plan(info: Info, args: dict[str, Any], tag_extra: Any) -> tuple[Plan, str]:
    """The service's plan from the arguments, and the cursor tag it is valid for."""
    limits = info.context.settings.limits
    dims = tuple(
        planning.Dimension(
            field=d.field.value if d.field else None,
            custom_field=_custom_id(getattr(d, "custom_field_id", None), i),
            bucket=d.bucket.value.lower() if d.bucket else None,
            name=d.name,
        )
        for i, d in enumerate(args["group_by"] or [])
    )
    measures = tuple(
        planning.Measure(m.function.value, m.field.value if m.field else None, m.name)
        for m in args["measures"] or []
    ) or (planning.Measure("COUNT"),)
    having = tuple(
        planning.Having(h.measure, op, Decimal(getattr(h, op)))
        for h in args["having"] or []
        for op in OPERATORS
        if getattr(h, op) is not None
    )
    order = tuple(
        planning.Order(o.by, o.direction == SortDirection.DESC) for o in args["order_by"] or []
    )
    plan = Plan(
        dimensions=dims,
        measures=measures,
        having=having,
        order=order,
        first=page_size(args["first"], limits.page_size_default, limits.page_size_max),
        time_zone=args["time_zone"],
    )
    tag = machinery.fingerprint(plan, tag_extra)
    offset = machinery.decode_cursor(args["after"], tag) if args["after"] else 0
    return replace(plan, offset=offset, totals=_selected(info, "totals")), tag


def _custom_id(raw: Any, i: int) -> int | None:
    if raw is None:
        return None
    number = id_number(raw)
    if number is None:
        at = f"groupBy[{i}].customFieldId"
        raise AggregateError(at, f"`{at}`: not a custom field id.")
    return number


def _selected(info: Info, name: str) -> bool:
    """Whether the result's field `name` is selected, through fragments too."""

    def walk(selections: list[Any]) -> bool:
        for selection in selections:
            if isinstance(selection, SelectedField):
                if selection.name == name:
                    return True
            elif walk(selection.selections):  # a fragment spread or an inline fragment
                return True
        return False

    return walk(info.selected_fields[0].selections)


def _group(group: planning.Group) -> AggregateGroup:
    return AggregateGroup(
        keys=[AggregateKey(name=k.name, value=k.value, label=k.label) for k in group.keys],
        currency=group.currency,
        values=[
            AggregateValue(name=n, value=None if v is None else Decimal(v))
            for n, v in group.values.items()
        ],
    )


def _aggregate_field(entity: str) -> Any:
    catalog = CATALOGS[entity]
    filter_type, filtered = FILTERS[entity]
    _, dimension, measure = INPUTS[entity]
    arg = strawberry.argument

    async def resolve(
        info: Info,
        # The three types below are the entity's own inputs, chosen when the field is built.
        filter: Annotated[filter_type | None, arg(description=f"As for `{entity}`.")] = None,  # type: ignore[valid-type]
        group_by: Annotated[
            list[dimension] | None,  # type: ignore[valid-type]
            arg(description="Up to three dimensions; none: one group."),
        ] = None,
        measures: Annotated[
            list[measure] | None,  # type: ignore[valid-type]
            arg(description="What to compute per group (default COUNT)."),
        ] = None,
        having: Annotated[
            list[AggregateHaving] | None, arg(description="Conditions on measures, per group.")
        ] = None,
        order_by: Annotated[
            list[AggregateOrder] | None,
            arg(description="Sort keys (default: the dimensions in order); ties by the keys."),
        ] = None,
        first: Annotated[
            int | None, arg(description="Groups per page (default 20, at most 100).")
        ] = None,
        after: Annotated[str | None, arg(description="`endCursor` of the previous page.")] = None,
        time_zone: Annotated[
            str, arg(description="IANA time zone of the date buckets of instants.")
        ] = "UTC",
    ) -> AggregateResult:
        viewer = info.context.require_viewer()
        args = dict(locals())
        queryset = filtered(info, filter)
        try:
            plan, tag = _plan(info, args, repr(filter))
            ids = [d.custom_field for d in plan.dimensions if d.custom_field is not None]
            custom = await machinery.usable_custom_fields(catalog.custom, ids) if ids else {}
            result = await machinery.run(
                catalog, queryset, plan, custom, viewer_columns(entity, viewer)
            )
        except AggregateError as exc:
            raise BadUserInput(str(exc), field=exc.argument) from None
        end = plan.offset + len(result.groups)
        return AggregateResult(
            groups=[_group(g) for g in result.groups],
            page_info=AggregatePageInfo(
                has_next_page=result.has_next,
                end_cursor=machinery.encode_cursor(end, tag) if result.groups else None,
            ),
            group_count=result.group_count,
            totals=[_group(g) for g in result.totals],
        )

    return strawberry.field(
        resolver=resolve,
        name=f"{entity}Aggregate",
        description=f"Aggregates over the {entity} you can see that match the filter (the "
        f"same filter and access rules as `{entity}`, every status included): grouped by up "
        "to three dimensions, with counts, distinct counts and sums, averages, minimums "
        "and maximums of numeric and money fields, `having` on measures, ordered and paged "
        "by groups, and totals. One SQL statement. Needs "
        f"{' or '.join(AGGREGATE_BITS[entity])}." + EXAMPLES.get(entity, ""),
        extensions=auth(*AGGREGATE_BITS[entity]),
    )


@strawberry.type
class AggregatesQuery:
    companies_aggregate: AggregateResult = _aggregate_field("companies")
    contacts_aggregate: AggregateResult = _aggregate_field("contacts")
    contracts_aggregate: AggregateResult = _aggregate_field("contracts")
    invoices_aggregate: AggregateResult = _aggregate_field("invoices")
    leads_aggregate: AggregateResult = _aggregate_field("leads")
