"""The plan of an aggregate (issue 17): what the client asked for, checked against the
entity's catalog, as the SQL pieces `services/aggregates.py` assembles. Every error
names the argument at fault."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from crm_graphql.services.aggregate_catalog import DATES, NUMERIC, Catalog, Field, Kind
from crm_graphql.services.timebuckets import UNITS, BadTimeZone, bucket_sql
from crm_graphql.values import cents_to_decimal

MAX_DIMENSIONS = 3
MAX_MEASURES = 10
FUNCTIONS = ("COUNT", "COUNT_DISTINCT", "SUM", "AVG", "MIN", "MAX")
OPERATORS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
PLACES = Decimal("0.01")
# A having value beyond this is refused (it is written into the SQL as a literal).
HAVING_BOUND = Decimal(10) ** 15


class AggregateError(ValueError):
    """A plan that cannot run; `argument` names the argument at fault (`groupBy[3]`)."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(message)
        self.argument = argument


@dataclass(frozen=True)
class Dimension:
    field: str | None = None  # a catalog field
    custom_field: int | None = None  # or a custom field id (COMBO, CHECKBOX, LINKED)
    bucket: str | None = None  # day, week, month, quarter, year (date fields)
    name: str | None = None


@dataclass(frozen=True)
class Measure:
    function: str
    field: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Having:
    measure: str
    operator: str  # a key of OPERATORS
    value: Decimal


@dataclass(frozen=True)
class Order:
    name: str  # a dimension's or a measure's name
    descending: bool = False


@dataclass(frozen=True)
class Plan:
    dimensions: tuple[Dimension, ...] = ()
    measures: tuple[Measure, ...] = (Measure("COUNT"),)
    having: tuple[Having, ...] = ()
    order: tuple[Order, ...] = ()
    first: int = 20
    offset: int = 0
    time_zone: str = "UTC"
    totals: bool = False


@dataclass(frozen=True)
class Key:
    name: str
    value: str | None  # text form: ids, codes, ISO dates, "true"/"false"
    label: str | None = None


@dataclass(frozen=True)
class Group:
    keys: tuple[Key, ...]
    currency: str | None
    values: dict[str, Decimal | int | None]


@dataclass
class Result:
    groups: list[Group] = field(default_factory=list)
    has_next: bool = False
    group_count: int = 0
    totals: list[Group] = field(default_factory=list)


@dataclass(frozen=True)
class DimSql:
    name: str
    sql: str
    kind: Kind
    label: tuple[str, str] | None
    join: str | None


@dataclass(frozen=True)
class MeasureSql:
    name: str
    function: str
    sql: str | None  # the measured expression; None for COUNT(*)
    kind: Kind | None
    join: str | None

    def columns(self, i: int) -> list[str]:
        """SELECT items (aliases m<i> and, for AVG, c<i>)."""
        if self.function == "COUNT":
            return [f"COUNT({self.sql or '*'}) AS m{i}"]
        if self.function == "COUNT_DISTINCT":
            return [f"COUNT(DISTINCT {self.sql}) AS m{i}"]
        if self.function == "AVG":
            return [f"SUM({self.sql}) AS m{i}", f"COUNT({self.sql}) AS c{i}"]
        return [f"{self.function}({self.sql}) AS m{i}"]

    def over_groups(self, i: int) -> str:
        """The measure in terms of the grouped columns (for having and ordering)."""
        if self.function == "AVG":
            return f"(g.m{i} * 1.0 / NULLIF(g.c{i}, 0))"
        return f"g.m{i}"

    def value(self, row: dict[str, Any], i: int) -> Decimal | int | None:
        raw = row[f"m{i}"]
        if self.function in ("COUNT", "COUNT_DISTINCT"):
            return int(raw or 0)
        if raw is None:
            return None
        if self.function == "AVG":
            count = int(row[f"c{i}"] or 0)
            if count == 0:
                return None
            mean = Decimal(int(raw)) / count
            return (mean / 100 if self.kind == Kind.MONEY else mean).quantize(
                PLACES, rounding=ROUND_HALF_UP
            )
        if self.kind == Kind.MONEY:
            return cents_to_decimal(int(raw))
        return int(raw)

    def literal(self, value: Decimal) -> str:
        """A having value in the measure's SQL units (cents for money)."""
        if self.kind == Kind.MONEY and self.function not in ("COUNT", "COUNT_DISTINCT"):
            value = value * 100
        return format(value, "f")


def _camel(name: str) -> str:
    head, *rest = name.lower().split("_")
    return head + "".join(p.capitalize() for p in rest)


def _catalog_field(catalog: Catalog, name: str, argument: str) -> Field:
    found = catalog.fields.get(name)
    if found is None:
        known = ", ".join(catalog.fields)
        raise AggregateError(argument, f"`{argument}`: unknown field '{name}' (one of {known}).")
    return found


def dimension_sql(
    catalog: Catalog, dim: Dimension, i: int, plan: Plan, custom: dict[int, Any], postgres: bool
) -> DimSql:
    at = f"groupBy[{i}]"
    if (dim.field is None) == (dim.custom_field is None):
        raise AggregateError(at, f"`{at}`: give either `field` or `customFieldId`.")
    if dim.custom_field is not None:
        if dim.custom_field not in custom:
            raise AggregateError(
                f"{at}.customFieldId",
                f"`{at}.customFieldId`: no COMBO, CHECKBOX or LINKED custom field "
                f"{dim.custom_field} of {catalog.entity}.",
            )
        if dim.bucket is not None:
            raise AggregateError(f"{at}.bucket", f"`{at}.bucket`: only date fields take a bucket.")
        alias = f"crm_f{i}"
        join = (
            f'LEFT JOIN "custom_field_values" {alias} ON {alias}."field_id" = '
            f'{int(dim.custom_field)} AND {alias}."object_id" = r."id"'
        )
        name = dim.name or f"customField{dim.custom_field}"
        return DimSql(name, f'{alias}."value"', Kind.TEXT, None, join)
    spec = _catalog_field(catalog, dim.field or "", f"{at}.field")
    if spec.kind == Kind.MONEY:
        raise AggregateError(
            f"{at}.field", f"`{at}.field`: {dim.field} is an amount: measure it (SUM, AVG...)."
        )
    sql = spec.sql
    if spec.kind in DATES:
        unit = (dim.bucket or "day").lower()
        if unit not in UNITS:
            raise AggregateError(f"{at}.bucket", f"`{at}.bucket`: one of {', '.join(UNITS)}.")
        try:
            sql = bucket_sql(
                sql, unit, plan.time_zone, instant=spec.kind == Kind.DATETIME, postgres=postgres
            )
        except BadTimeZone as exc:
            raise AggregateError("timeZone", f"`timeZone`: {exc}") from None
    elif dim.bucket is not None:
        raise AggregateError(
            f"{at}.bucket", f"`{at}.bucket`: {dim.field} is not a date field, it takes no bucket."
        )
    return DimSql(dim.name or _camel(dim.field or ""), sql, spec.kind, spec.label, spec.join)


def measure_sql(catalog: Catalog, measure: Measure, i: int) -> MeasureSql:
    at = f"measures[{i}]"
    if measure.function not in FUNCTIONS:
        raise AggregateError(f"{at}.function", f"`{at}.function`: one of {', '.join(FUNCTIONS)}.")
    if measure.field is None:
        if measure.function != "COUNT":
            raise AggregateError(f"{at}.field", f"`{at}.field`: {measure.function} needs a field.")
        return MeasureSql(measure.name or "count", "COUNT", None, None, None)
    spec = _catalog_field(catalog, measure.field, f"{at}.field")
    if spec.join and "crm_t" in spec.join:
        raise AggregateError(f"{at}.field", f"`{at}.field`: {measure.field} cannot be measured.")
    if measure.function not in ("COUNT", "COUNT_DISTINCT") and spec.kind not in NUMERIC:
        raise AggregateError(
            f"{at}.field",
            f"`{at}.field`: {measure.function} needs a numeric or money field; "
            f"{measure.field} is not one.",
        )
    name = measure.name or _camel(f"{measure.function}_{measure.field}")
    return MeasureSql(name, measure.function, spec.sql, spec.kind, spec.join)
