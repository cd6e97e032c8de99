"""The contacts CSV import (SPEC §4): CONTACT_COLUMNS, then the contact custom fields.

Contacts are matched by (company name, e-mail ignoring case); the rules mirror
`services.contacts`."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from tortoise import timezone
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Lower

from crm_graphql.errors import ErrorCode
from crm_graphql.models.companies import Company
from crm_graphql.models.contacts import Contact
from crm_graphql.models.customfields import CustomFieldEntity
from crm_graphql.services import contacts as contact_rules
from crm_graphql.services import customfields
from crm_graphql.services.exports.contacts import CONTACT_COLUMNS, CONTACT_FIELDS
from crm_graphql.services.imports.base import Importer
from crm_graphql.services.imports.cells import parse_bool
from crm_graphql.services.imports.results import Access, ImportResult
from crm_graphql.services.imports.rows import Plan, Row, created_ids
from crm_graphql.services.imports.sql import fitting, insert_rows, update_rows

_CONTACT_FIELD_COLUMNS = {
    "fullName": "full name",
    "email": "email",
    "phone": "phone",
    "mobile": "mobile",
    "position": "position",
    "description": "description",
}
_CONTACT_WRITTEN = ("company_id", *CONTACT_FIELDS)


class ContactImport(Importer):
    entity = CustomFieldEntity.CONTACT
    columns = CONTACT_COLUMNS
    object_type = "Contact"

    def __init__(self, access: Access, request_id: str) -> None:
        super().__init__(access, request_id)
        self.keys: dict[tuple[str, str], int] = {}  # (company, e-mail) -> first line

    def parse(self, line: int, cells: list[str], custom: dict[int, str | None]) -> Row:
        company, full_name, email, phone, mobile, position, description, disabled = cells
        data: dict[str, Any] = {
            "full_name": full_name,
            "email": email,
            "phone": phone,
            "mobile": mobile,
            "position": position,
            "description": description,
        }
        row = Row(line, data, custom, {"company": company.strip()})
        try:
            data["disabled"] = parse_bool(disabled)
        except ValueError:
            row.fail("disabled", ErrorCode.INVALID, "Use 1 or 0 (or true or false).")
        for problem in contact_rules.check(data):
            row.fail(_CONTACT_FIELD_COLUMNS.get(problem.field or ""), problem.code, problem.message)
        if not row.extra["company"]:
            row.fail("company", ErrorCode.REQUIRED, "A contact needs a company.")
        elif data["email"]:
            key = (row.extra["company"], data["email"].lower())
            first = self.keys.setdefault(key, line)
            if first != line:
                row.fail(
                    "email",
                    ErrorCode.UNIQUE,
                    f"This company and e-mail are already on line {first}.",
                )
        return row

    async def validate(self, rows: list[Row], result: ImportResult) -> Plan:
        access = self.access
        names = {r.extra["company"] for r in rows if r.extra["company"]}
        companies = {
            row["name"]: row
            for row in await Company.filter(name__in=fitting(Company, "name", names)).values(
                "id", "name", "manager_id"
            )
        }
        visible = await self.visible_companies(c["id"] for c in companies.values())
        emails = {r.data["email"].lower() for r in rows if r.data.get("email")}
        existing: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
        if visible and emails:
            found = (
                await Contact.annotate(email_lower=Lower("email"))
                .filter(company_id__in=list(visible), email_lower__in=list(emails))
                .values("id", "email_lower", *_CONTACT_WRITTEN)
            )
            for contact in found:
                existing[(contact["company_id"], contact.pop("email_lower"))].append(contact)
        current_custom: dict[int, dict[int, str]] = {}
        if self.definitions and existing:
            current_custom = await customfields.values_for_objects(
                self.entity, [c["id"] for group in existing.values() for c in group]
            )

        plan = Plan()
        for row in rows:
            target = None
            company = companies.get(row.extra["company"])
            if not row.extra["company"]:
                pass
            elif company is None or company["id"] not in visible:
                row.fail("company", ErrorCode.NOT_FOUND, f"No company '{row.extra['company']}'.")
            else:
                if not access.can_edit(SimpleNamespace(**company)):
                    # Refused only if the row changes something (see classify).
                    row.extra["read_only"] = (
                        "company",
                        "You may not edit this company's contacts.",
                    )
                row.data["company_id"] = company["id"]
                matches = existing.get((company["id"], row.data["email"].lower()), [])
                if len(matches) > 1:
                    row.fail(
                        "email",
                        ErrorCode.CONFLICT,
                        "Several contacts of this company have this e-mail: change them "
                        "through the API.",
                    )
                elif matches:
                    target = matches[0]
            current = current_custom.get(target["id"], {}) if target else {}
            row.extra["custom"] = self.check_custom(row, current, creating=target is None)
            self.classify(row, target, current, result, plan, _CONTACT_WRITTEN)
        return plan

    async def write(self, plan: Plan, result: ImportResult, conn: BaseDBAsyncClient) -> None:
        now = timezone.now()
        await update_rows(conn, Contact, _CONTACT_WRITTEN, plan.updates, now)
        ids: dict[int, int] = {}
        if plan.creates:
            before = await Contact.all().order_by("-id").limit(1).values_list("id", flat=True)
            await insert_rows(
                conn, Contact, [{k: row.data[k] for k in _CONTACT_WRITTEN} for row in plan.creates]
            )
            ids = await created_ids(
                Contact, plan.creates, ("company_id", "email"), id__gt=before[0] if before else 0
            )
        await self.write_custom(plan, ids, conn)
        await self.write_audit(plan, ids, list(_CONTACT_WRITTEN), conn)


# A contacts CSV: CONTACT_COLUMNS, then contact custom fields.
import_contacts = ContactImport.import_file
