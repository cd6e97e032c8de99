"""The contracts CSV export (SPEC §5): the columns and status codes of a contracts file.

CONTRACT_COLUMNS, then the custom fields of each row's contract type in field order,
positionally (a file may mix types: the extra header cells are free text; an export of
one type names them after its fields)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator

from tortoise.expressions import Q

from crm_graphql.models.contracts import Contract, ContractLink
from crm_graphql.models.customfields import CustomField, CustomFieldEntity
from crm_graphql.services import customfields
from crm_graphql.services.exports.base import EXPORT_PAGE, cell, keyset_pages

CONTRACT_COLUMNS = (
    "name",
    "contract number",
    "description",
    "date begin",
    "date end",
    "id company",
    "id sla",
    "id group",
    "private",
    "status",
    "id contract type",
    "related contract",
    "manager",
    "company",
)
# CSV status codes of the original (SPEC §5 templates: 0 inactive, 1 active).
CONTRACT_STATUS_CODES = {"0": "INACTIVE", "1": "ACTIVE", "2": "PENDING"}
STATUS_OF_CODE = {v: k for k, v in CONTRACT_STATUS_CODES.items()}
_SELECTED = (
    "reference",
    "number",
    "description",
    "date_begin",
    "date_end",
    "company_id",
    "sla_id",
    "group_id",
    "private",
    "status",
    "contract_type_id",
    "owner__username",
    "company__name",
)


async def contract_fields() -> tuple[list[CustomField], dict[int, list[CustomField]]]:
    """Every contract custom field in field order, and those of each contract type."""
    definitions = await CustomField.filter(entity=CustomFieldEntity.CONTRACT).order_by(
        "position", "id"
    )
    by_type: dict[int, list[CustomField]] = defaultdict(list)
    for definition in definitions:
        if definition.owner_id is not None:
            by_type[definition.owner_id].append(definition)
    return definitions, by_type


async def visible_related(ids: list[int] | set[int], where: Q) -> dict[int, list[int]]:
    """The related contract ids (links go both ways) of each of `ids` that `where` lets
    through: the links a viewer sees, and the only ones an import compares or changes."""
    wanted = set(ids)
    links = await ContractLink.filter(
        Q(contract_id__in=wanted) | Q(related_id__in=wanted)
    ).values_list("contract_id", "related_id")
    others = {b if a in wanted else a for a, b in links} | {a for a, b in links if b in wanted}
    if not others:
        return {}
    shown = set(await Contract.filter(where, id__in=others).values_list("id", flat=True))
    found: dict[int, set[int]] = defaultdict(set)
    for a, b in links:
        if a in wanted and b in shown:
            found[a].add(b)
        if b in wanted and a in shown:
            found[b].add(a)
    return {k: sorted(v) for k, v in found.items()}


class ContractExport:
    """Export of contracts: CONTRACT_COLUMNS, then custom field columns. With
    `contract_type_id` the rows are that type's and the columns are named after its
    fields; otherwise they are "custom field 1".."custom field N" (N: the most fields a
    type has), each row giving its own type's values in field order."""

    def __init__(
        self, definitions: dict[int, list[CustomField]], names: list[str], visible: Q
    ) -> None:
        self.definitions = definitions
        self.names = names
        self.visible = visible  # which related contracts may be listed

    @classmethod
    async def load(
        cls, contract_type_id: int | None = None, visible: Q | None = None
    ) -> ContractExport:
        _, by_type = await contract_fields()
        if contract_type_id is not None:
            names = [d.name for d in by_type.get(contract_type_id, [])]
        else:
            width = max((len(v) for v in by_type.values()), default=0)
            names = [f"custom field {i}" for i in range(1, width + 1)]
        return cls(by_type, names, Q() if visible is None else visible)

    def header(self) -> list[str]:
        return [*CONTRACT_COLUMNS, *self.names]

    async def pages(self, where: Q, page_size: int = EXPORT_PAGE) -> AsyncIterator[list[list[str]]]:
        async for rows in keyset_pages(Contract, where, _SELECTED, page_size):
            ids = [row["id"] for row in rows]
            values = await customfields.values_for_objects(CustomFieldEntity.CONTRACT, ids)
            related = await visible_related(ids, self.visible)
            page = []
            for row in rows:
                own = values.get(row["id"], {})
                fields = self.definitions.get(row["contract_type_id"], [])
                custom = [own.get(d.id, "") for d in fields]
                custom += [""] * (len(self.names) - len(custom))
                page.append(
                    [
                        row["reference"],
                        cell(row["number"]),
                        row["description"],
                        cell(row["date_begin"]),
                        cell(row["date_end"]),
                        str(row["company_id"]),
                        cell(row["sla_id"]),
                        cell(row["group_id"]),
                        cell(row["private"]),
                        STATUS_OF_CODE[str(getattr(row["status"], "value", row["status"]))],
                        cell(row["contract_type_id"]),
                        " ".join(str(i) for i in related.get(row["id"], [])),
                        cell(row["owner__username"]),
                        row["company__name"],
                        *custom[: len(self.names)],
                    ]
                )
            yield page
