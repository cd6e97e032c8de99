"""The leads CSV export (SPEC §7 "CSV export"). Export only: leads come in through
leadCreate and the API 1.0 endpoint, not through files."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator

from tortoise.expressions import Q

from crm_graphql.models.companies import Company
from crm_graphql.models.customfields import CustomField, CustomFieldEntity
from crm_graphql.models.leads import Lead, LeadTagLink
from crm_graphql.services import customfields
from crm_graphql.services.exports.base import EXPORT_PAGE, cell, keyset_pages
from crm_graphql.services.leads import progress_names
from crm_graphql.services.setup import get_setup
from crm_graphql.values import cents_to_decimal

LEAD_COLUMNS = (
    "id",
    "full name",
    "email",
    "phone",
    "mobile",
    "position",
    "prospect company",
    "country",
    "language",
    "product",
    "lead type",
    "channel",
    "estimated sale",
    "currency",
    "close date",
    "progress",
    "progress name",
    "owner",
    "managing company",
    "tags",
    "duplicate",
    "created",
    "updated",
)
_SELECTED = (
    "full_name",
    "email",
    "phone",
    "mobile",
    "position",
    "prospect_company",
    "country",
    "language",
    "product",
    "lead_type__name",
    "channel",
    "estimated_sale_cents",
    "currency",
    "close_date",
    "progress",
    "owner__username",
    "company_id",
    "duplicate",
    "created_at",
    "updated_at",
)


class LeadExport:
    """Leads as CSV rows: LEAD_COLUMNS, then, for an export of one lead type, that
    type's custom fields named in the header. Tags are names joined by "; ". The
    managing company's name is given only when the viewer can see that company (a lead
    is also visible to its owner and, unmanaged, to every lead user). Four statements
    per page: the leads, their tags, the visible companies, the custom values."""

    def __init__(
        self, definitions: list[CustomField], progress: dict[int, str], visible_companies: Q
    ) -> None:
        self.definitions = definitions
        self.progress = progress
        self.visible_companies = visible_companies

    @classmethod
    async def load(cls, lead_type_id: int | None, visible_companies: Q) -> LeadExport:
        definitions = (
            await customfields.fields_for(CustomFieldEntity.LEAD, lead_type_id)
            if lead_type_id is not None
            else []
        )
        return cls(definitions, progress_names(await get_setup()), visible_companies)

    def header(self) -> list[str]:
        return [*LEAD_COLUMNS, *(d.name for d in self.definitions)]

    async def pages(self, where: Q, page_size: int = EXPORT_PAGE) -> AsyncIterator[list[list[str]]]:
        async for rows in keyset_pages(Lead, where, _SELECTED, page_size):
            ids = [row["id"] for row in rows]
            tags: dict[int, list[str]] = defaultdict(list)
            for link in (
                await LeadTagLink.filter(lead_id__in=ids)
                .order_by("lead_id", "tag__name")
                .values("lead_id", "tag__name")
            ):
                tags[link["lead_id"]].append(link["tag__name"])
            company_ids = {row["company_id"] for row in rows if row["company_id"] is not None}
            companies = (
                dict(
                    await Company.filter(self.visible_companies, id__in=company_ids).values_list(
                        "id", "name"
                    )
                )
                if company_ids
                else {}
            )
            values = (
                await customfields.values_for_objects(CustomFieldEntity.LEAD, ids)
                if self.definitions
                else {}
            )
            page = []
            for row in rows:
                own = values.get(row["id"], {})
                page.append(
                    [
                        str(row["id"]),
                        row["full_name"],
                        row["email"],
                        row["phone"],
                        row["mobile"],
                        row["position"],
                        row["prospect_company"],
                        row["country"],
                        row["language"],
                        row["product"],
                        cell(row["lead_type__name"]),
                        row["channel"],
                        str(cents_to_decimal(row["estimated_sale_cents"] or 0)),
                        row["currency"],
                        cell(row["close_date"]),
                        str(row["progress"]),
                        self.progress.get(row["progress"], str(row["progress"])),
                        cell(row["owner__username"]),
                        companies.get(row["company_id"], ""),
                        "; ".join(tags.get(row["id"], [])),
                        cell(row["duplicate"]),
                        cell(row["created_at"]),
                        cell(row["updated_at"]),
                        *(own.get(d.id, "") for d in self.definitions),
                    ]
                )
            yield page
