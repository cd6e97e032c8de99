"""Scalars replacing strawberry's defaults, so a value no column can hold is refused
while the input is coerced (BAD_USER_INPUT), not deep in a resolver."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.schema.types.base_scalars import DateTimeDefinition
from strawberry.types.scalar import ScalarDefinition

from crm_graphql.errors import ErrorCode


def parse_datetime(value: Any) -> datetime:
    """strawberry's DateTime parsing, then a check that the instant exists in UTC:
    `0001-01-01T00:00:00+01:00` or `9999-12-31T23:59:59-01:00` parse, but every
    comparison or store converts them to UTC, which overflows."""
    assert DateTimeDefinition.parse_value is not None
    parsed = DateTimeDefinition.parse_value(value)
    assert isinstance(parsed, datetime)
    if parsed.tzinfo is not None:
        try:
            parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            raise StrawberryInputCoercionError(
                f'Value cannot represent a DateTime: "{value}". It is out of range in UTC.',
                extensions={"code": ErrorCode.BAD_USER_INPUT},
            ) from None
    return parsed


DATETIME = dataclasses.replace(DateTimeDefinition, parse_value=parse_datetime)

# For StrawberryConfig(scalar_map=...).
SCALARS: dict[object, ScalarDefinition] = {datetime: DATETIME}
