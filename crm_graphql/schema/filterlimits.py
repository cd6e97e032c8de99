"""Limits on filter arguments: how many conditions, how deeply nested, how many `in`
values and how long a string may be.

The check walks a filter as graphql-core coerced it (a dict keyed by GraphQL names,
with its input type), so it serves a literal in the query, a variable, a CSV export's
`filter` parameter and a saved search alike, and its errors name the argument path
the client wrote (`filter.or[3].name.contains`). An input type whose name ends in
`Filter` is a filter; `and`, `or`, `not` and every nested entity filter (a relation)
are one level deeper; a filter whose fields are all plain values (`StringFilter`,
`CustomFieldFilter`, ...) holds conditions, one per value given."""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    get_named_type,
    get_nullable_type,
    is_non_null_type,
)

from crm_graphql.errors import BadUserInput, QueryTooComplex
from crm_graphql.settings import Limits

_COMBINATORS = ("and", "or")


def is_filter_type(type_: Any) -> bool:
    named = get_named_type(type_)
    return isinstance(named, GraphQLInputObjectType) and named.name.endswith("Filter")


def _holds_values(type_: GraphQLInputObjectType) -> bool:
    """A filter on one value (StringFilter): every field is a scalar, enum or list of them."""
    return all(
        not isinstance(get_named_type(f.type), GraphQLInputObjectType)
        for f in type_.fields.values()
    )


class FilterWalk:
    """Counts the conditions of one filter argument, enforcing `limits` as it goes."""

    def __init__(self, limits: Limits, argument: str) -> None:
        self.limits = limits
        self.argument = argument
        self.conditions = 0
        self.in_values = 0

    def walk(self, value: Any, type_: GraphQLInputType) -> int:
        named = get_named_type(type_)
        if isinstance(value, dict) and isinstance(named, GraphQLInputObjectType):
            self._entity(value, named, self.argument, 0)
        return self.conditions

    def _entity(
        self, value: dict[str, Any], type_: GraphQLInputObjectType, path: str, depth: int
    ) -> None:
        limit = self.limits.max_filter_depth
        if depth > limit:
            raise QueryTooComplex(
                f"`{path}` is nested deeper than {limit} levels (each `and`, `or`, `not` "
                "and related entity is a level)."
            )
        for name, field in type_.fields.items():
            item = value.get(name)
            if item is None:
                continue
            at = f"{path}.{name}"
            named = get_named_type(field.type)
            listed = isinstance(get_nullable_type(field.type), GraphQLList)
            if not isinstance(named, GraphQLInputObjectType):
                self._value(item, at)
            elif (name in _COMBINATORS and listed) or name == "not":
                items = enumerate(item) if listed else [(None, item)]
                for i, branch in items:
                    where = at if i is None else f"{at}[{i}]"
                    before = self.conditions
                    if isinstance(branch, dict):
                        self._entity(branch, named, where, depth + 1)
                    if self.conditions == before:
                        self._count(where)  # an empty branch still means "everything"
            else:
                items = enumerate(item) if listed else [(None, item)]
                for i, sub in items:
                    where = at if i is None else f"{at}[{i}]"
                    if not isinstance(sub, dict):
                        continue
                    if _holds_values(named):
                        self._values(sub, named, where)
                    else:
                        self._entity(sub, named, where, depth + 1)

    def _values(self, value: dict[str, Any], type_: GraphQLInputObjectType, path: str) -> None:
        for name, field in type_.fields.items():
            item = value.get(name)
            if item is None:
                continue
            if is_non_null_type(field.type):
                # What the filter is about (a custom field's id), not a condition.
                self._string(item, f"{path}.{name}")
                continue
            self._value(item, f"{path}.{name}")

    def _value(self, item: Any, path: str) -> None:
        self._count(path)
        if isinstance(item, list):
            self.in_values += len(item)
            limit = self.limits.max_filter_in_values
            if self.in_values > limit:
                raise QueryTooComplex(
                    f"`{path}`: the lists of `{self.argument}` hold more than {limit} values "
                    "together."
                )
            for i, member in enumerate(item):
                self._string(member, f"{path}[{i}]")
        else:
            self._string(item, path)

    def _string(self, item: Any, path: str) -> None:
        limit = self.limits.max_filter_string_length
        if isinstance(item, str) and len(item) > limit:
            raise BadUserInput(f"`{path}` is longer than {limit} characters.")

    def _count(self, path: str) -> None:
        self.conditions += 1
        limit = self.limits.max_filter_conditions
        if self.conditions > limit:
            raise QueryTooComplex(
                f"`{self.argument}` has more than {limit} conditions (the limit was passed "
                f"at `{path}`)."
            )


def check_filter(value: Any, type_: GraphQLInputType, limits: Limits, argument: str) -> int:
    """The number of conditions in `value`, a coerced `type_`; raises QueryTooComplex
    (too many, too deep, too many `in` values) or BadUserInput (a string too long)."""
    return FilterWalk(limits, argument).walk(value, type_)
