"""Types of the generic aggregates (`companiesAggregate`, `contactsAggregate`,
`contractsAggregate`, `invoicesAggregate`, `leadsAggregate`). The field enums and the
dimension and measure inputs of each entity are made from its catalog
(`services/aggregate_catalog.py`), so the schema lists exactly what the machinery
accepts; the results share one shape."""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry

from crm_graphql.schema.common import SortDirection
from crm_graphql.services.aggregate_catalog import CATALOGS, DATES, NUMERIC, Catalog, Kind


@strawberry.enum(description="What a measure computes over the rows of each group.")
class AggregateFunction(Enum):
    COUNT = strawberry.enum_value(
        "COUNT", description="Number of rows (with a field: rows where it is set)."
    )
    COUNT_DISTINCT = strawberry.enum_value(
        "COUNT_DISTINCT", description="Number of distinct values of the field."
    )
    SUM = strawberry.enum_value("SUM", description="Sum of a numeric or money field.")
    AVG = strawberry.enum_value(
        "AVG", description="Average of a numeric or money field, half up to 2 decimals."
    )
    MIN = strawberry.enum_value("MIN", description="Smallest value of a numeric or money field.")
    MAX = strawberry.enum_value("MAX", description="Largest value of a numeric or money field.")


@strawberry.enum(description="The period a date dimension is grouped by.")
class DateBucket(Enum):
    DAY = strawberry.enum_value("DAY", description="Calendar days.")
    WEEK = strawberry.enum_value("WEEK", description="ISO weeks, named by their Monday.")
    MONTH = strawberry.enum_value("MONTH", description="Months, named by their first day.")
    QUARTER = strawberry.enum_value("QUARTER", description="Quarters, named by their first day.")
    YEAR = strawberry.enum_value("YEAR", description="Years, named by January 1.")


@strawberry.input(
    description="A condition on a requested measure, checked per group (SQL HAVING); all "
    "given comparisons must hold. Money is compared in currency units (`gt: 1000.50`)."
)
class AggregateHaving:
    measure: str = strawberry.field(description="The name of a requested measure.")
    eq: Decimal | None = strawberry.field(default=None, description="Equal to.")
    neq: Decimal | None = strawberry.field(default=None, description="Not equal to.")
    gt: Decimal | None = strawberry.field(default=None, description="Greater than.")
    gte: Decimal | None = strawberry.field(default=None, description="At least.")
    lt: Decimal | None = strawberry.field(default=None, description="Less than.")
    lte: Decimal | None = strawberry.field(default=None, description="At most.")


@strawberry.input(description="A sort key of the groups: a dimension or a measure, by name.")
class AggregateOrder:
    by: str = strawberry.field(description="The name of a dimension or of a measure.")
    direction: SortDirection = strawberry.field(
        default=SortDirection.ASC, description="Direction; groups with no value come last."
    )


@strawberry.type(description="The value of one dimension for a group.")
class AggregateKey:
    name: str = strawberry.field(description="The dimension's name.")
    value: str | None = strawberry.field(
        description="The value as text: an id for a relation, the first day (YYYY-MM-DD) of "
        "a date bucket, `true`/`false`, a code or a text; null when not set."
    )
    label: str | None = strawberry.field(
        description="For a relation: the related object's name (company, role, type, tag) "
        "or username (manager, owner); null otherwise."
    )


@strawberry.type(description="The value of one measure.")
class AggregateValue:
    name: str = strawberry.field(description="The measure's name.")
    value: Decimal | None = strawberry.field(
        description="The value (money in currency units); null for SUM, AVG, MIN or MAX "
        "over no value."
    )


@strawberry.type(description="One group: its keys and the requested measures.")
class AggregateGroup:
    keys: list[AggregateKey] = strawberry.field(description="One key per dimension, in order.")
    currency: str | None = strawberry.field(
        description="The currency of the group's money measures (money is never added "
        "across currencies, so it is always a group key of a money measure); null when "
        "no money measure is requested."
    )
    values: list[AggregateValue] = strawberry.field(description="One value per measure, in order.")


@strawberry.type(description="Where a page of groups ends.")
class AggregatePageInfo:
    has_next_page: bool = strawberry.field(description="More groups follow.")
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page (with the same other arguments)."
    )


@strawberry.type(
    description="Groups of the rows you can see that match the filter, with their measures."
)
class AggregateResult:
    groups: list[AggregateGroup] = strawberry.field(
        description="This page of groups, in the requested order."
    )
    page_info: AggregatePageInfo = strawberry.field(description="Paging.")
    group_count: int = strawberry.field(
        description="Number of groups in all pages (after `having`)."
    )
    totals: list[AggregateGroup] = strawberry.field(
        description="The measures over every row that matches the filter (not only this "
        "page's groups, and before `having`), with no keys; one per currency when a money "
        "measure is requested. A row counted in several tag groups counts once here."
    )


def _field_enum(catalog: Catalog) -> Any:
    members = {}
    for name, spec in catalog.fields.items():
        uses = ["dimension", "COUNT_DISTINCT"]
        if spec.kind in NUMERIC:
            uses.append("SUM/AVG/MIN/MAX")
        if spec.kind in DATES:
            uses[0] = "dimension with a bucket"
        if spec.kind == Kind.MONEY:
            uses.pop(0)  # amounts are measured, not grouped by
        members[name] = strawberry.enum_value(
            name, description=f"{spec.description} ({', '.join(uses)}.)"
        )
    enum = Enum(f"{catalog.type_name}AggregateField", members)  # type: ignore[misc]
    return strawberry.enum(
        enum, description=f"A field of {catalog.entity} to group by or to measure."
    )


def _name_field(description: str) -> Any:
    return strawberry.field(default=None, description=description)


def _inputs(catalog: Catalog) -> tuple[Any, Any, Any]:
    fields = _field_enum(catalog)
    dim_ns: dict[str, Any] = {
        "__annotations__": {
            "field": fields | None,
            "bucket": DateBucket | None,
            "name": str | None,
        },
        "field": strawberry.field(default=None, description="A field of the entity."),
        "bucket": strawberry.field(
            default=None, description="For a date field: the period (default DAY)."
        ),
        "name": _name_field(
            "The name of the key in results, `having` and `orderBy` (default: the field "
            "in camelCase, `customField<id>` for a custom field)."
        ),
    }
    if catalog.custom is not None:
        dim_ns["__annotations__"]["custom_field_id"] = strawberry.ID | None
        dim_ns["custom_field_id"] = strawberry.field(
            default=None,
            description=f"Or a custom field of {catalog.entity} of kind COMBO, CHECKBOX or "
            "LINKED (its value is the key).",
        )
    dimension = strawberry.input(
        type(f"{catalog.type_name}AggregateDimension", (), dim_ns),
        description="A dimension to group by: a field, or a custom field.",
    )
    measure_ns: dict[str, Any] = {
        "__annotations__": {
            "function": AggregateFunction,
            "field": fields | None,
            "name": str | None,
        },
        "function": strawberry.field(description="What to compute."),
        "field": strawberry.field(
            default=None, description="The field measured (none for COUNT: rows)."
        ),
        "name": _name_field(
            "The measure's name in results, `having` and `orderBy` (default: `count`, or "
            "function and field in camelCase such as `sumBase`)."
        ),
    }
    measure = strawberry.input(
        type(f"{catalog.type_name}AggregateMeasure", (), measure_ns),
        description="A measure computed per group.",
    )
    return fields, dimension, measure


INPUTS: dict[str, tuple[Any, Any, Any]] = {
    entity: _inputs(catalog) for entity, catalog in CATALOGS.items()
}
