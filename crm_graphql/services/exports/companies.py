"""The companies CSV export (SPEC §3): the columns a companies file has."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from crm_graphql.models.companies import Company, CompanyBilling
from crm_graphql.models.customfields import CustomFieldEntity
from crm_graphql.services.exports.base import Export, cell
from crm_graphql.values import cents_to_decimal

COMPANY_COLUMNS = (
    "name",
    "address",
    "fiscal id",
    "country",
    "website",
    "comments",
    "id company role",
    "id parent",
    "manager",
    "last update",
    "payment conditions",
    "billing",
    "office phone",
    "general email",
)


# The company's own columns in file order (the file names the manager by username).
COMPANY_FIELDS = (
    "name",
    "address",
    "fiscal_id",
    "country",
    "website",
    "comments",
    "role_id",
    "parent_id",
    "manager_id",
    "payment_conditions",
    "office_phone",
    "general_email",
)


class CompanyExport(Export):
    """Columns: COMPANY_COLUMNS, then the company custom fields in field order."""

    model = Company
    entity = CustomFieldEntity.COMPANY
    columns = COMPANY_COLUMNS
    selected = (*COMPANY_FIELDS[:8], "manager__username", "last_update", *COMPANY_FIELDS[9:])
    _billing: dict[int, str]

    async def before_page(self, ids: list[int]) -> None:
        # Billing per currency, "1500.00 EUR; 10000.00 JPY" (informational: import
        # ignores it; currencies are never added).
        found: dict[int, list[str]] = defaultdict(list)
        rows = (
            await CompanyBilling.filter(company_id__in=ids)
            .order_by("company_id", "currency")
            .values_list("company_id", "currency", "cents")
        )
        for company_id, currency, cents in rows:
            found[company_id].append(f"{cents_to_decimal(cents)} {currency}")
        self._billing = {i: "; ".join(parts) for i, parts in found.items()}

    # Billing is a sum of invoices: empty for viewers without IR (import ignores it).
    show_billing = True

    def cells(self, row: dict[str, Any]) -> list[str]:
        cells = [cell(row[name]) for name in self.selected]
        cells.insert(11, self._billing.get(row["id"], "") if self.show_billing else "")
        return cells
