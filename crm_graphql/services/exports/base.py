"""What every CSV export shares: cell formatting, keyset paging, and the export of an
entity whose columns are its fixed ones plus one per custom field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from tortoise.expressions import Q
from tortoise.models import Model

from crm_graphql.models.customfields import CustomField, CustomFieldEntity
from crm_graphql.services import customfields

EXPORT_PAGE = 1000


def cell(value: Any) -> str:
    """A value as a CSV cell: empty for None, 1/0 for booleans, UTC ISO for times."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds")
    return str(value)


async def keyset_pages(
    model: type[Model], where: Q, fields: tuple[str, ...], page_size: int
) -> AsyncIterator[list[dict[str, Any]]]:
    """The rows of `model` matching `where` (`id` and `fields`), in id order, a page at a
    time: each page starts after the last id of the one before, so no OFFSET scan."""
    last = 0
    while True:
        rows = (
            await model.filter(where, id__gt=last)
            .order_by("id")
            .limit(page_size)
            .values("id", *fields)
        )
        if not rows:
            return
        yield rows
        if len(rows) < page_size:
            return
        last = rows[-1]["id"]


class Export:
    """An export of `columns` (`selected` from the rows), then `entity`'s custom fields."""

    model: type[Model]
    entity: CustomFieldEntity
    columns: tuple[str, ...]
    selected: tuple[str, ...]

    def __init__(self, definitions: list[CustomField]) -> None:
        self.definitions = definitions

    @classmethod
    async def load(cls) -> Any:
        return cls(await customfields.fields_for(cls.entity))

    def header(self) -> list[str]:
        return [*self.columns, *(d.name for d in self.definitions)]

    def cells(self, row: dict[str, Any]) -> list[str]:
        raise NotImplementedError

    async def before_page(self, ids: list[int]) -> None:
        """Fetch what `cells` needs beyond the row's columns, once per page."""

    async def pages(self, where: Q, page_size: int = EXPORT_PAGE) -> AsyncIterator[list[list[str]]]:
        """The rows matching `where`, a page of CSV cells at a time (keyset on id)."""
        async for rows in keyset_pages(self.model, where, self.selected, page_size):
            ids = [row["id"] for row in rows]
            await self.before_page(ids)
            values = (
                await customfields.values_for_objects(self.entity, ids) if self.definitions else {}
            )
            page = []
            for row in rows:
                own = values.get(row["id"], {})
                page.append([*self.cells(row), *(own.get(d.id, "") for d in self.definitions)])
            yield page
