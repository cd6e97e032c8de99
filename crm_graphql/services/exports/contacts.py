"""The contacts CSV export (SPEC §4): the columns a contacts file has."""

from __future__ import annotations

from typing import Any

from crm_graphql.models.contacts import Contact
from crm_graphql.models.customfields import CustomFieldEntity
from crm_graphql.services.exports.base import Export, cell

CONTACT_COLUMNS = (
    "company",
    "full name",
    "email",
    "phone",
    "mobile",
    "position",
    "description",
    "disabled",
)


# The contact's own columns in file order, after its company.
CONTACT_FIELDS = ("full_name", "email", "phone", "mobile", "position", "description", "disabled")


class ContactExport(Export):
    """Columns: CONTACT_COLUMNS (company name first), then contact custom fields."""

    model = Contact
    entity = CustomFieldEntity.CONTACT
    columns = CONTACT_COLUMNS
    selected = ("company__name", *CONTACT_FIELDS)

    def cells(self, row: dict[str, Any]) -> list[str]:
        return [cell(row[name]) for name in self.selected]
