"""The companies CSV import (SPEC §3): COMPANY_COLUMNS, then the company custom fields.

Companies are matched by name, ignoring case: a new name creates, a known name updates
(when the importer may edit that company, writing the file's spelling). The rules
mirror `services.companies` (create, update, re-parent)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from tortoise import timezone
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Lower

from crm_graphql.errors import ErrorCode
from crm_graphql.models.companies import Company, CompanyRole
from crm_graphql.models.customfields import CustomFieldEntity
from crm_graphql.services import companies as company_rules
from crm_graphql.services import customfields
from crm_graphql.services.exports.companies import COMPANY_COLUMNS, COMPANY_FIELDS
from crm_graphql.services.imports.base import Importer
from crm_graphql.services.imports.results import Access, ImportResult
from crm_graphql.services.imports.rows import Plan, Row
from crm_graphql.services.imports.sql import fitting, insert_rows, update_rows
from crm_graphql.services.orm import column_values

# Error fields of the create/update rules (camelCase) -> the file's column names.
_COMPANY_FIELD_COLUMNS = {
    "name": "name",
    "address": "address",
    "fiscalId": "fiscal id",
    "country": "country",
    "website": "website",
    "comments": "comments",
    "roleId": "id company role",
    "parentId": "id parent",
    "managerId": "manager",
    "paymentConditions": "payment conditions",
    "officePhone": "office phone",
    "generalEmail": "general email",
}
# Company columns an import sets (in this order in the UPDATE statement).
_COMPANY_WRITTEN = COMPANY_FIELDS


class CompanyImport(Importer):
    entity = CustomFieldEntity.COMPANY
    columns = COMPANY_COLUMNS
    object_type = "Company"

    def __init__(self, access: Access, request_id: str) -> None:
        super().__init__(access, request_id)
        self.names: dict[str, int] = {}  # name -> first line, across the file
        self.fiscal_ids: dict[str, int] = {}
        self.roles: set[int] | None = None

    def parse(self, line: int, cells: list[str], custom: dict[int, str | None]) -> Row:
        (
            name,
            address,
            fiscal_id,
            country,
            website,
            comments,
            role,
            parent,
            manager,
            _last_update,
            payment,
            _billing,
            office_phone,
            general_email,
        ) = cells
        data: dict[str, Any] = {
            "name": name,
            "address": address,
            "fiscal_id": fiscal_id,
            "country": country,
            "website": website,
            "comments": comments,
            "office_phone": office_phone,
            "general_email": general_email,
        }
        row = Row(line, data, custom, {"manager": manager.strip()})
        row.read_ids(("id company role", "role_id", role), ("id parent", "parent_id", parent))
        payment = payment.strip()
        if not payment:
            data["payment_conditions"] = 30
        elif payment.isascii() and payment.lstrip("-").isdigit() and len(payment) < 10:
            data["payment_conditions"] = int(payment)
        else:
            row.fail("payment conditions", ErrorCode.INVALID, "Days between 0 and 3650.")
        for problem in company_rules._clean(data):
            row.fail(_COMPANY_FIELD_COLUMNS.get(problem.field or ""), problem.code, problem.message)
        if data["name"]:
            first = self.names.setdefault(data["name"].lower(), line)
            if first != line:
                row.fail(
                    "name", ErrorCode.UNIQUE, f"The name is already on line {first} of the file."
                )
        if data["fiscal_id"]:
            first = self.fiscal_ids.setdefault(data["fiscal_id"], line)
            if first != line:
                row.fail(
                    "fiscal id", ErrorCode.UNIQUE, f"The fiscal id is already on line {first}."
                )
        return row

    async def validate(self, rows: list[Row], result: ImportResult) -> Plan:
        access = self.access
        if self.roles is None:
            self.roles = set(await column_values(CompanyRole.all(), "id"))
        # Names are unique ignoring case: a row updates the company of the same name in
        # any case (and writes the file's spelling).
        names = [r.data["name"].lower() for r in rows if r.data.get("name")]
        existing = {
            row.pop("name_lower"): row
            for row in await Company.annotate(name_lower=Lower("name"))
            .filter(name_lower__in=fitting(Company, "name", names))
            .values("id", "path", "name_lower", *_COMPANY_WRITTEN)
        }
        visible = await self.visible_companies(e["id"] for e in existing.values())
        parent_ids = {r.data["parent_id"] for r in rows if r.data.get("parent_id")}
        parents: dict[int, str] = {}
        if parent_ids:
            parents = dict(
                await Company.filter(access.visible, id__in=parent_ids).values_list("id", "path")
            )
        fiscal_ids = [r.data["fiscal_id"] for r in rows if r.data.get("fiscal_id")]
        fiscal_owner: dict[str, int] = {}
        if fiscal_ids:
            fiscal_owner = {
                f: i
                for i, f in await Company.filter(
                    fiscal_id__in=fitting(Company, "fiscal_id", fiscal_ids)
                ).values_list("id", "fiscal_id")
            }
        await self.load_users({r.extra["manager"] for r in rows if r.extra["manager"]})
        current_custom: dict[int, dict[int, str]] = {}
        if self.definitions and visible:
            current_custom = await customfields.values_for_objects(self.entity, list(visible))

        plan = Plan()
        for row in rows:
            self._resolve(row, existing, visible, parents, fiscal_owner)
            target = existing.get(row.data["name"].lower())
            known = target is not None and target["id"] in visible
            current = current_custom.get(target["id"], {}) if known and target else {}
            row.extra["custom"] = self.check_custom(row, current, creating=target is None)
            self.classify(row, target, current, result, plan, _COMPANY_WRITTEN)
        return plan

    def _resolve(
        self,
        row: Row,
        existing: dict[str, dict[str, Any]],
        visible: set[int],
        parents: dict[int, str],
        fiscal_owner: dict[str, int],
    ) -> None:
        """Check the row's references and the importer's rights; fill manager_id."""
        access, data = self.access, row.data
        target = existing.get(data.get("name", "").lower())
        if target is not None:
            if target["id"] not in visible:
                row.fail("name", ErrorCode.UNIQUE, "Another company has this name.")
                return
            if not access.can_edit(SimpleNamespace(**target)):
                # Refused only if the row changes something (see classify).
                row.extra["read_only"] = ("name", "You may not edit this company.")
        elif not access.can_create:
            row.fail("name", ErrorCode.FORBIDDEN, "You may not create companies.")
            return
        # As companyUpdate checks only the fields it is sent, an update checks only the
        # references it changes: the unchanged parent of a company may be invisible.
        role_id = data.get("role_id")
        unchanged_role = target is not None and role_id == target["role_id"]
        if role_id is not None and not unchanged_role and role_id not in (self.roles or ()):
            row.fail("id company role", ErrorCode.NOT_FOUND, f"No company role with id {role_id}.")
        parent_id = data.get("parent_id")
        unchanged_parent = target is not None and parent_id == target["parent_id"]
        if parent_id is not None and not unchanged_parent:
            path = parents.get(parent_id)
            if path is None:
                row.fail(
                    "id parent",
                    ErrorCode.NOT_FOUND,
                    f"No company with id {parent_id} (visible to you).",
                )
            elif target is not None and (
                parent_id == target["id"] or path.startswith(target["path"])
            ):
                row.fail(
                    "id parent",
                    ErrorCode.INVALID,
                    "A company cannot be its own parent or ancestor.",
                )
        self.resolve_manager(row, target, "manager_id")
        if (
            target is not None
            and "manager_id" in data
            and data["manager_id"] != target["manager_id"]
            and not access.can_change_manager
        ):
            row.fail("manager", ErrorCode.FORBIDDEN, "Changing the manager needs CM.")
        fiscal_id = data.get("fiscal_id")
        if fiscal_id:
            owner = fiscal_owner.get(fiscal_id)
            if owner is not None and (target is None or owner != target["id"]):
                row.fail("fiscal id", ErrorCode.UNIQUE, "Another company has this fiscal id.")

    async def write(self, plan: Plan, result: ImportResult, conn: BaseDBAsyncClient) -> None:
        now = timezone.now()
        # Moves first, one at a time against fresh paths: two rows of one chunk could
        # otherwise make a cycle that neither check saw.
        kept = []
        for item in plan.updates:
            row, current, _, _ = item
            if row.data["parent_id"] != current["parent_id"] and not await self._move(row, current):
                result.updated -= 1
                result.reject(row.line, row.problems)
                continue
            kept.append(item)
        plan.updates = kept
        await update_rows(conn, Company, _COMPANY_WRITTEN, plan.updates, now)
        ids: dict[int, int] = {}
        if plan.creates:
            await insert_rows(
                conn, Company, [{k: row.data[k] for k in _COMPANY_WRITTEN} for row in plan.creates]
            )
            by_name = dict(
                await Company.filter(
                    name__in=[row.data["name"] for row in plan.creates]
                ).values_list("name", "id")
            )
            ids = {row.line: by_name[row.data["name"]] for row in plan.creates}
            new_ids = ",".join(str(int(i)) for i in ids.values())
            # Every new company's path is its parent's path plus its id (a parent is
            # never created by the same chunk: its id had to exist already).
            await conn.execute_query(
                "UPDATE companies SET path = COALESCE((SELECT p.path FROM companies p "  # noqa: S608  (ids are ints)
                "WHERE p.id = companies.parent_id), '/') || CAST(id AS VARCHAR(12)) || '/' "
                f"WHERE id IN ({new_ids})"
            )
        await self.write_custom(plan, ids, conn)
        await self.write_audit(plan, ids, list(_COMPANY_WRITTEN), conn)

    async def _move(self, row: Row, current: dict[str, Any]) -> bool:
        """Re-parent one company and its subtree, checked against the current tree."""
        company = await Company.filter(id=current["id"]).only("id", "path").first()
        parent_id = row.data["parent_id"]
        parent_path = "/"
        if parent_id is not None:
            found = await column_values(Company.filter(id=parent_id), "path")
            if not found or company is None or found[0].startswith(company.path):
                row.fail(
                    "id parent",
                    ErrorCode.INVALID,
                    "A company cannot be its own parent or ancestor.",
                )
                return False
            parent_path = found[0]
        if company is not None:
            await company_rules._reparent(company, f"{parent_path}{company.id}/")
        return True


# A companies CSV: COMPANY_COLUMNS, then company custom fields.
import_companies = CompanyImport.import_file
