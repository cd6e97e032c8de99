"""The few Tortoise internals the hand-written SQL needs, in one place.

Some statements (top-N per parent, an aggregate joined back to its objects, statistics
over a filtered set) are written as SQL around the SQL Tortoise builds for a queryset,
so that the visibility filter stays the queryset's. Tortoise has no public API that
returns a queryset's SQL *with* its parameters and connection, nor one that turns a raw
row into a model instance, so these use private methods. Keeping them here means a
Tortoise upgrade that renames them breaks one module (and its tests), not four.

`Model._meta` (table and column names) is used directly elsewhere: it is the documented
way to read a model's metadata in Tortoise, not a private API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from pypika_tortoise import SqlContext
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.fields import CharField
from tortoise.models import Model
from tortoise.queryset import QuerySet

M = TypeVar("M", bound=Model)


def _built(queryset: Any) -> Any:
    """The queryset with its connection chosen and its pypika query built."""
    queryset._choose_db_if_not_chosen()
    queryset._make_query()
    return queryset


def compiled(queryset: Any, *, ordered: bool = True) -> tuple[str, list[Any], BaseDBAsyncClient]:
    """(SQL, parameters, connection) of `queryset` as Tortoise would run it; without its
    ORDER BY when `ordered` is false (Tortoise always adds the model's default order)."""
    built = _built(queryset)
    if not ordered:
        built.query._orderbys = []
    sql, params = built.query.get_parameterized_sql()
    return sql, list(params), built._db


def subquery_sql(queryset: Any, ctx: SqlContext) -> str:
    """`queryset`'s SQL without ORDER BY, rendered inside an outer statement's `ctx`
    (a `Subquery.get_sql` override)."""
    built = _built(queryset)
    built.query._orderbys = []
    return str(built.query.get_parameterized_sql(ctx)[0])


def joins_other_tables(queryset: Any) -> bool:
    """Whether `queryset`'s SQL joins another table (a filter through a relation), so a
    row of its model may come back more than once."""
    return bool(_built(queryset.all()).query._joins)


def from_row(model: type[M], row: dict[str, Any]) -> M:
    """A model instance from a raw row (column names as in the table), as Tortoise makes
    them for its own queries."""
    return model._init_from_db(**row)


def lookup_q(lookups: Mapping[str, Any]) -> Q:
    """`Q(**lookups)` for lookups named at run time (a relation prefix, a column name).
    Written `Q(**{name: value})`, the type checker reads the dict as possibly holding
    Q's own `join_type` argument and refuses any value that is not a string."""
    return Q(**lookups)


async def column_values(queryset: QuerySet[Any], column: str) -> list[Any]:
    """The values of one column, in the queryset's order: `values_list(column,
    flat=True)`, which Tortoise's annotations type as a list of tuples."""
    return cast(list[Any], await queryset.values_list(column, flat=True))


def max_length(model: type[Model], column: str) -> int:
    """The `max_length` of a model's text column, to refuse a longer value before SQL."""
    field = model._meta.fields_map[column]
    if not isinstance(field, CharField):
        raise TypeError(f"{model.__name__}.{column} is not a CharField")
    return field.max_length
