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
from crm_graphql.services.orm import compiled, from_row, lookup_q

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


# The ids of the related rows a viewer may see, as a subquery; None: all of them (a
# superadmin; never an empty Q() in an OR). Called with None when there is no viewer.
VisibleIds = Callable[[Any], "Subquery | None"]


@dataclass(frozen=True)
class Relation:
    """A filter attribute that descends into a related entity's filter.

    `visible` guards a relation to rows the viewer may not see (SPEC §2: a filter through
    a relation matches only related rows the viewer may see): conditions under it hold
    only for a visible related row, and a hidden one counts as no related row at all
    (so `isNull: true` matches it), so no filter reveals hidden data."""

    path: str
    spec: FilterSpec
    visible: VisibleIds | None = None


@dataclass(frozen=True)
class ViewerCondition:
    """A filter attribute whose condition depends on the viewer (a relation that is not
    a foreign key, such as an invoice's related contracts): (value, prefix, viewer) -> Q."""

    build: Callable[[Any, str, Any], Q]


# A callable target builds its own condition from the attribute's value (free-text
# search, custom field values): (value, prefix) -> Q.
FilterSpec = dict[str, "str | Relation | ViewerCondition | Callable[[Any, str], Q]"]


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


def _graphql_name(attr: str) -> str:
    """The input field's GraphQL name (strawberry's camelCase; `in_` is `in`)."""
    head, *rest = attr.rstrip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _field_at(model: type[Model] | None, path: str) -> Any:
    """The model field a lookup path (`company__name`) ends on, or None."""
    field: Any = None
    for name in path.split("__"):
        if model is None:
            return None
        field = model._meta.fields_map.get(name)
        model = getattr(field, "related_model", None)
    return field


def _check_length(value: Any, field: Any, at: str) -> None:
    """A string longer than its column can match nothing, and PostgreSQL (and Tortoise's
    own validation) refuses it: the client's error, named by its path."""
    limit = getattr(field, "max_length", None)
    if not isinstance(limit, int):
        return
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str) and len(item) > limit:
            raise ListError(f"`{at}` is longer than the column's {limit} characters.")


@dataclass(frozen=True)
class _Atom:
    """One condition. `null_path`: the column whose NULL makes `q` NULL rather than
    false (None: `q` is never NULL). `opaque`: built by a spec's callable, so how it
    behaves on NULL is unknown."""

    q: Q
    null_path: str | None = None
    opaque: bool = False


@dataclass(frozen=True)
class _Group:
    join: str  # Q.AND or Q.OR
    items: tuple[Any, ...]


@dataclass(frozen=True)
class _Not:
    item: Any


def _guarded(atom: _Atom, guard: Q | None, is_null: Any = None) -> _Atom:
    """`atom` through guarded relations: a hidden related row counts as none, so the
    condition holds only with a visible one, except `isNull: true`, which a hidden row
    satisfies too."""
    if guard is None:
        return atom
    if is_null is True:
        return _Atom(Q(atom.q, ~guard, join_type=Q.OR), atom.null_path, atom.opaque)
    return _Atom(Q(atom.q, guard), atom.null_path, atom.opaque)


def _scalar_atoms(
    path: str, scalar: Any, field: Any = None, at: str = "filter", guard: Q | None = None
) -> list[_Atom]:
    coerce = getattr(scalar, "coerce", None) or _enum_check(field) or (lambda v: v)
    # A condition on a NOT NULL column of this table is never NULL; through a relation
    # (a LEFT JOIN) it is NULL when there is no related row.
    null_path = None if "__" not in path and not getattr(field, "null", True) else path
    atoms: list[_Atom] = []
    for attr, suffix in _SCALAR_OPS.items():
        value = getattr(scalar, attr, None)
        if _set(value):
            value = _plain(value)
            if attr not in ("is_null", "contains"):
                value = coerce(value)
                _check_length(value, field, f"{at}.{_graphql_name(attr)}")
            nullable = None if attr == "is_null" else null_path
            atom = _Atom(Q(**{f"{path}{suffix}": value}), nullable)
            atoms.append(_guarded(atom, guard, value if attr == "is_null" else None))
    neq = getattr(scalar, "neq", None)
    if _set(neq):
        value = coerce(_plain(neq))
        _check_length(value, field, f"{at}.neq")
        atoms.append(_guarded(_Atom(~Q(**{path: value}), null_path), guard))
    return atoms


def _relation_guard(target: Relation, prefix: str, viewer: Any, outer: Q | None) -> Q | None:
    """The condition "the related row is one the viewer may see" (None: no restriction),
    combined with the guards of the relations it is reached through."""
    if target.visible is None:
        return outer
    ids = target.visible(viewer)
    if ids is None:
        return outer
    own = lookup_q({f"{prefix}{target.path}_id__in": ids})
    return own if outer is None else Q(outer, own)


def _scalar_q(path: str, scalar: Any, field: Any = None) -> Q:
    atoms = _scalar_atoms(path, scalar, field)
    return Q(*(a.q for a in atoms)) if atoms else Q()


def _is_empty(q: Q) -> bool:
    return not q.children and not q.filters


def _formula(
    flt: Any,
    spec: FilterSpec,
    prefix: str,
    model: type[Model] | None,
    at: str,
    viewer: Any = None,
    guard: Q | None = None,
) -> Any:
    """The filter as a tree of _Group, _Not and _Atom (True: no condition). `guard`:
    the visibility condition of the guarded relations `prefix` goes through."""
    if not _set(flt):
        return True
    parts: list[Any] = []
    for name, target in spec.items():
        value = getattr(flt, name, None)
        if not _set(value):
            continue
        where = f"{at}.{_graphql_name(name)}"
        if isinstance(target, Relation):
            inner = _relation_guard(target, prefix, viewer, guard)
            sub_prefix = f"{prefix}{target.path}__"
            parts.append(_formula(value, target.spec, sub_prefix, model, where, viewer, inner))
        elif isinstance(target, ViewerCondition) or callable(target):
            if isinstance(target, ViewerCondition):
                q = target.build(value, prefix, viewer)
            else:
                q = target(value, prefix)
            # An empty Q means "no condition"; Tortoise would drop it from an OR.
            parts.append(True if _is_empty(q) else _guarded(_Atom(q, opaque=True), guard))
        elif isinstance(value, bool | int | str | Enum):
            # A plain value (`duplicate: true`) is an equality on the column.
            path = prefix + target
            field = _field_at(model, path)
            null_path = None if "__" not in path and not getattr(field, "null", True) else path
            parts.append(_guarded(_Atom(Q(**{path: _plain(value)}), null_path), guard))
        else:
            path = prefix + target
            parts.extend(_scalar_atoms(path, value, _field_at(model, path), where, guard))
    and_: Any = getattr(flt, "and_", None)
    if _set(and_):
        parts.extend(
            _formula(sub, spec, prefix, model, f"{at}.and[{i}]", viewer, guard)
            for i, sub in enumerate(and_)
        )
    or_ = getattr(flt, "or_", None)
    if _set(or_) and or_:
        branches = (
            _formula(sub, spec, prefix, model, f"{at}.or[{i}]", viewer, guard)
            for i, sub in enumerate(or_)
        )
        parts.append(_Group(Q.OR, tuple(branches)))
    not_ = getattr(flt, "not_", None)
    if _set(not_):
        parts.append(_Not(_formula(not_, spec, prefix, model, f"{at}.not", viewer, guard)))
    return _Group(Q.AND, tuple(parts))


def _peel(node: Any, negate: bool) -> tuple[Any, bool]:
    """Double negation: `not` wrappers off, remembering whether an odd number was."""
    while isinstance(node, _Not):
        node, negate = node.item, not negate
    return node, negate


def _compile(node: Any, negate: bool, model: type[Model] | None) -> Q | bool:
    """SQL for `node` (its complement among all rows when `negate`), with negation
    pushed down to the conditions (De Morgan), so the SQL does not grow with the
    nesting of `not`. The complement of a condition that can be NULL includes the rows
    where it is NULL (`NOT (c) OR column IS NULL`), as set complement does; conditions
    whose NULL behaviour is unknown are complemented together, with one
    `id NOT IN (...)` per group at most."""
    node, negate = _peel(node, negate)
    if isinstance(node, bool):
        return node != negate
    if isinstance(node, _Atom):
        if not negate:
            return node.q
        if node.opaque:
            return _complement([node.q], Q.AND, model)
        q = ~node.q
        if node.null_path is not None:
            q = Q(q, lookup_q({f"{node.null_path}__isnull": True}), join_type=Q.OR)
        return q
    join = node.join if not negate else (Q.OR if node.join == Q.AND else Q.AND)
    absorbing = join == Q.OR  # True absorbs an OR, False an AND
    compiled: list[Q] = []
    opaque: list[Q] = []
    for item in node.items:
        item, item_negate = _peel(item, negate)
        if item_negate and isinstance(item, _Atom) and item.opaque:
            opaque.append(item.q)
            continue
        part = _compile(item, item_negate, model)
        if isinstance(part, bool):
            if part == absorbing:
                return absorbing
            continue  # the neutral constant
        compiled.append(part)
    if opaque:
        # not a and not b == not (a or b); not a or not b == not (a and b)
        compiled.append(_complement(opaque, Q.OR if join == Q.AND else Q.AND, model))
    if not compiled:
        return not absorbing
    return compiled[0] if len(compiled) == 1 else Q(*compiled, join_type=join)


def _complement(parts: list[Q], join: str, model: type[Model] | None) -> Q:
    inner = parts[0] if len(parts) == 1 else Q(*parts, join_type=join)
    if model is None:
        return ~inner
    pk = model._meta.pk_attr
    return ~lookup_q({f"{pk}__in": Subquery(model.filter(inner).values(pk))})


def filter_q(
    flt: Any,
    spec: FilterSpec,
    prefix: str = "",
    model: type[Model] | None = None,
    argument: str = "filter",
    *,
    viewer: Any = None,
) -> Q:
    """Translate a filter input object to one Tortoise Q, following `spec`.

    `viewer` decides what guarded relations (`Relation.visible`, `ViewerCondition`)
    reach: without one they reach nothing.

    With `model`, values are checked against enum columns and column lengths (errors
    name the path from `argument`), and `not` is the complement of its condition among
    `model`'s rows: a plain SQL `NOT (...)` would drop every row where the condition is
    NULL, such as users without a company under `not: {company: {name: {contains:
    "x"}}}`. Negation is pushed down to the conditions (see `_compile`), so any nesting
    of `not` gives SQL of the same size as the equivalent filter without it."""
    compiled = _compile(_formula(flt, spec, prefix, model, argument, viewer), False, model)
    if compiled is True:
        return Q()
    if compiled is False:
        return Q(id__in=[])  # matches nothing
    assert isinstance(compiled, Q)
    return compiled


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
    unique: list[SortKey] = []
    for key in keys:
        if key.column not in seen:
            seen.add(key.column)
            unique.append(key)
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
        if not isinstance(raw, str) or "\x00" in raw:
            raise ListError("The cursor is not valid.")
        return raw
    if field is None:
        # A computed sort key (an annotation, e.g. a company's billing in cents): integer.
        if isinstance(raw, bool) or not isinstance(raw, int) or abs(raw) >= 2**63:
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
    except (ValueError, TypeError, OverflowError) as exc:
        # OverflowError: a time at the calendar's ends, in UTC beyond year 1 or 9999
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
    inner_sql, params, connection = compiled(queryset)
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
    for row in await connection.execute_query_dict(sql, params):
        row.pop("crm_rn", None)
        instance = from_row(model, row)
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
