"""The list machinery every domain reuses: typed filters to SQL, keyset pagination and
per-parent limited fetching for nested lists.

Filters arrive as input objects whose attributes are either scalar filters
(`eq neq in_ lt lte gt gte contains is_null`) or nested entity filters, plus `and_`,
`or_` and `not_`. A `FilterSpec` maps attribute names to ORM lookup paths, so a
filter can follow relations (`company: {name: {contains: "acme"}}`)."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Generic, TypeVar

import orjson
from tortoise import fields as tfields
from tortoise.expressions import Q, Subquery
from tortoise.models import Model
from tortoise.queryset import QuerySet

from crm_graphql.services.audit import json_value

M = TypeVar("M", bound=Model)

_SCALAR_OPS: dict[str, str] = {
    "eq": "",
    "in_": "__in",
    "lt": "__lt",
    "lte": "__lte",
    "gt": "__gt",
    "gte": "__gte",
    "contains": "__icontains",
    "is_null": "__isnull",
}


class ListError(ValueError):
    """A filter, order or cursor the client sent cannot be used; the message says why."""


@dataclass(frozen=True)
class Relation:
    """A filter attribute that descends into a related entity's filter."""

    path: str
    spec: FilterSpec


# A callable target builds its own condition from the attribute's value (free-text
# search, custom field values): (value, prefix) -> Q.
FilterSpec = dict[str, "str | Relation | Callable[[Any, str], Q]"]


def _set(value: Any) -> bool:
    # strawberry.UNSET is falsy-ish but not None; treat both as "not given".
    return value is not None and type(value).__name__ != "UnsetType"


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _enum_check(field: Any) -> Callable[[Any], Any] | None:
    """For an enum column, a check that a compared value is one of its values: Tortoise
    raises a bare ValueError on any other, which would surface as an internal error."""
    enum_type = getattr(field, "enum_type", None)
    if enum_type is None:
        return None
    allowed = {str(member.value) for member in enum_type}

    def check(value: Any) -> Any:
        if isinstance(value, list):
            return [check(v) for v in value]
        if str(value) not in allowed:
            raise ListError(f"'{value}' is not one of {', '.join(sorted(allowed))}.")
        return value

    return check


def _scalar_q(path: str, scalar: Any, field: Any = None) -> Q:
    coerce = getattr(scalar, "coerce", None) or _enum_check(field) or (lambda v: v)
    parts: list[Q] = []
    for attr, suffix in _SCALAR_OPS.items():
        value = getattr(scalar, attr, None)
        if _set(value):
            value = _plain(value)
            if attr not in ("is_null", "contains"):
                value = coerce(value)
            parts.append(Q(**{f"{path}{suffix}": value}))
    neq = getattr(scalar, "neq", None)
    if _set(neq):
        parts.append(~Q(**{path: coerce(_plain(neq))}))
    return Q(*parts) if parts else Q()


def filter_q(flt: Any, spec: FilterSpec, prefix: str = "", model: type[Model] | None = None) -> Q:
    """Translate a filter input object to one Tortoise Q, following `spec`.

    With `model`, values are checked against enum columns, and a top-level `not` is the
    complement of its condition among `model`'s rows (`id NOT IN (rows matching it)`): a
    plain SQL `NOT (...)` drops every row where the condition is NULL, such as users
    without a company under `not: {company: {name: {contains: "x"}}}`."""
    if not _set(flt):
        return Q()
    fields_map = model._meta.fields_map if model is not None else {}
    parts: list[Q] = []
    for name, target in spec.items():
        value = getattr(flt, name, None)
        if not _set(value):
            continue
        if callable(target):
            parts.append(target(value, prefix))
        elif isinstance(target, Relation):
            relation = fields_map.get(target.path)
            related = getattr(relation, "related_model", None)
            parts.append(filter_q(value, target.spec, f"{prefix}{target.path}__", related))
        else:
            parts.append(_scalar_q(prefix + target, value, fields_map.get(target)))
    and_ = getattr(flt, "and_", None)
    if _set(and_):
        parts.extend(filter_q(sub, spec, prefix, model) for sub in and_)
    or_ = getattr(flt, "or_", None)
    if _set(or_) and or_:
        parts.append(Q(*(filter_q(sub, spec, prefix, model) for sub in or_), join_type="OR"))
    not_ = getattr(flt, "not_", None)
    if _set(not_):
        inner = filter_q(not_, spec, prefix, model)
        if model is not None and not prefix:
            pk = model._meta.pk_attr
            matching = Subquery(model.filter(inner).values(pk))
            parts.append(~Q(**{f"{pk}__in": matching}))
        else:
            parts.append(~inner)
    return Q(*parts) if parts else Q()


@dataclass(frozen=True)
class SortKey:
    """One ORDER BY key: a non-null column of the model (keyset needs no NULLs)."""

    column: str
    descending: bool = False


def sort_keys(
    order: Sequence[tuple[str, bool]] | None, default: Sequence[SortKey]
) -> list[SortKey]:
    """The requested keys (or the default), always ending with the id tie-breaker."""
    keys = [SortKey(c, d) for c, d in order] if order else list(default)
    seen: set[str] = set()
    unique = [k for k in keys if not (k.column in seen or seen.add(k.column))]
    if not any(k.column == "id" for k in unique):
        unique.append(SortKey("id", unique[-1].descending if unique else False))
    return unique


def _ordering_tag(keys: Sequence[SortKey]) -> str:
    """A short fingerprint of the ordering, so a cursor only works with the ordering
    (columns and directions) it was made for."""
    spec = ",".join(("-" if k.descending else "") + k.column for k in keys)
    return hashlib.blake2s(spec.encode(), digest_size=4).hexdigest()


def encode_cursor(row: Model, keys: Sequence[SortKey]) -> str:
    """The opaque cursor of `row`: its sort values, tagged with the ordering."""
    payload = [_ordering_tag(keys), *(json_value(getattr(row, k.column)) for k in keys)]
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def _decode_value(model: type[Model], column: str, raw: Any) -> Any:
    """A cursor value checked against the column's type, so no crafted cursor reaches
    the database with a value it would reject (or silently compare as another type)."""
    field = model._meta.fields_map.get(column)
    if raw is None:
        raise ListError("Cursor holds an empty sort value.")
    if isinstance(field, tfields.DatetimeField):
        value = datetime.fromisoformat(raw)
        if value.tzinfo is None:
            raise ListError("The cursor is not valid.")
        return value.astimezone(UTC)
    if isinstance(field, tfields.DateField):
        return date.fromisoformat(raw)
    if isinstance(field, tfields.DecimalField):
        if not isinstance(raw, str | int):
            raise ListError("The cursor is not valid.")
        try:
            return Decimal(raw)
        except ArithmeticError:
            raise ListError("The cursor is not valid.") from None
    if isinstance(field, tfields.BooleanField):
        if not isinstance(raw, bool):
            raise ListError("The cursor is not valid.")
        return raw
    if isinstance(field, tfields.FloatField):
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise ListError("The cursor is not valid.")
        return raw
    if isinstance(field, tfields.IntField | tfields.BigIntField | tfields.SmallIntField):
        constraints = getattr(field, "constraints", {}) or {}
        if (
            isinstance(raw, bool)
            or not isinstance(raw, int)
            or raw < constraints.get("ge", -(2**63))
            or raw > constraints.get("le", 2**63 - 1)
        ):
            raise ListError("The cursor is not valid.")
        return raw
    if isinstance(field, tfields.CharField | tfields.TextField):
        if not isinstance(raw, str):
            raise ListError("The cursor is not valid.")
        return raw
    return raw


def decode_cursor(model: type[Model], cursor: str, keys: Sequence[SortKey]) -> list[Any]:
    """The sort values of a cursor made by `encode_cursor` for the same ordering."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, orjson.JSONDecodeError, ValueError, TypeError):
        raise ListError("The cursor is not valid.") from None
    if not isinstance(payload, list) or not payload or not isinstance(payload[0], str):
        raise ListError("The cursor is not valid.")
    tag, values = payload[0], payload[1:]
    if tag != _ordering_tag(keys) or len(values) != len(keys):
        raise ListError("The cursor does not match this ordering.")
    try:
        return [_decode_value(model, k.column, v) for k, v in zip(keys, values, strict=True)]
    except ListError:
        raise
    except (ValueError, TypeError) as exc:
        raise ListError("The cursor is not valid.") from exc


def keyset_q(keys: Sequence[SortKey], values: Sequence[Any]) -> Q:
    """Rows strictly after `values` in the order `keys`."""
    branches: list[Q] = []
    for i, key in enumerate(keys):
        equal = {keys[j].column: values[j] for j in range(i)}
        op = "lt" if key.descending else "gt"
        branches.append(Q(**equal, **{f"{key.column}__{op}": values[i]}))
    return Q(*branches, join_type="OR")


def order_args(keys: Sequence[SortKey]) -> list[str]:
    return [("-" if k.descending else "") + k.column for k in keys]


@dataclass
class Page(Generic[M]):
    rows: list[M]
    cursors: list[str]
    has_next: bool
    has_previous: bool
    count: Callable[[], Awaitable[int]]


async def fetch_page(
    queryset: QuerySet[M],
    keys: Sequence[SortKey],
    first: int,
    after: str | None,
) -> Page[M]:
    """One page after `after` (a keyset cursor), plus a lazy total count of `queryset`."""
    model = queryset.model
    page_q = queryset
    if after:
        page_q = page_q.filter(keyset_q(keys, decode_cursor(model, after, keys)))
    rows = await page_q.order_by(*order_args(keys)).limit(first + 1)
    has_next = len(rows) > first
    rows = rows[:first]

    async def count() -> int:
        return await queryset.count()

    return Page(
        rows=rows,
        cursors=[encode_cursor(r, keys) for r in rows],
        has_next=has_next,
        has_previous=bool(after),
        count=count,
    )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def fetch_per_parent(
    queryset: QuerySet[M],
    parent_column: str,
    keys: Sequence[SortKey],
    limit: int,
) -> dict[Any, list[M]]:
    """For each parent, its first `limit` rows of `queryset` in `keys` order, in ONE
    statement: ROW_NUMBER() OVER (PARTITION BY parent ORDER BY keys) <= limit.

    Fetches `limit + 1` so callers can tell whether a parent has more."""
    model = queryset.model
    queryset._choose_db_if_not_chosen()
    queryset._make_query()
    inner_sql, params = queryset.query.get_parameterized_sql()
    columns = model._meta.fields_db_projection
    order = ", ".join(
        f"t.{_quote(columns[k.column])} {'DESC' if k.descending else 'ASC'}" for k in keys
    )
    parent_db = _quote(model._meta.fields_db_projection[parent_column])
    sql = (
        f"SELECT * FROM (SELECT t.*, ROW_NUMBER() OVER (PARTITION BY t.{parent_db} "  # noqa: S608
        f"ORDER BY {order}) AS crm_rn FROM ({inner_sql}) t) ranked "
        f"WHERE crm_rn <= {int(limit) + 1} ORDER BY {parent_db}, crm_rn"
    )
    result: dict[Any, list[M]] = defaultdict(list)
    for row in await queryset._db.execute_query_dict(sql, params):
        row.pop("crm_rn", None)
        instance = model._init_from_db(**row)
        result[getattr(instance, parent_column)].append(instance)
    return result


async def count_per_parent(queryset: QuerySet[M], parent_column: str) -> dict[Any, int]:
    """Row counts per parent, one GROUP BY statement."""
    from tortoise.functions import Count

    rows = (
        await queryset.annotate(n=Count("id"))
        .group_by(parent_column)
        .order_by()
        .values(parent_column, "n")
    )
    return {row[parent_column]: row["n"] for row in rows}


def has_condition(flt: Any, *names: str) -> bool:
    """Whether the filter has a condition on any of these attributes, at any level of
    `and`, `or` and `not` (lists that hide rows by default show them when asked)."""
    if not _set(flt):
        return False
    if any(_set(getattr(flt, name, None)) for name in names):
        return True
    for name in ("and_", "or_"):
        subs = getattr(flt, name, None)
        if isinstance(subs, list) and any(has_condition(s, *names) for s in subs):
            return True
    return has_condition(getattr(flt, "not_", None), *names)


def input_fields(obj: Any) -> dict[str, Any]:
    """The attributes a client actually sent on an input object."""
    return {
        f.name: getattr(obj, f.name)
        for f in dataclasses.fields(obj)
        if type(getattr(obj, f.name)).__name__ != "UnsetType"
    }
