"""The one parser for ids a client sends (GraphQL `ID`s, CSV columns, URL segments).

Every id column is a 32-bit integer on both databases; a number outside that range can
name no row, and handing it to SQL fails (SQLite: OverflowError beyond 64 bits;
PostgreSQL: out of range for integer), so it is refused here, before any query."""

from __future__ import annotations

from typing import Any

from crm_graphql.errors import ErrorCode, FieldError, NotFound

MIN_ID = 1
MAX_ID = 2**31 - 1
# The range an id may have in a filter (`eq`, `in`): anything the column can compare.
MIN_COLUMN_INT = -(2**31)
# More digits than any id has; longer text is refused before int() parses it.
_MAX_DIGITS = 12


def id_number(value: Any, *, minimum: int = MIN_ID, maximum: int = MAX_ID) -> int | None:
    """`value` as an id, or None when it is not an integer within the id column."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        if not text or len(text) > _MAX_DIGITS:
            return None
        try:
            number = int(text)
        except ValueError:
            return None
    return number if minimum <= number <= maximum else None


def shown(value: Any) -> str:
    """The client's value quoted in a message, cut short."""
    text = str(value)
    return text if len(text) <= 24 else text[:20] + "..."


def parse_id(value: Any, field: str | None) -> int:
    """An id in a mutation's input, as a payload error on `field` when it is bad: not a
    positive integer is INVALID; a positive one beyond the column can name no row, so it
    is NOT_FOUND. (A `FieldError` escaping a query becomes BAD_USER_INPUT.)"""
    number = id_number(value)
    if number is not None:
        return number
    if _is_big_positive(value):
        raise FieldError(field, ErrorCode.NOT_FOUND, f"No object with id {shown(value)}.")
    raise FieldError(field, ErrorCode.INVALID, f"'{shown(value)}' is not a valid id.")


def _is_big_positive(value: Any) -> bool:
    text = str(value).strip()
    return text.isascii() and text.isdigit() and text.strip("0") != ""


def query_id(value: Any) -> int:
    """An id argument of a query: one that cannot exist is simply NOT_FOUND."""
    number = id_number(value)
    if number is None:
        raise NotFound(f"No object with id '{shown(value)}'.")
    return number
