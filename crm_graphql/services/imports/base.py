"""What every entity's importer has: the `Importer` a file's rows go through (parse a
row, validate a chunk with set-based queries, write it with bulk statements) and the
checks and writes the entities share (custom fields, managers, classification as
created, updated, unchanged or rejected, custom values and audit entries)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, BinaryIO

from tortoise.backends.base.client import BaseDBAsyncClient

from crm_graphql.errors import ErrorCode, PayloadErrors
from crm_graphql.models.audit import AuditEntry
from crm_graphql.models.companies import Company
from crm_graphql.models.customfields import CustomField, CustomFieldEntity, CustomFieldValue
from crm_graphql.models.events import EventAction, EventObjectType
from crm_graphql.models.users import User
from crm_graphql.services import audit, customfields, events
from crm_graphql.services.csvio import header_problem
from crm_graphql.services.csvio import restore as unescape
from crm_graphql.services.imports.cells import custom_problems
from crm_graphql.services.imports.driver import run
from crm_graphql.services.imports.results import Access, ImportResult, Progress, RowError
from crm_graphql.services.imports.rows import Plan, Row
from crm_graphql.services.imports.sql import fitting, insert_rows
from crm_graphql.services.orm import column_values


class Importer:
    """One file's import of `columns` (then `entity`'s custom fields) into `object_type`
    objects; subclasses parse, validate and write a chunk of rows."""

    entity: CustomFieldEntity
    columns: tuple[str, ...]
    object_type: str

    def __init__(self, access: Access, request_id: str) -> None:
        self.access = access
        self.request_id = request_id
        self.definitions: list[CustomField] = []
        # username -> (id, enabled), None when unknown; across the file.
        self.users: dict[str, tuple[int, bool] | None] = {}

    async def header(self) -> list[str]:
        self.definitions = await customfields.fields_for(self.entity)
        return [*self.columns, *(d.name for d in self.definitions)]

    async def check_header(self, cells: list[str]) -> str | None:
        return header_problem(cells, await self.header())

    def width(self) -> int:
        return len(self.columns) + len(self.definitions)

    def split(self, line: int, cells: list[str]) -> Row | RowError:
        if len(cells) != self.width():
            return RowError(
                line,
                None,
                ErrorCode.INVALID,
                f"Expected {self.width()} columns, found {len(cells)}.",
            )
        return self.row(line, [unescape(c) for c in cells])

    def row(self, line: int, values: list[str]) -> Row:
        """The row of a line of the right width (cells unescaped)."""
        custom = {
            d.id: (v if v.strip() else None)
            for d, v in zip(self.definitions, values[len(self.columns) :], strict=True)
        }
        return self.parse(line, values[: len(self.columns)], custom)

    def parse(self, line: int, cells: list[str], custom: dict[int, str | None]) -> Row:
        raise NotImplementedError

    async def validate(self, rows: list[Row], result: ImportResult) -> Plan:
        raise NotImplementedError

    async def write(self, plan: Plan, result: ImportResult, conn: BaseDBAsyncClient) -> None:
        raise NotImplementedError

    def check_custom(self, row: Row, current: dict[int, str], creating: bool) -> dict[int, str]:
        """The row's custom values as they will be stored (unset fields left out)."""
        return self.custom_values(row, self.definitions, current, row.custom, creating)

    @staticmethod
    def custom_values(
        row: Row,
        definitions: Sequence[CustomField],
        current: dict[int, str],
        changes: dict[int, str | None],
        creating: bool,
    ) -> dict[int, str]:
        """`changes` applied to `current` as the custom field rules allow (problems go
        to the row, and nothing is kept); unset fields left out."""
        try:
            values = customfields.validate_values(
                list(definitions), current, changes, creating=creating
            )
        except PayloadErrors as exc:
            row.problems.extend(custom_problems(exc, row.line))
            return {}
        return {fid: v for fid, v in values.items() if v is not None}

    async def visible_companies(self, ids: Iterable[int]) -> set[int]:
        """Which of these companies the importer can see."""
        wanted = list(ids)
        if not wanted:
            return set()
        return set(await column_values(Company.filter(self.access.visible, id__in=wanted), "id"))

    async def load_users(self, usernames: set[str]) -> None:
        """Fetch the users the rows name as manager that are not known yet."""
        missing = [u for u in usernames if u not in self.users]
        if not missing:
            return
        for username in missing:
            self.users[username] = None
        found = await User.filter(username__in=fitting(User, "username", missing)).values(
            "id", "username", "enabled"
        )
        for user in found:
            self.users[user["username"]] = (user["id"], user["enabled"])

    def resolve_manager(self, row: Row, target: dict[str, Any] | None, key: str) -> None:
        """Set `key` from the row's manager column (a username, `load_users` first). As the
        create mutations: empty is the importer on a new object and clears an existing
        one's; a disabled user only where already set. Left unset when refused."""
        username = row.extra["manager"]
        user_id = self.access.user.id if self.access.user else None
        if not username:
            row.data[key] = user_id if target is None else None
            return
        user = self.users.get(username)
        if user is None:
            row.fail("manager", ErrorCode.NOT_FOUND, f"No user '{username}'.")
        elif not user[1] and (target is None or target[key] != user[0]):
            row.fail("manager", ErrorCode.INVALID, f"The user '{username}' is disabled.")
        else:
            row.data[key] = user[0]

    def classify(
        self,
        row: Row,
        target: dict[str, Any] | None,
        current: dict[int, str],
        result: ImportResult,
        plan: Plan,
        written: Sequence[str],
    ) -> None:
        """Count the row as created, updated, unchanged or rejected, and plan it. A row
        identical to an object the importer may only view is unchanged, not an error:
        nothing is written, so an exported file always imports back."""
        custom_changed = row.extra["custom"] != current
        if (
            target is not None
            and not row.problems
            and not custom_changed
            and all(target[k] == row.data[k] for k in written)
        ):
            result.unchanged += 1
            return
        if row.extra.get("read_only"):
            column, message = row.extra["read_only"]
            row.fail(column, ErrorCode.FORBIDDEN, message)
        if row.problems:
            result.reject(row.line, row.problems)
        elif target is None:
            plan.creates.append(row)
            result.created += 1
        else:
            plan.updates.append((row, target, current, custom_changed))
            result.updated += 1

    async def write_custom(self, plan: Plan, ids: dict[int, int], conn: BaseDBAsyncClient) -> None:
        """Replace the custom values of updated rows whose values changed, and add those
        of created rows. `ids` maps a created row's line to its new id."""
        if not self.definitions:
            return
        field_ids = [d.id for d in self.definitions]
        changed = [(row, current) for row, current, _, custom in plan.updates if custom]
        if changed:
            await CustomFieldValue.filter(
                object_id__in=[current["id"] for _, current in changed], field_id__in=field_ids
            ).delete()
        rows = [
            {"field_id": fid, "object_id": current["id"], "value": value}
            for row, current in changed
            for fid, value in row.extra["custom"].items()
        ]
        rows += [
            {"field_id": fid, "object_id": ids[row.line], "value": value}
            for row in plan.creates
            for fid, value in row.extra["custom"].items()
        ]
        await insert_rows(conn, CustomFieldValue, rows)

    async def write_audit(
        self, plan: Plan, ids: dict[int, int], written: list[str], conn: BaseDBAsyncClient
    ) -> None:
        user = self.access.user
        entries = []
        names = {d.id: d.name for d in self.definitions}
        changed: list[tuple[int, EventAction, dict[str, Any], int | None]] = []

        def entry(action: str, object_id: int, changes: dict[str, Any]) -> dict[str, Any]:
            return {
                "user_id": user.id if user else None,
                "username": user.username if user else "",
                "action": action,
                "object_type": self.object_type,
                "object_id": str(object_id),
                "changes": changes,
                "request_id": self.request_id,
            }

        for row in plan.creates:
            snapshot: dict[str, Any] = {k: audit.json_value(row.data.get(k)) for k in written}
            if row.extra["custom"]:
                snapshot["custom_fields"] = {names[f]: v for f, v in row.extra["custom"].items()}
            changed.append(
                (
                    ids[row.line],
                    EventAction.CREATE,
                    events.created(snapshot),
                    self._company(row, None),
                )
            )
            snapshot["source"] = "import"
            entries.append(entry(audit.CREATE, ids[row.line], snapshot))
        for row, current, current_custom, custom_changed in plan.updates:
            changes: dict[str, Any] = {
                k: [audit.json_value(current[k]), audit.json_value(row.data[k])]
                for k in written
                if current[k] != row.data[k]
            }
            if custom_changed:
                new = row.extra["custom"]
                changes["custom_fields"] = {
                    names[f]: [current_custom.get(f), new.get(f)]
                    for f in sorted(set(current_custom) | set(new))
                    if current_custom.get(f) != new.get(f)
                }
            if changes:
                company = self._company(row, current)
                changed.append((current["id"], EventAction.UPDATE, dict(changes), company))
            changes["source"] = "import"
            entries.append(entry(audit.UPDATE, current["id"], changes))
        await insert_rows(conn, AuditEntry, entries)
        kind = EventObjectType(self.object_type.upper())
        await events.record_many(conn, kind, changed, user.id if user else None)

    def _company(self, row: Row, current: dict[str, Any] | None) -> int | None:
        """The company of an imported row (the company itself for a company row)."""
        if self.object_type == "Company":
            return current["id"] if current else None
        value = row.data.get("company_id") or (current or {}).get("company_id")
        return int(value) if value is not None else None

    @classmethod
    async def import_file(
        cls,
        stream: BinaryIO,
        access: Any,
        *,
        dry_run: bool = False,
        partial: bool = False,
        request_id: str = "",
        file_name: str = "",
        progress: Progress | None = None,
    ) -> ImportResult:
        """Import the CSV `stream` with the rights `access` gives (the entry point of the
        import mutations and `crm-graphql import`)."""
        return await run(
            cls(access, request_id),
            stream,
            dry_run=dry_run,
            partial=partial,
            file_name=file_name,
            progress=progress,
        )
