"""An import's rows: a parsed row with its problems, a chunk's plan of writes, and the
ids of the rows a chunk created."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tortoise.models import Model

from crm_graphql.errors import ErrorCode
from crm_graphql.services.imports.cells import parse_id
from crm_graphql.services.imports.results import RowError


@dataclass
class Row:
    """A line of the file: the values it sets (`data`), its custom field cells, what
    validation needs besides (`extra`), and what is wrong with it."""

    line: int
    data: dict[str, Any]
    custom: dict[int, str | None]
    extra: dict[str, Any] = field(default_factory=dict)
    problems: list[RowError] = field(default_factory=list)

    def fail(self, column: str | None, code: ErrorCode, message: str) -> None:
        self.problems.append(RowError(self.line, column, code, message))

    def read_ids(self, *cells: tuple[str, str, str]) -> None:
        """Set `data[key]` from each id cell (column, key, text); an invalid one fails."""
        for column, key, text in cells:
            try:
                self.data[key] = parse_id(text)
            except ValueError:
                self.fail(column, ErrorCode.INVALID, f"'{text.strip()}' is not a valid id.")


@dataclass
class Plan:
    """What a validated chunk will write."""

    creates: list[Row] = field(default_factory=list)
    # (row, current values, current custom values, custom changed)
    updates: list[tuple[Row, dict[str, Any], dict[int, str], bool]] = field(default_factory=list)


async def created_ids(
    model: type[Model], rows: list[Row], keys: tuple[str, str], **where: Any
) -> dict[int, int]:
    """The ids of the objects just inserted for `rows`, found by their two key columns
    (`where` narrows the lookup): a created row's line -> its id."""
    first, second = keys
    made = await model.filter(
        **where,
        **{
            f"{first}__in": {row.data[first] for row in rows},
            f"{second}__in": {row.data[second] for row in rows},
        },
    ).values_list(first, second, "id")
    by_key = {(a, b): i for a, b, i in made}
    return {row.line: by_key[(row.data[first], row.data[second])] for row in rows}
