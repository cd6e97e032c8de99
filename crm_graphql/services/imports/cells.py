"""Reading the cells of an import row: ids, booleans, and custom field errors named by
their column."""

from __future__ import annotations

from crm_graphql.errors import PayloadErrors
from crm_graphql.ids import id_number
from crm_graphql.services.imports.results import RowError

_TRUE = {"1", "true", "yes", "y", "on"}
_FALSE = {"0", "false", "no", "n", "off", ""}


def parse_id(text: str) -> int | None:
    """An id cell: None when empty; ValueError when not a valid id."""
    text = text.strip()
    if not text:
        return None
    number = id_number(text) if text.isascii() and text.isdigit() else None
    if number is None:
        raise ValueError(text)
    return number


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(text)


def custom_problems(exc: PayloadErrors, line: int) -> list[RowError]:
    """Custom field errors name `customFields.<name>`; the column is `<name>`."""
    return [
        RowError(line, (e.field or "").removeprefix("customFields.") or None, e.code, e.message)
        for e in exc.errors
    ]
