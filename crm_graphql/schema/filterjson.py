"""A list filter written as JSON (camelCase, as in a GraphQL variable), validated and
converted by the schema itself: CSV export parameters and saved lead searches accept
exactly what the matching GraphQL argument accepts."""

from __future__ import annotations

from typing import Any

import orjson
from graphql import GraphQLError, GraphQLInputObjectType
from graphql.utilities import coerce_input_value, validate_input_value
from strawberry.types.arguments import convert_argument

from crm_graphql.errors import ApiError
from crm_graphql.schema.filterlimits import check_filter
from crm_graphql.settings import Limits, settings

MAX_FILTER_CHARS = 20_000
MAX_FILTER_DEPTH = 24


class BadFilter(ValueError):
    """The `filter` parameter cannot be used; the message says why."""


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_FILTER_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level


def parse_filter(
    schema: Any,
    raw: str | None,
    type_name: str,
    python_type: type,
    limits: Limits | None = None,
) -> Any:
    """The `filter` JSON as the strawberry input `python_type`, validated by the
    schema's `type_name` input type exactly as a GraphQL variable would be, within the
    filter limits (`limits`, by default the configured ones) as the argument's are."""
    if raw is None or not raw.strip():
        return None
    if len(raw) > MAX_FILTER_CHARS:
        raise BadFilter(f"The filter is longer than {MAX_FILTER_CHARS} characters.")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadFilter(f"The filter is not valid JSON: {exc}.") from None
    if not isinstance(value, dict):
        raise BadFilter(f"The filter must be a JSON object (a {type_name}).")
    if _depth(value) > MAX_FILTER_DEPTH:
        raise BadFilter(f"The filter is nested deeper than {MAX_FILTER_DEPTH} levels.")
    gql_type = schema._schema.get_type(type_name)
    assert isinstance(gql_type, GraphQLInputObjectType)
    problems: list[str] = []

    def on_error(error: Exception, path: list[str | int]) -> None:
        where = ".".join(str(p) for p in path)
        message = error.message if isinstance(error, GraphQLError) else str(error)
        problems.append(f"{where}: {message}" if where else message)

    validate_input_value(value, gql_type, on_error, True)
    if problems:
        raise BadFilter("Invalid filter: " + " ".join(problems))
    try:
        coerced = coerce_input_value(value, gql_type)
        check_filter(coerced, gql_type, limits or settings.limits, "filter")
        return convert_argument(
            coerced, python_type, schema.schema_converter.scalar_registry, schema.config
        )
    except ApiError as exc:
        raise BadFilter(exc.message) from None
    except (GraphQLError, ValueError, TypeError) as exc:
        raise BadFilter(f"Invalid filter: {exc}") from None
