"""The contracts CSV import (SPEC §5): CONTRACT_COLUMNS, then the custom fields of each
row's contract type, positionally.

Contracts are matched by (company, name); a row names its company by name or, with the
name empty, by id. The rules mirror `services.contracts`; related contracts are
compared and changed only among those the importer can see."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from tortoise import timezone
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

from crm_graphql.errors import ErrorCode
from crm_graphql.models.activities import Activity
from crm_graphql.models.companies import Company
from crm_graphql.models.contracts import Contract, ContractLink, ContractType
from crm_graphql.models.customfields import CustomField, CustomFieldEntity
from crm_graphql.services import contracts as contract_rules
from crm_graphql.services import customfields
from crm_graphql.services.activities import touch_companies, touch_last_update
from crm_graphql.services.csvio import header_problem
from crm_graphql.services.exports.contracts import (
    CONTRACT_COLUMNS,
    contract_fields,
    visible_related,
)
from crm_graphql.services.imports.base import Importer
from crm_graphql.services.imports.contract_rows import parse_contract
from crm_graphql.services.imports.results import ContractAccess, ImportResult
from crm_graphql.services.imports.rows import Plan, Row, created_ids
from crm_graphql.services.imports.sql import fitting, insert_rows, update_rows
from crm_graphql.services.orm import column_values

_CONTRACT_WRITTEN = contract_rules.WRITTEN


class ContractImport(Importer):
    entity = CustomFieldEntity.CONTRACT
    columns = CONTRACT_COLUMNS
    object_type = "Contract"

    def __init__(self, access: ContractAccess, request_id: str) -> None:
        super().__init__(access.company, request_id)
        self.contract_access = access
        self.by_type: dict[int, list[CustomField]] = {}
        self.extra = 0
        self.keys: dict[tuple[str, str], int] = {}  # (company, reference) -> first line
        self.numbers: dict[str, int] = {}
        self.types: set[int] | None = None

    async def header(self) -> list[str]:
        self.definitions, self.by_type = await contract_fields()
        return list(CONTRACT_COLUMNS)

    async def check_header(self, cells: list[str]) -> str | None:
        """The fixed columns, exactly; any number of custom field columns after them."""
        await self.header()
        problem = header_problem(cells[: len(CONTRACT_COLUMNS)], list(CONTRACT_COLUMNS))
        if problem:
            return problem
        self.extra = len(cells) - len(CONTRACT_COLUMNS)
        return None

    def width(self) -> int:
        return len(CONTRACT_COLUMNS) + self.extra

    def row(self, line: int, values: list[str]) -> Row:
        row = self.parse(line, values[: len(CONTRACT_COLUMNS)], {})
        row.extra["cells"] = values[len(CONTRACT_COLUMNS) :]
        return row

    def parse(self, line: int, cells: list[str], custom: dict[int, str | None]) -> Row:
        row = parse_contract(line, cells)
        data = row.data
        if data.get("number"):
            first = self.numbers.setdefault(data["number"], line)
            if first != line:
                row.fail(
                    "contract number", ErrorCode.UNIQUE, f"The number is already on line {first}."
                )
        if not row.extra["company"] and data.get("_company_id") is None:
            row.fail("company", ErrorCode.REQUIRED, "A contract needs a company (name or id).")
        return row

    async def validate(self, rows: list[Row], result: ImportResult) -> Plan:
        access = self.access
        if self.types is None:
            self.types = set(await column_values(ContractType.all(), "id"))
        names = {r.extra["company"] for r in rows if r.extra["company"]}
        ids = {
            r.data["_company_id"]
            for r in rows
            if not r.extra["company"] and r.data.get("_company_id")
        }
        companies: dict[Any, dict[str, Any]] = {}
        if names or ids:
            known = fitting(Company, "name", names)
            for company_row in await Company.filter(Q(name__in=known) | Q(id__in=ids)).values(
                "id", "name", "manager_id"
            ):
                companies[company_row["name"]] = company_row
                companies[company_row["id"]] = company_row
        visible = await self.visible_companies(c["id"] for c in companies.values())
        # Resolve each row's company; then the existing contracts by (company, reference).
        for row in rows:
            key = row.extra["company"] or row.data.get("_company_id")
            company = companies.get(key) if key is not None else None
            if key is None:
                continue
            if company is None or company["id"] not in visible:
                shown = row.extra["company"] or row.data.get("_company_id")
                column = "company" if row.extra["company"] else "id company"
                row.fail(column, ErrorCode.NOT_FOUND, f"No company '{shown}' (visible to you).")
                continue
            row.data["company_id"] = company["id"]
            if not access.can_edit(SimpleNamespace(**company)):
                row.extra["read_only"] = ("company", "You may not edit this company's contracts.")
            if row.data.get("reference"):
                pair = (str(company["id"]), row.data["reference"])
                first = self.keys.setdefault(pair, row.line)
                if first != row.line:
                    row.fail(
                        "name",
                        ErrorCode.UNIQUE,
                        f"This company and name are already on line {first}.",
                    )
        pairs = {
            (r.data["company_id"], r.data["reference"]) for r in rows if r.data.get("company_id")
        }
        existing: dict[tuple[int | None, str | None], dict[str, Any]] = {}
        if pairs:
            found = await Contract.filter(
                company_id__in={c for c, _ in pairs},
                reference__in=fitting(Contract, "reference", {r for _, r in pairs}),
            ).values("id", *_CONTRACT_WRITTEN)
            shown = (
                set(
                    await column_values(
                        Contract.filter(
                            self.contract_access.visible_contracts, id__in=[c["id"] for c in found]
                        ),
                        "id",
                    )
                )
                if found
                else set()
            )
            for contract in found:
                contract["visible"] = contract["id"] in shown
                contract["status"] = str(getattr(contract["status"], "value", contract["status"]))
                existing[(contract["company_id"], contract["reference"])] = contract
        if existing:
            # Only the links the importer can see count (and change): as the export.
            related = await visible_related(
                [c["id"] for c in existing.values()], self.contract_access.visible_contracts
            )
            for contract in existing.values():
                contract["related"] = related.get(contract["id"], [])
        numbers = [r.data["number"] for r in rows if r.data.get("number")]
        number_owner: dict[str, int] = {}
        if numbers:
            number_owner = {
                n: i
                for i, n in await Contract.filter(number__in=numbers).values_list("id", "number")
            }
        wanted_related = {i for r in rows for i in r.data.get("related", [])}
        related_ok: set[int] = set()
        if wanted_related:
            related_ok = set(
                await column_values(
                    Contract.filter(self.contract_access.visible_contracts, id__in=wanted_related),
                    "id",
                )
            )
        await self.load_users({r.extra["manager"] for r in rows if r.extra["manager"]})
        targets = [c["id"] for c in existing.values() if c["visible"]]
        current_custom = (
            await customfields.values_for_objects(self.entity, targets) if targets else {}
        )

        plan = Plan()
        for row in rows:
            data = row.data
            target = existing.get((data.get("company_id"), data.get("reference")))
            if target is not None and not target["visible"]:
                row.fail(
                    "name", ErrorCode.UNIQUE, "Another contract of this company has this name."
                )
                target = None
            self._resolve(row, target, number_owner, related_ok)
            current = current_custom.get(target["id"], {}) if target else {}
            row.extra["custom"] = self._custom(row, target, current)
            data.pop("_company_id", None)
            if "company_id" not in data:
                data["company_id"] = None
            self.classify(row, target, current, result, plan, (*_CONTRACT_WRITTEN, "related"))
        return plan

    def _resolve(
        self,
        row: Row,
        target: dict[str, Any] | None,
        number_owner: dict[str, int],
        related_ok: set[int],
    ) -> None:
        access, data = self.access, row.data
        if target is None and not access.can_create:
            row.fail("name", ErrorCode.FORBIDDEN, "You may not create contracts.")
        type_id = data.get("contract_type_id")
        unchanged_type = target is not None and type_id == target["contract_type_id"]
        if type_id is not None and not unchanged_type and type_id not in (self.types or ()):
            row.fail(
                "id contract type", ErrorCode.NOT_FOUND, f"No contract type with id {type_id}."
            )
        number = data.get("number")
        if number:
            owner = number_owner.get(number)
            if owner is not None and (target is None or owner != target["id"]):
                row.fail("contract number", ErrorCode.UNIQUE, "Another contract has this number.")
        related = data.get("related", [])
        unchanged_related = target is not None and related == target.get("related", [])
        if not unchanged_related:
            missing = [str(i) for i in related if i not in related_ok]
            if target is not None and target["id"] in related:
                row.fail(
                    "related contract", ErrorCode.INVALID, "A contract cannot be related to itself."
                )
            elif missing:
                row.fail(
                    "related contract", ErrorCode.NOT_FOUND, f"No contract {', '.join(missing)}."
                )
        self.resolve_manager(row, target, "owner_id")
        data.setdefault("owner_id", None)

    def _custom(
        self, row: Row, target: dict[str, Any] | None, current: dict[int, str]
    ) -> dict[int, str]:
        """The row's custom cells, positionally onto its type's fields."""
        cells = row.extra["cells"]
        fields = self.by_type.get(row.data.get("contract_type_id") or 0, [])
        if any(c.strip() for c in cells[len(fields) :]):
            row.fail(
                None,
                ErrorCode.INVALID,
                f"The contract type has {len(fields)} custom fields; more values were given.",
            )
        if len(fields) > len(cells):
            row.fail(
                None,
                ErrorCode.INVALID,
                f"The contract type has {len(fields)} custom fields; "
                f"the file has {len(cells)} custom field columns.",
            )
            return {}
        changes = {d.id: (v if v.strip() else None) for d, v in zip(fields, cells, strict=False)}
        same_type = target is not None and target["contract_type_id"] == row.data.get(
            "contract_type_id"
        )
        return self.custom_values(
            row, fields, current if same_type else {}, changes, creating=not same_type
        )

    async def write(self, plan: Plan, result: ImportResult, conn: BaseDBAsyncClient) -> None:
        now = timezone.now()
        await update_rows(conn, Contract, _CONTRACT_WRITTEN, plan.updates, now)
        ids: dict[int, int] = {}
        if plan.creates:
            await insert_rows(
                conn,
                Contract,
                [{k: row.data[k] for k in _CONTRACT_WRITTEN} for row in plan.creates],
            )
            ids = await created_ids(Contract, plan.creates, ("company_id", "reference"))
        # Related contracts of the rows whose (visible) set changed: links to contracts
        # the importer cannot see stay; each pair is one row, lower id first.
        changes = [
            (current["id"], set(current.get("related", [])), set(row.data["related"]))
            for row, current, _, _ in plan.updates
            if row.data["related"] != current.get("related", [])
        ]
        changes += [(ids[row.line], set(), set(row.data["related"])) for row in plan.creates]
        added: set[tuple[int, int]] = set()
        for cid, old, new in changes:
            if old - new:
                await ContractLink.filter(
                    Q(contract_id=cid, related_id__in=old - new)
                    | Q(related_id=cid, contract_id__in=old - new)
                ).delete()
            added |= {(min(cid, o), max(cid, o)) for o in new - old}
        if added:
            present = set(
                await ContractLink.filter(
                    contract_id__in={a for a, _ in added}, related_id__in={b for _, b in added}
                ).values_list("contract_id", "related_id")
            )
            await insert_rows(
                conn,
                ContractLink,
                [{"contract_id": a, "related_id": b} for a, b in sorted(added - present)],
            )
        await self.write_custom(plan, ids, conn)
        await self.write_audit(plan, ids, [*_CONTRACT_WRITTEN, "related"], conn)
        # The automatic company activities, as contractCreate/contractUpdate add them.
        user = self.access.user
        done = [(row, "created") for row in plan.creates]
        done += [(row, "updated") for row, _, _, _ in plan.updates]
        activities = [
            {
                "company_id": row.data["company_id"],
                "contact_id": None,
                "author_id": user.id if user else None,
                "text": f"Contract {row.data['reference']} {verb} (import).",
            }
            for row, verb in done
        ]
        if activities:
            await insert_rows(conn, Activity, activities)
            touched = {a["company_id"] for a in activities}
            await touch_companies(touched, now)
            # Their contracts changed: so did the companies (SPEC §3). Rows match by
            # company and reference, so an import never moves a contract.
            await touch_last_update(touched, now)


# A contracts CSV: CONTRACT_COLUMNS, then the row type's custom fields.
import_contracts = ContractImport.import_file
