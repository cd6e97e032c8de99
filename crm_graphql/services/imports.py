"""CSV export and import of companies, contacts and contracts, and export of leads
(SPEC §3, §4, §5, §7, §9).

Export: a header, then the rows in id order, fetched a keyset page at a time, so memory
stays flat whatever the number of rows. The caller passes the SQL condition (the access
rule and the client's filter); `fixed columns + one column per custom field`.

Import: the file is streamed and handled in chunks of `CHUNK` rows. Each chunk is
validated with a handful of set-based queries (existing rows by key, parents, managers,
fiscal ids, current custom values), then written with bulk statements, inside one
transaction for the whole file:

- companies are matched by name: a new name creates, a known name updates (when the
  importer may edit that company), identical values change nothing, so an exported
  file imports back as a no-op;
- contacts are matched by (company, e-mail, ignoring case);
- without `partial` nothing is written unless every row is valid; with it, good rows
  are written and bad ones reported; `dry_run` writes nothing at all;
- each bad row is reported with its line (the header is line 1) and column;
- created and updated objects get an audit entry each (with their custom field
  values), and the import one summary entry.

The rules mirror the create/update services (`services.companies`, `services.contacts`,
`services.customfields`). Services do not import the permission layer, so the caller
passes an `Access` built from it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any, BinaryIO

from tortoise import timezone
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.fields import JSONField
from tortoise.functions import Lower
from tortoise.models import Model
from tortoise.transactions import in_transaction

from crm_graphql.errors import FieldError, PayloadErrors
from crm_graphql.ids import id_number
from crm_graphql.models.activities import Activity
from crm_graphql.models.audit import AuditEntry
from crm_graphql.models.companies import Company, CompanyBilling, CompanyRole
from crm_graphql.models.contacts import Contact
from crm_graphql.models.contracts import Contract, ContractLink, ContractType
from crm_graphql.models.customfields import CustomField, CustomFieldEntity, CustomFieldValue
from crm_graphql.models.leads import Lead, LeadTagLink
from crm_graphql.models.users import User
from crm_graphql.services import audit, customfields
from crm_graphql.services import companies as company_rules
from crm_graphql.services import contacts as contact_rules
from crm_graphql.services import contracts as contract_rules
from crm_graphql.services.activities import touch_companies, touch_last_update
from crm_graphql.services.csvio import CsvFileError, check_encoding, header_problem, read_rows
from crm_graphql.services.csvio import restore as unescape
from crm_graphql.services.leads import progress_names
from crm_graphql.services.orm import column_values
from crm_graphql.services.setup import get_setup
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
CHUNK = 1000
EXPORT_PAGE = 1000
# Row errors kept in the result; the counts stay exact past it.
MAX_ROW_ERRORS = 10_000
IMPORT = "IMPORT"

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
_CONTACT_FIELD_COLUMNS = {
    "fullName": "full name",
    "email": "email",
    "phone": "phone",
    "mobile": "mobile",
    "position": "position",
    "description": "description",
}
# Company columns an import sets (in this order in the UPDATE statement).
_COMPANY_WRITTEN = (
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
_CONTACT_WRITTEN = (
    "company_id",
    "full_name",
    "email",
    "phone",
    "mobile",
    "position",
    "description",
    "disabled",
)
_TRUE = {"1", "true", "yes", "y", "on"}
_FALSE = {"0", "false", "no", "n", "off", ""}


@dataclass(frozen=True)
class Access:
    """What the importer may do, built by the caller from the permission rules.

    `can_edit` receives a visible company as an object with `id` and `manager_id`."""

    user: User | None  # the actor written to the audit log; None is the system
    visible: Q
    can_edit: Callable[[Any], bool]
    can_create: bool
    can_change_manager: bool


@dataclass
class RowError:
    line: int
    field: str | None
    code: str
    message: str


@dataclass
class ImportResult:
    dry_run: bool = False
    partial: bool = False
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    written: bool = False
    row_errors: list[RowError] = field(default_factory=list)
    row_errors_truncated: bool = False
    errors: list[FieldError] = field(default_factory=list)  # the whole file's

    def reject(self, line: int, problems: Sequence[RowError]) -> None:
        self.rejected += 1
        for problem in problems:
            if len(self.row_errors) >= MAX_ROW_ERRORS:
                self.row_errors_truncated = True
                return
            self.row_errors.append(problem)

    def counts(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
        }


Progress = Callable[[int, int], None]  # (rows read, bytes read)


# ---------------------------------------------------------------------------- export


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds")
    return str(value)


class _Export:
    model: type[Company] | type[Contact]
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
        last = 0
        while True:
            rows = (
                await self.model.filter(where, id__gt=last)
                .order_by("id")
                .limit(page_size)
                .values("id", *self.selected)
            )
            if not rows:
                return
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
            if len(rows) < page_size:
                return
            last = ids[-1]


class CompanyExport(_Export):
    """Columns: COMPANY_COLUMNS, then the company custom fields in field order."""

    model = Company
    entity = CustomFieldEntity.COMPANY
    columns = COMPANY_COLUMNS
    selected = (
        "name",
        "address",
        "fiscal_id",
        "country",
        "website",
        "comments",
        "role_id",
        "parent_id",
        "manager__username",
        "last_update",
        "payment_conditions",
        "office_phone",
        "general_email",
    )
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
        cells = [_cell(row[name]) for name in self.selected]
        cells.insert(11, self._billing.get(row["id"], "") if self.show_billing else "")
        return cells


class ContactExport(_Export):
    """Columns: CONTACT_COLUMNS (company name first), then contact custom fields."""

    model = Contact
    entity = CustomFieldEntity.CONTACT
    columns = CONTACT_COLUMNS
    selected = (
        "company__name",
        "full_name",
        "email",
        "phone",
        "mobile",
        "position",
        "description",
        "disabled",
    )

    def cells(self, row: dict[str, Any]) -> list[str]:
        return [_cell(row[name]) for name in self.selected]


# ---------------------------------------------------------------------------- import


class _Rollback(Exception):
    """Leaves the import's transaction without writing anything."""


def _placeholder(connection: BaseDBAsyncClient) -> Callable[[int], str]:
    if connection.capabilities.dialect == "postgres":
        return lambda n: f"${n}"
    return lambda n: "?"


def _update_sql(connection: BaseDBAsyncClient, table: str, columns: Sequence[str]) -> str:
    """UPDATE of `columns` plus the change stamp and version, by id, for executemany."""
    mark = _placeholder(connection)
    stamp = "last_update" if table == Company._meta.db_table else "updated_at"
    sets = [f"{c} = {mark(i)}" for i, c in enumerate((*columns, stamp), start=1)]
    where = mark(len(columns) + 2)
    return f"UPDATE {table} SET {', '.join(sets)}, version = version + 1 WHERE id = {where}"  # noqa: S608  (names are ours)


async def _update_rows(
    conn: BaseDBAsyncClient,
    model: type[Model],
    columns: Sequence[str],
    updates: Sequence[tuple[Any, ...]],
    now: Any,
) -> None:
    """Write the planned updates (row, current, ...) of `model`: one executemany."""
    if updates:
        await _execute_many(
            conn,
            _update_sql(conn, model._meta.db_table, columns),
            [[*(row.data[k] for k in columns), now, current["id"]] for row, current, *_ in updates],
        )


async def _insert(conn: BaseDBAsyncClient, model: type[Model], rows: list[dict[str, Any]]) -> None:
    """INSERT `rows` (dicts with the same keys) with one executemany. Columns the rows
    leave out get the model's Python-side defaults, as `Model(...)` would; building a
    model instance per row would cost more than the whole statement."""
    if not rows:
        return
    meta = model._meta
    now = timezone.now()
    defaults: dict[str, Any] = {}
    for name in meta.fields_db_projection:
        column = meta.fields_map[name]
        if column.pk and column.generated:
            continue
        if getattr(column, "auto_now", False) or getattr(column, "auto_now_add", False):
            defaults[name] = now
        elif column.default is not None:
            defaults[name] = column.default() if callable(column.default) else column.default
    names = list({**defaults, **rows[0]})
    encoded = [
        (i, meta.fields_map[n])
        for i, n in enumerate(names)
        if isinstance(meta.fields_map[n], JSONField)
    ]
    mark = _placeholder(conn)
    columns = ", ".join(meta.fields_db_projection[n] for n in names)
    marks = ", ".join(mark(i) for i in range(1, len(names) + 1))
    values = []
    for row in rows:
        merged = {**defaults, **row}
        line = [merged[n] for n in names]
        for i, column in encoded:
            line[i] = column.to_db_value(line[i], model)
        values.append(line)
    await _execute_many(conn, f"INSERT INTO {meta.db_table} ({columns}) VALUES ({marks})", values)  # noqa: S608  (names are the model's)


async def _plan_cache(conn: BaseDBAsyncClient, mode: str) -> None:
    """PostgreSQL: the chunk lookups are prepared statements with 1,000-item IN lists.
    After five runs PostgreSQL may switch one to a generic plan made while the table was
    small (a sequential scan) and keep it while the import grows the table (40 times
    slower at 100,000 rows). The import's transaction uses custom plans, except around
    an executemany, whose every row would otherwise be planned again."""
    if conn.capabilities.dialect == "postgres":
        await conn.execute_script(f"SET LOCAL plan_cache_mode = {mode}")


async def _execute_many(conn: BaseDBAsyncClient, sql: str, values: list[list[Any]]) -> None:
    await _plan_cache(conn, "auto")
    await conn.execute_many(sql, values)
    await _plan_cache(conn, "force_custom_plan")


def _fitting(model: type[Any], column: str, values: Any) -> list[Any]:
    """The lookup values that fit the column: a longer one matches no row (its row is
    refused as TOO_LARGE by the row checks), and Tortoise refuses to compare it."""
    limit = model._meta.fields_map[column].max_length
    return [v for v in values if len(v) <= limit]


def _parse_id(text: str) -> int | None:
    """An id cell: None when empty; ValueError when not a valid id."""
    text = text.strip()
    if not text:
        return None
    number = id_number(text) if text.isascii() and text.isdigit() else None
    if number is None:
        raise ValueError(text)
    return number


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(text)


def _custom_problems(exc: PayloadErrors, line: int) -> list[RowError]:
    """Custom field errors name `customFields.<name>`; the column is `<name>`."""
    return [
        RowError(line, (e.field or "").removeprefix("customFields.") or None, e.code, e.message)
        for e in exc.errors
    ]


@dataclass
class _Row:
    line: int
    data: dict[str, Any]
    custom: dict[int, str | None]
    extra: dict[str, Any] = field(default_factory=dict)
    problems: list[RowError] = field(default_factory=list)

    def fail(self, column: str | None, code: str, message: str) -> None:
        self.problems.append(RowError(self.line, column, code, message))


@dataclass
class _Plan:
    """What a validated chunk will write."""

    creates: list[_Row] = field(default_factory=list)
    # (row, current values, current custom values, custom changed)
    updates: list[tuple[_Row, dict[str, Any], dict[int, str], bool]] = field(default_factory=list)


class _Import:
    entity: CustomFieldEntity
    columns: tuple[str, ...]
    object_type: str

    def __init__(self, access: Access, request_id: str) -> None:
        self.access = access
        self.request_id = request_id
        self.definitions: list[CustomField] = []

    async def header(self) -> list[str]:
        self.definitions = await customfields.fields_for(self.entity)
        return [*self.columns, *(d.name for d in self.definitions)]

    async def check_header(self, cells: list[str]) -> str | None:
        return header_problem(cells, await self.header())

    def width(self) -> int:
        return len(self.columns) + len(self.definitions)

    def split(self, line: int, cells: list[str]) -> _Row | RowError:
        if len(cells) != self.width():
            return RowError(
                line, None, "INVALID", f"Expected {self.width()} columns, found {len(cells)}."
            )
        values = [unescape(c) for c in cells]
        custom = {
            d.id: (v if v.strip() else None)
            for d, v in zip(self.definitions, values[len(self.columns) :], strict=True)
        }
        return self.parse(line, values[: len(self.columns)], custom)

    def parse(self, line: int, cells: list[str], custom: dict[int, str | None]) -> _Row:
        raise NotImplementedError

    async def validate(self, rows: list[_Row], result: ImportResult) -> _Plan:
        raise NotImplementedError

    async def write(self, plan: _Plan, result: ImportResult, conn: BaseDBAsyncClient) -> None:
        raise NotImplementedError

    def check_custom(self, row: _Row, current: dict[int, str], creating: bool) -> dict[int, str]:
        """The row's custom values as they will be stored (unset fields left out)."""
        try:
            values = customfields.validate_values(
                self.definitions, current, row.custom, creating=creating
            )
        except PayloadErrors as exc:
            row.problems.extend(_custom_problems(exc, row.line))
            return {}
        return {fid: v for fid, v in values.items() if v is not None}

    def classify(
        self,
        row: _Row,
        target: dict[str, Any] | None,
        current: dict[int, str],
        result: ImportResult,
        plan: _Plan,
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
            row.fail(column, "FORBIDDEN", message)
        if row.problems:
            result.reject(row.line, row.problems)
        elif target is None:
            plan.creates.append(row)
            result.created += 1
        else:
            plan.updates.append((row, target, current, custom_changed))
            result.updated += 1

    async def write_custom(self, plan: _Plan, ids: dict[int, int], conn: BaseDBAsyncClient) -> None:
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
        await _insert(conn, CustomFieldValue, rows)

    async def write_audit(
        self, plan: _Plan, ids: dict[int, int], written: list[str], conn: BaseDBAsyncClient
    ) -> None:
        user = self.access.user
        entries = []
        names = {d.id: d.name for d in self.definitions}

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
            changes["source"] = "import"
            entries.append(entry(audit.UPDATE, current["id"], changes))
        await _insert(conn, AuditEntry, entries)

    async def run(
        self,
        stream: BinaryIO,
        *,
        dry_run: bool,
        partial: bool,
        file_name: str,
        progress: Progress | None,
    ) -> ImportResult:
        result = ImportResult(dry_run=dry_run, partial=partial)
        records = None
        try:
            check_encoding(stream)
            records = read_rows(stream)
            first = next(records, None)
            if first is None:
                raise CsvFileError("The file is empty: it needs at least the header row.")
            problem = await self.check_header(first[1])
            if problem:
                raise CsvFileError(problem)
            if dry_run:
                await self._chunks(records, stream, result, None, progress)
                return result
            try:
                async with in_transaction() as conn:
                    await _plan_cache(conn, "force_custom_plan")
                    await self._chunks(records, stream, result, conn, progress)
                    if result.rejected and not partial:
                        raise _Rollback
                    await audit.record(
                        self.access.user,
                        IMPORT,
                        self.object_type,
                        "",
                        {"file": file_name[:200], "partial": partial, **result.counts()},
                        self.request_id,
                    )
                    result.written = True
            except _Rollback:
                pass
            except IntegrityError:
                # Another user wrote a clashing row (a name, a fiscal id) between our
                # checks and our inserts; the transaction is rolled back.
                raise CsvFileError(
                    "The data changed while the file was imported (a name or fiscal id "
                    "was taken meanwhile); nothing was written. Try again."
                ) from None
        except CsvFileError as exc:
            result.written = False
            result.errors.append(FieldError("file", "INVALID", str(exc)))
        finally:
            if records is not None:
                # Close the reader while the stream is open: an import stopped midway
                # (its deadline) would otherwise close it after the upload is gone.
                records.close()
        return result

    async def _chunks(
        self,
        records: Any,
        stream: BinaryIO,
        result: ImportResult,
        conn: BaseDBAsyncClient | None,
        progress: Progress | None,
    ) -> None:
        chunk: list[_Row] = []
        read = 0

        async def flush() -> None:
            plan = await self.validate(chunk, result)
            # Without `partial`, the first bad row means nothing will be kept: from
            # there on, only validate.
            if conn is not None and (result.partial or not result.rejected):
                await self.write(plan, result, conn)
            chunk.clear()
            if progress is not None:
                progress(read, stream.tell())

        for line, cells in records:
            read += 1
            parsed = self.split(line, cells)
            if isinstance(parsed, RowError):
                result.reject(line, [parsed])
                continue
            chunk.append(parsed)
            if len(chunk) >= CHUNK:
                await flush()
        if chunk:
            await flush()
        elif progress is not None:
            progress(read, stream.tell())


async def _load_users(users: dict[str, tuple[int, bool] | None], usernames: set[str]) -> None:
    """Look up the usernames not in `users` yet: (id, enabled), or None when unknown."""
    missing = [u for u in usernames if u not in users]
    if not missing:
        return
    for username in missing:
        users[username] = None
    found = await User.filter(username__in=_fitting(User, "username", missing)).values(
        "id", "username", "enabled"
    )
    for user in found:
        users[user["username"]] = (user["id"], user["enabled"])


class _CompanyImport(_Import):
    entity = CustomFieldEntity.COMPANY
    columns = COMPANY_COLUMNS
    object_type = "Company"

    def __init__(self, access: Access, request_id: str) -> None:
        super().__init__(access, request_id)
        self.names: dict[str, int] = {}  # name -> first line, across the file
        self.fiscal_ids: dict[str, int] = {}
        self.users: dict[str, tuple[int, bool] | None] = {}
        self.roles: set[int] | None = None

    def parse(self, line: int, cells: list[str], custom: dict[int, str | None]) -> _Row:
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
        row = _Row(line, data, custom, {"manager": manager.strip()})
        for column, key, text in (
            ("id company role", "role_id", role),
            ("id parent", "parent_id", parent),
        ):
            try:
                data[key] = _parse_id(text)
            except ValueError:
                row.fail(column, "INVALID", f"'{text.strip()}' is not a valid id.")
        payment = payment.strip()
        if not payment:
            data["payment_conditions"] = 30
        elif payment.isascii() and payment.lstrip("-").isdigit() and len(payment) < 10:
            data["payment_conditions"] = int(payment)
        else:
            row.fail("payment conditions", "INVALID", "Days between 0 and 3650.")
        for problem in company_rules._clean(data):
            row.fail(_COMPANY_FIELD_COLUMNS.get(problem.field or ""), problem.code, problem.message)
        if data["name"]:
            first = self.names.setdefault(data["name"].lower(), line)
            if first != line:
                row.fail("name", "UNIQUE", f"The name is already on line {first} of the file.")
        if data["fiscal_id"]:
            first = self.fiscal_ids.setdefault(data["fiscal_id"], line)
            if first != line:
                row.fail("fiscal id", "UNIQUE", f"The fiscal id is already on line {first}.")
        return row

    async def validate(self, rows: list[_Row], result: ImportResult) -> _Plan:
        access = self.access
        if self.roles is None:
            self.roles = set(await column_values(CompanyRole.all(), "id"))
        # Names are unique ignoring case: a row updates the company of the same name in
        # any case (and writes the file's spelling).
        names = [r.data["name"].lower() for r in rows if r.data.get("name")]
        existing = {
            row.pop("name_key"): row
            for row in await Company.annotate(name_key=Lower("name"))
            .filter(name_key__in=_fitting(Company, "name", names))
            .values("id", "path", "name_key", *_COMPANY_WRITTEN)
        }
        visible: set[int] = set()
        if existing:
            visible = set(
                await column_values(
                    Company.filter(access.visible, id__in=[e["id"] for e in existing.values()]),
                    "id",
                )
            )
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
                    fiscal_id__in=_fitting(Company, "fiscal_id", fiscal_ids)
                ).values_list("id", "fiscal_id")
            }
        await _load_users(self.users, {r.extra["manager"] for r in rows if r.extra["manager"]})
        current_custom: dict[int, dict[int, str]] = {}
        if self.definitions and visible:
            current_custom = await customfields.values_for_objects(self.entity, list(visible))

        plan = _Plan()
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
        row: _Row,
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
                row.fail("name", "UNIQUE", "Another company has this name.")
                return
            if not access.can_edit(SimpleNamespace(**target)):
                # Refused only if the row changes something (see classify).
                row.extra["read_only"] = ("name", "You may not edit this company.")
        elif not access.can_create:
            row.fail("name", "FORBIDDEN", "You may not create companies.")
            return
        # As companyUpdate checks only the fields it is sent, an update checks only the
        # references it changes: the unchanged parent of a company may be invisible.
        role_id = data.get("role_id")
        unchanged_role = target is not None and role_id == target["role_id"]
        if role_id is not None and not unchanged_role and role_id not in (self.roles or ()):
            row.fail("id company role", "NOT_FOUND", f"No company role with id {role_id}.")
        parent_id = data.get("parent_id")
        unchanged_parent = target is not None and parent_id == target["parent_id"]
        if parent_id is not None and not unchanged_parent:
            path = parents.get(parent_id)
            if path is None:
                row.fail(
                    "id parent", "NOT_FOUND", f"No company with id {parent_id} (visible to you)."
                )
            elif target is not None and (
                parent_id == target["id"] or path.startswith(target["path"])
            ):
                row.fail("id parent", "INVALID", "A company cannot be its own parent or ancestor.")
        username = row.extra["manager"]
        if not username:
            # As companyCreate: the importer manages what it creates; empty clears.
            data["manager_id"] = access.user.id if target is None and access.user else None
        else:
            user = self.users.get(username)
            if user is None:
                row.fail("manager", "NOT_FOUND", f"No user '{username}'.")
            elif not user[1] and (target is None or target["manager_id"] != user[0]):
                row.fail("manager", "INVALID", f"The user '{username}' is disabled.")
            else:
                data["manager_id"] = user[0]
        if (
            target is not None
            and "manager_id" in data
            and data["manager_id"] != target["manager_id"]
            and not access.can_change_manager
        ):
            row.fail("manager", "FORBIDDEN", "Changing the manager needs CM.")
        fiscal_id = data.get("fiscal_id")
        if fiscal_id:
            owner = fiscal_owner.get(fiscal_id)
            if owner is not None and (target is None or owner != target["id"]):
                row.fail("fiscal id", "UNIQUE", "Another company has this fiscal id.")

    async def write(self, plan: _Plan, result: ImportResult, conn: BaseDBAsyncClient) -> None:
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
        await _update_rows(conn, Company, _COMPANY_WRITTEN, plan.updates, now)
        ids: dict[int, int] = {}
        if plan.creates:
            await _insert(
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

    async def _move(self, row: _Row, current: dict[str, Any]) -> bool:
        """Re-parent one company and its subtree, checked against the current tree."""
        company = await Company.filter(id=current["id"]).only("id", "path").first()
        parent_id = row.data["parent_id"]
        parent_path = "/"
        if parent_id is not None:
            found = await column_values(Company.filter(id=parent_id), "path")
            if not found or company is None or found[0].startswith(company.path):
                row.fail("id parent", "INVALID", "A company cannot be its own parent or ancestor.")
                return False
            parent_path = found[0]
        if company is not None:
            await company_rules._reparent(company, f"{parent_path}{company.id}/")
        return True


class _ContactImport(_Import):
    entity = CustomFieldEntity.CONTACT
    columns = CONTACT_COLUMNS
    object_type = "Contact"

    def __init__(self, access: Access, request_id: str) -> None:
        super().__init__(access, request_id)
        self.keys: dict[tuple[str, str], int] = {}  # (company, e-mail) -> first line

    def parse(self, line: int, cells: list[str], custom: dict[int, str | None]) -> _Row:
        company, full_name, email, phone, mobile, position, description, disabled = cells
        data: dict[str, Any] = {
            "full_name": full_name,
            "email": email,
            "phone": phone,
            "mobile": mobile,
            "position": position,
            "description": description,
        }
        row = _Row(line, data, custom, {"company": company.strip()})
        try:
            data["disabled"] = _parse_bool(disabled)
        except ValueError:
            row.fail("disabled", "INVALID", "Use 1 or 0 (or true or false).")
        for problem in contact_rules.check(data):
            row.fail(_CONTACT_FIELD_COLUMNS.get(problem.field or ""), problem.code, problem.message)
        if not row.extra["company"]:
            row.fail("company", "REQUIRED", "A contact needs a company.")
        elif data["email"]:
            key = (row.extra["company"], data["email"].lower())
            first = self.keys.setdefault(key, line)
            if first != line:
                row.fail("email", "UNIQUE", f"This company and e-mail are already on line {first}.")
        return row

    async def validate(self, rows: list[_Row], result: ImportResult) -> _Plan:
        access = self.access
        names = {r.extra["company"] for r in rows if r.extra["company"]}
        companies = {
            row["name"]: row
            for row in await Company.filter(name__in=_fitting(Company, "name", names)).values(
                "id", "name", "manager_id"
            )
        }
        visible: set[int] = set()
        if companies:
            visible = set(
                await column_values(
                    Company.filter(access.visible, id__in=[c["id"] for c in companies.values()]),
                    "id",
                )
            )
        emails = {r.data["email"].lower() for r in rows if r.data.get("email")}
        existing: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
        if visible and emails:
            found = (
                await Contact.annotate(email_key=Lower("email"))
                .filter(company_id__in=list(visible), email_key__in=list(emails))
                .values("id", "email_key", *_CONTACT_WRITTEN)
            )
            for contact in found:
                existing[(contact["company_id"], contact.pop("email_key"))].append(contact)
        current_custom: dict[int, dict[int, str]] = {}
        if self.definitions and existing:
            current_custom = await customfields.values_for_objects(
                self.entity, [c["id"] for group in existing.values() for c in group]
            )

        plan = _Plan()
        for row in rows:
            target = None
            company = companies.get(row.extra["company"])
            if not row.extra["company"]:
                pass
            elif company is None or company["id"] not in visible:
                row.fail("company", "NOT_FOUND", f"No company '{row.extra['company']}'.")
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
                        "CONFLICT",
                        "Several contacts of this company have this e-mail: change them "
                        "through the API.",
                    )
                elif matches:
                    target = matches[0]
            current = current_custom.get(target["id"], {}) if target else {}
            row.extra["custom"] = self.check_custom(row, current, creating=target is None)
            self.classify(row, target, current, result, plan, _CONTACT_WRITTEN)
        return plan

    async def write(self, plan: _Plan, result: ImportResult, conn: BaseDBAsyncClient) -> None:
        now = timezone.now()
        await _update_rows(conn, Contact, _CONTACT_WRITTEN, plan.updates, now)
        ids: dict[int, int] = {}
        if plan.creates:
            before = await Contact.all().order_by("-id").limit(1).values_list("id", flat=True)
            await _insert(
                conn, Contact, [{k: row.data[k] for k in _CONTACT_WRITTEN} for row in plan.creates]
            )
            made = await Contact.filter(
                id__gt=before[0] if before else 0,
                company_id__in={row.data["company_id"] for row in plan.creates},
                email__in={row.data["email"] for row in plan.creates},
            ).values_list("company_id", "email", "id")
            by_key = {(c, e): i for c, e, i in made}
            ids = {
                row.line: by_key[(row.data["company_id"], row.data["email"])]
                for row in plan.creates
            }
        await self.write_custom(plan, ids, conn)
        await self.write_audit(plan, ids, list(_CONTACT_WRITTEN), conn)


async def import_companies(
    stream: BinaryIO,
    access: Access,
    *,
    dry_run: bool = False,
    partial: bool = False,
    request_id: str = "",
    file_name: str = "",
    progress: Progress | None = None,
) -> ImportResult:
    """Import a companies CSV (COMPANY_COLUMNS, then company custom fields)."""
    return await _CompanyImport(access, request_id).run(
        stream, dry_run=dry_run, partial=partial, file_name=file_name, progress=progress
    )


async def import_contacts(
    stream: BinaryIO,
    access: Access,
    *,
    dry_run: bool = False,
    partial: bool = False,
    request_id: str = "",
    file_name: str = "",
    progress: Progress | None = None,
) -> ImportResult:
    """Import a contacts CSV (CONTACT_COLUMNS, then contact custom fields)."""
    return await _ContactImport(access, request_id).run(
        stream, dry_run=dry_run, partial=partial, file_name=file_name, progress=progress
    )


# ---------------------------------------------------------------------------- contracts
# (SPEC §5). Columns: CONTRACT_COLUMNS, then the custom fields of each row's contract
# type in field order, positionally (a file may mix types: the extra header cells are
# free text; an export of one type names them after its fields).

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
_CONTRACT_STATUS_OF = {v: k for k, v in CONTRACT_STATUS_CODES.items()}
_CONTRACT_WRITTEN = contract_rules.WRITTEN
_CONTRACT_FIELD_COLUMNS = {
    "reference": "name",
    "number": "contract number",
    "description": "description",
    "dateEnd": "date end",
    "slaId": "id sla",
    "groupId": "id group",
}


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
        by_type: dict[int, list[CustomField]] = defaultdict(list)
        for definition in await CustomField.filter(entity=CustomFieldEntity.CONTRACT).order_by(
            "position", "id"
        ):
            if definition.owner_id is not None:
                by_type[definition.owner_id].append(definition)
        if contract_type_id is not None:
            names = [d.name for d in by_type.get(contract_type_id, [])]
        else:
            width = max((len(v) for v in by_type.values()), default=0)
            names = [f"custom field {i}" for i in range(1, width + 1)]
        return cls(by_type, names, Q() if visible is None else visible)

    def header(self) -> list[str]:
        return [*CONTRACT_COLUMNS, *self.names]

    async def pages(self, where: Q, page_size: int = EXPORT_PAGE) -> AsyncIterator[list[list[str]]]:
        last = 0
        while True:
            rows = (
                await Contract.filter(where, id__gt=last)
                .order_by("id")
                .limit(page_size)
                .values(
                    "id",
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
            )
            if not rows:
                return
            ids = [row["id"] for row in rows]
            values = await customfields.values_for_objects(CustomFieldEntity.CONTRACT, ids)
            related = await self._related(ids, self.visible)
            page = []
            for row in rows:
                own = values.get(row["id"], {})
                fields = self.definitions.get(row["contract_type_id"], [])
                custom = [own.get(d.id, "") for d in fields]
                custom += [""] * (len(self.names) - len(custom))
                page.append(
                    [
                        row["reference"],
                        _cell(row["number"]),
                        row["description"],
                        _cell(row["date_begin"]),
                        _cell(row["date_end"]),
                        str(row["company_id"]),
                        _cell(row["sla_id"]),
                        _cell(row["group_id"]),
                        _cell(row["private"]),
                        _CONTRACT_STATUS_OF[str(getattr(row["status"], "value", row["status"]))],
                        _cell(row["contract_type_id"]),
                        " ".join(str(i) for i in related.get(row["id"], [])),
                        _cell(row["owner__username"]),
                        row["company__name"],
                        *custom[: len(self.names)],
                    ]
                )
            yield page
            if len(rows) < page_size:
                return
            last = ids[-1]

    @staticmethod
    async def _related(ids: list[int], where: Q) -> dict[int, list[int]]:
        """Related contract ids (both directions) that `where` lets through."""
        wanted = set(ids)
        links = await ContractLink.filter(
            Q(contract_id__in=wanted) | Q(related_id__in=wanted)
        ).values_list("contract_id", "related_id")
        others = {b if a in wanted else a for a, b in links} | {a for a, b in links if b in wanted}
        if not others:
            return {}
        shown = (
            set(await Contract.filter(where, id__in=others).values_list("id", flat=True))
            if others
            else set()
        )
        found: dict[int, set[int]] = defaultdict(set)
        for a, b in links:
            if a in wanted and b in shown:
                found[a].add(b)
            if b in wanted and a in shown:
                found[b].add(a)
        return {k: sorted(v) for k, v in found.items()}


# ---------------------------------------------------------------------------- leads
# Export only (SPEC §7 "CSV export"): leads come in through leadCreate and the API 1.0
# endpoint, not through files.

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
        last = 0
        while True:
            rows = (
                await Lead.filter(where, id__gt=last)
                .order_by("id")
                .limit(page_size)
                .values(
                    "id",
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
            )
            if not rows:
                return
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
                        _cell(row["lead_type__name"]),
                        row["channel"],
                        str(cents_to_decimal(row["estimated_sale_cents"] or 0)),
                        row["currency"],
                        _cell(row["close_date"]),
                        str(row["progress"]),
                        self.progress.get(row["progress"], str(row["progress"])),
                        _cell(row["owner__username"]),
                        companies.get(row["company_id"], ""),
                        "; ".join(tags.get(row["id"], [])),
                        _cell(row["duplicate"]),
                        _cell(row["created_at"]),
                        _cell(row["updated_at"]),
                        *(own.get(d.id, "") for d in self.definitions),
                    ]
                )
            yield page
            if len(rows) < page_size:
                return
            last = ids[-1]


@dataclass(frozen=True)
class ContractAccess:
    """What the importer may do with contracts, built by the caller from the rules."""

    company: Access  # companies: visible, editable
    visible_contracts: Q


class _ContractImport(_Import):
    entity = CustomFieldEntity.CONTRACT
    columns = CONTRACT_COLUMNS
    object_type = "Contract"

    def __init__(self, access: ContractAccess, request_id: str) -> None:
        super().__init__(access.company, request_id)
        self.contract_access = access
        self.by_type: dict[int, list[CustomField]] = defaultdict(list)
        self.extra = 0
        self.keys: dict[tuple[str, str], int] = {}  # (company, reference) -> first line
        self.numbers: dict[str, int] = {}
        self.users: dict[str, tuple[int, bool] | None] = {}
        self.types: set[int] | None = None

    async def header(self) -> list[str]:
        self.definitions = await CustomField.filter(entity=CustomFieldEntity.CONTRACT).order_by(
            "position", "id"
        )
        for definition in self.definitions:
            if definition.owner_id is not None:
                self.by_type[definition.owner_id].append(definition)
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

    def split(self, line: int, cells: list[str]) -> _Row | RowError:
        if len(cells) != self.width():
            return RowError(
                line, None, "INVALID", f"Expected {self.width()} columns, found {len(cells)}."
            )
        values = [unescape(c) for c in cells]
        row = self.parse(line, values[: len(CONTRACT_COLUMNS)], {})
        row.extra["cells"] = values[len(CONTRACT_COLUMNS) :]
        return row

    def parse(self, line: int, cells: list[str], custom: dict[int, str | None]) -> _Row:
        (
            reference,
            number,
            description,
            begin,
            end,
            company_id,
            sla,
            group,
            private,
            status,
            type_id,
            related,
            manager,
            company,
        ) = cells
        data: dict[str, Any] = {
            "reference": reference,
            "number": number,
            "description": description,
        }
        row = _Row(line, data, custom, {"manager": manager.strip(), "company": company.strip()})
        for column, key, text, required in (
            ("date begin", "date_begin", begin, True),
            ("date end", "date_end", end, False),
        ):
            text = text.strip()
            if not text:
                data[key] = None
                if required:
                    row.fail(column, "REQUIRED", "A contract needs a start date.")
                continue
            try:
                data[key] = date.fromisoformat(text)
            except ValueError:
                row.fail(column, "INVALID", f"'{text}' is not a date (YYYY-MM-DD).")
        for column, key, text in (
            ("id company", "_company_id", company_id),
            ("id contract type", "contract_type_id", type_id),
        ):
            try:
                data[key] = _parse_id(text)
            except ValueError:
                row.fail(column, "INVALID", f"'{text.strip()}' is not a valid id.")
        for column, key, text in (("id sla", "sla_id", sla), ("id group", "group_id", group)):
            text = text.strip()
            if not text:
                data[key] = None
            elif text.isascii() and text.isdigit() and id_number(text, minimum=0) is not None:
                data[key] = int(text)
            else:
                row.fail(column, "INVALID", f"'{text}' is not a valid id.")
        try:
            data["private"] = _parse_bool(private)
        except ValueError:
            row.fail("private", "INVALID", "Use 1 or 0 (or true or false).")
        code = status.strip().upper()
        code = CONTRACT_STATUS_CODES.get(code, code)
        if code in CONTRACT_STATUS_CODES.values():
            data["status"] = code
        else:
            row.fail("status", "INVALID", "Use 0 (inactive), 1 (active) or 2 (pending).")
        try:
            ids = sorted({int(p) for p in related.replace(",", " ").replace(";", " ").split()})
            if any(id_number(i) is None for i in ids):
                raise ValueError(related)
            data["related"] = ids
        except ValueError:
            row.fail("related contract", "INVALID", "Contract ids separated by spaces.")
            data["related"] = []
        for problem in contract_rules._clean(data):
            row.fail(
                _CONTRACT_FIELD_COLUMNS.get(problem.field or ""), problem.code, problem.message
            )
        for problem in contract_rules.check_dates(data.get("date_begin"), data.get("date_end")):
            row.fail("date end", problem.code, problem.message)
        if data.get("number"):
            first = self.numbers.setdefault(data["number"], line)
            if first != line:
                row.fail("contract number", "UNIQUE", f"The number is already on line {first}.")
        if not row.extra["company"] and data.get("_company_id") is None:
            row.fail("company", "REQUIRED", "A contract needs a company (name or id).")
        return row

    async def validate(self, rows: list[_Row], result: ImportResult) -> _Plan:
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
            fitting = _fitting(Company, "name", names)
            for known in await Company.filter(Q(name__in=fitting) | Q(id__in=ids)).values(
                "id", "name", "manager_id"
            ):
                companies[known["name"]] = known
                companies[known["id"]] = known
        visible: set[int] = set()
        if companies:
            visible = set(
                await column_values(
                    Company.filter(access.visible, id__in=[c["id"] for c in companies.values()]),
                    "id",
                )
            )
        # Resolve each row's company; then the existing contracts by (company, reference).
        for row in rows:
            key = row.extra["company"] or row.data.get("_company_id")
            company = companies.get(key) if key is not None else None
            if key is None:
                continue
            if company is None or company["id"] not in visible:
                shown = row.extra["company"] or row.data.get("_company_id")
                column = "company" if row.extra["company"] else "id company"
                row.fail(column, "NOT_FOUND", f"No company '{shown}' (visible to you).")
                continue
            row.data["company_id"] = company["id"]
            if not access.can_edit(SimpleNamespace(**company)):
                row.extra["read_only"] = ("company", "You may not edit this company's contracts.")
            if row.data.get("reference"):
                pair = (str(company["id"]), row.data["reference"])
                first = self.keys.setdefault(pair, row.line)
                if first != row.line:
                    row.fail(
                        "name", "UNIQUE", f"This company and name are already on line {first}."
                    )
        pairs = {
            (r.data["company_id"], r.data["reference"]) for r in rows if r.data.get("company_id")
        }
        existing: dict[tuple[int | None, str | None], dict[str, Any]] = {}
        if pairs:
            found = await Contract.filter(
                company_id__in={c for c, _ in pairs},
                reference__in=_fitting(Contract, "reference", {r for _, r in pairs}),
            ).values("id", *_CONTRACT_WRITTEN)
            shown = (
                set(
                    await Contract.filter(
                        self.contract_access.visible_contracts, id__in=[c["id"] for c in found]
                    ).values_list("id", flat=True)
                )
                if found
                else set()
            )
            for contract in found:
                contract["visible"] = contract["id"] in shown
                contract["status"] = str(getattr(contract["status"], "value", contract["status"]))
                existing[(contract["company_id"], contract["reference"])] = contract
        if existing:
            links = await ContractLink.filter(
                Q(contract_id__in=[c["id"] for c in existing.values()])
                | Q(related_id__in=[c["id"] for c in existing.values()])
            ).values_list("contract_id", "related_id")
            related: dict[int, set[int]] = defaultdict(set)
            for a, b in links:
                related[a].add(b)
                related[b].add(a)
            # Only the links the importer can see count (and change): as the export.
            others = set().union(*related.values()) if related else set()
            seen = set(
                await Contract.filter(
                    self.contract_access.visible_contracts, id__in=others
                ).values_list("id", flat=True)
                if others
                else []
            )
            for contract in existing.values():
                contract["related"] = sorted(related.get(contract["id"], set()) & seen)
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
        await _load_users(self.users, {r.extra["manager"] for r in rows if r.extra["manager"]})
        targets = [c["id"] for c in existing.values() if c["visible"]]
        current_custom = (
            await customfields.values_for_objects(self.entity, targets) if targets else {}
        )

        plan = _Plan()
        for row in rows:
            data = row.data
            target = existing.get((data.get("company_id"), data.get("reference")))
            if target is not None and not target["visible"]:
                row.fail("name", "UNIQUE", "Another contract of this company has this name.")
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
        row: _Row,
        target: dict[str, Any] | None,
        number_owner: dict[str, int],
        related_ok: set[int],
    ) -> None:
        access, data = self.access, row.data
        if target is None and not access.can_create:
            row.fail("name", "FORBIDDEN", "You may not create contracts.")
        type_id = data.get("contract_type_id")
        unchanged_type = target is not None and type_id == target["contract_type_id"]
        if type_id is not None and not unchanged_type and type_id not in (self.types or ()):
            row.fail("id contract type", "NOT_FOUND", f"No contract type with id {type_id}.")
        number = data.get("number")
        if number:
            owner = number_owner.get(number)
            if owner is not None and (target is None or owner != target["id"]):
                row.fail("contract number", "UNIQUE", "Another contract has this number.")
        related = data.get("related", [])
        unchanged_related = target is not None and related == target.get("related", [])
        if not unchanged_related:
            missing = [str(i) for i in related if i not in related_ok]
            if target is not None and target["id"] in related:
                row.fail("related contract", "INVALID", "A contract cannot be related to itself.")
            elif missing:
                row.fail("related contract", "NOT_FOUND", f"No contract {', '.join(missing)}.")
        username = row.extra["manager"]
        if not username:
            data["owner_id"] = access.user.id if target is None and access.user else None
        else:
            user = self.users.get(username)
            if user is None:
                row.fail("manager", "NOT_FOUND", f"No user '{username}'.")
            elif not user[1] and (target is None or target["owner_id"] != user[0]):
                row.fail("manager", "INVALID", f"The user '{username}' is disabled.")
            else:
                data["owner_id"] = user[0]
        data.setdefault("owner_id", None)

    def _custom(
        self, row: _Row, target: dict[str, Any] | None, current: dict[int, str]
    ) -> dict[int, str]:
        """The row's custom cells, positionally onto its type's fields."""
        cells = row.extra["cells"]
        fields = self.by_type.get(row.data.get("contract_type_id") or 0, [])
        if any(c.strip() for c in cells[len(fields) :]):
            row.fail(
                None,
                "INVALID",
                f"The contract type has {len(fields)} custom fields; more values were given.",
            )
        if len(fields) > len(cells):
            row.fail(
                None,
                "INVALID",
                f"The contract type has {len(fields)} custom fields; "
                f"the file has {len(cells)} custom field columns.",
            )
            return {}
        changes = {d.id: (v if v.strip() else None) for d, v in zip(fields, cells, strict=False)}
        same_type = target is not None and target["contract_type_id"] == row.data.get(
            "contract_type_id"
        )
        try:
            values = customfields.validate_values(
                fields, current if same_type else {}, changes, creating=not same_type
            )
        except PayloadErrors as exc:
            row.problems.extend(_custom_problems(exc, row.line))
            return {}
        return {fid: v for fid, v in values.items() if v is not None}

    async def write(self, plan: _Plan, result: ImportResult, conn: BaseDBAsyncClient) -> None:
        now = timezone.now()
        await _update_rows(conn, Contract, _CONTRACT_WRITTEN, plan.updates, now)
        ids: dict[int, int] = {}
        if plan.creates:
            await _insert(
                conn,
                Contract,
                [{k: row.data[k] for k in _CONTRACT_WRITTEN} for row in plan.creates],
            )
            made = await Contract.filter(
                company_id__in={row.data["company_id"] for row in plan.creates},
                reference__in={row.data["reference"] for row in plan.creates},
            ).values_list("company_id", "reference", "id")
            by_key = {(c, r): i for c, r, i in made}
            ids = {
                row.line: by_key[(row.data["company_id"], row.data["reference"])]
                for row in plan.creates
            }
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
            await _insert(
                conn,
                ContractLink,
                [{"contract_id": a, "related_id": b} for a, b in sorted(added - present)],
            )
        await self.write_custom(plan, ids, conn)
        await self.write_audit(plan, ids, [*_CONTRACT_WRITTEN, "related"], conn)
        # The automatic company activities, as contractCreate/contractUpdate add them.
        user = self.access.user
        activities = [
            {
                "company_id": row.data["company_id"],
                "contact_id": None,
                "author_id": user.id if user else None,
                "text": f"Contract {row.data['reference']} created (import).",
            }
            for row in plan.creates
        ] + [
            {
                "company_id": row.data["company_id"],
                "contact_id": None,
                "author_id": user.id if user else None,
                "text": f"Contract {row.data['reference']} updated (import).",
            }
            for row, _, _, _ in plan.updates
        ]
        if activities:
            await _insert(conn, Activity, activities)
            touched = {a["company_id"] for a in activities}
            await touch_companies(touched, now)
            # Their contracts changed: so did the companies (SPEC §3). Rows match by
            # company and reference, so an import never moves a contract.
            await touch_last_update(touched, now)


async def import_contracts(
    stream: BinaryIO,
    access: ContractAccess,
    *,
    dry_run: bool = False,
    partial: bool = False,
    request_id: str = "",
    file_name: str = "",
    progress: Progress | None = None,
) -> ImportResult:
    """Import a contracts CSV (CONTRACT_COLUMNS, then the row type's custom fields)."""
    return await _ContractImport(access, request_id).run(
        stream, dry_run=dry_run, partial=partial, file_name=file_name, progress=progress
    )


__all__ = [
    "COMPANY_COLUMNS",
    "CONTACT_COLUMNS",
    "CONTRACT_COLUMNS",
    "Access",
    "CompanyExport",
    "ContactExport",
    "ContractAccess",
    "ContractExport",
    "ImportResult",
    "RowError",
    "import_companies",
    "import_contacts",
    "import_contracts",
]
