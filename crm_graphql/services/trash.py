"""The trash (issue 18): deleting a company, contact, contract or lead moves it here.

`move_to_trash` snapshots the record and every row that hangs on it (what a delete
cascades to, the custom values and files kept in generic tables, a lead's calendar
events) as JSON in one `trash_entries` row, then deletes the rows, in the caller's
transaction. Everything else (lists, counts, statistics, exports, downloads, mail
lookups) is therefore "as if deleted" with no filter of its own. File bytes stay until
the entry is purged.

`restore` inserts the rows back with their ids (ids are never reused: SQLite tables use
AUTOINCREMENT, PostgreSQL sequences only move forward; a taken id is still a conflict)
and re-points the rows a delete had set to NULL. It refuses, naming the reason, when the
record depends on something gone meanwhile or a unique value was taken. Rows that hung on
the record and whose other parent is gone are left out, as a delete of that parent would
have removed them (a link to a deleted contract, a value of a deleted custom field); a
user gone meanwhile is set to NULL on them, as deleting the user would have done.

Callers check access; the rules are `permissions/trash.py`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from tortoise import fields, timezone
from tortoise.expressions import Q, Subquery
from tortoise.fields.relational import ForeignKeyFieldInstance
from tortoise.models import Model

from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.models.activities import Activity
from crm_graphql.models.calendar import CalendarEvent
from crm_graphql.models.companies import Company, CompanyBilling
from crm_graphql.models.contacts import Contact
from crm_graphql.models.contracts import Contract, ContractInvoice, ContractLink
from crm_graphql.models.customfields import CustomField, CustomFieldEntity, CustomFieldValue
from crm_graphql.models.events import EventAction, EventObjectType
from crm_graphql.models.files import FileOwner, StoredFile
from crm_graphql.models.leads import Lead, LeadActivity, LeadHistory, LeadTagLink
from crm_graphql.models.mail import InboundMail, MailTemplate, OutgoingMail
from crm_graphql.models.trash import TrashEntry, TrashType
from crm_graphql.models.users import User
from crm_graphql.services import audit, events
from crm_graphql.services.activities import add_change_activity
from crm_graphql.services.auth import Viewer, forget_tokens
from crm_graphql.services.files.records import forget_bytes
from crm_graphql.services.files.transactions import file_transaction
from crm_graphql.services.orm import column_values
from crm_graphql.settings import Settings, settings

log = logging.getLogger("crm_graphql.trash")

# The most entries one restore or purge takes.
MAX_IDS = 100

# Restore order: a row's parents come before it.
ORDER: tuple[type[Model], ...] = (
    Company,
    CompanyBilling,
    Contact,
    Contract,
    Lead,
    Activity,
    ContractLink,
    ContractInvoice,
    CustomFieldValue,
    StoredFile,
    MailTemplate,
    CalendarEvent,
    LeadHistory,
    LeadActivity,
    LeadTagLink,
)
MODELS: dict[str, type[Model]] = {m._meta.db_table: m for m in ORDER}
MAIN: dict[TrashType, type[Model]] = {
    TrashType.COMPANY: Company,
    TrashType.CONTACT: Contact,
    TrashType.CONTRACT: Contract,
    TrashType.LEAD: Lead,
}
# Rows a delete of the record sets to NULL (ON DELETE SET NULL), put back by a restore.
RELINKS: dict[TrashType, tuple[tuple[type[Model], str], ...]] = {
    TrashType.COMPANY: ((User, "company_id"), (Lead, "company_id")),
    TrashType.LEAD: ((OutgoingMail, "lead_id"), (InboundMail, "lead_id")),
}
RELINK_MODELS = {m._meta.db_table: m for pairs in RELINKS.values() for m, _ in pairs}
# Unique values compared ignoring case (the LOWER indexes of migration 0015).
CASE_INSENSITIVE = {("companies", "name"), ("contacts", "email")}
# Per-record unique keys the models do not declare (raw indexes of migration 0015).
EXTRA_UNIQUE: dict[str, tuple[tuple[str, ...], ...]] = {"contacts": (("company_id", "email"),)}


def _noun(model: type[Model]) -> str:
    """A model's name in words: ContractType -> "contract type"."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", model.__name__).lower()


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value


def _row(obj: Model) -> dict[str, Any]:
    """Every column of the row, JSON-ready, by field name (`company_id` for a key)."""
    return {name: _encode(getattr(obj, name)) for name in obj._meta.fields_db_projection}


def _decode(model: type[Model], name: str, value: Any) -> Any:
    if value is None:
        return None
    field = model._meta.fields_map[name]
    if isinstance(field, fields.DatetimeField):
        return datetime.fromisoformat(value)
    if isinstance(field, fields.DateField):
        return date.fromisoformat(value)
    if isinstance(field, fields.DecimalField):
        return Decimal(value)
    enum_type = getattr(field, "enum_type", None)
    if enum_type is not None:
        return enum_type(value)
    return value


def _label(object_type: TrashType, obj: Any) -> str:
    """What the trash list shows: a company's name, a contract's reference, a name."""
    names = {TrashType.COMPANY: "name", TrashType.CONTRACT: "reference"}
    return str(getattr(obj, names.get(object_type, "full_name")))[:255]


def _custom_values(entity: CustomFieldEntity, ids: list[int]) -> Any:
    return CustomFieldValue.filter(
        object_id__in=ids,
        field_id__in=Subquery(CustomField.filter(entity=entity).values("id")),
    )


async def _rows_of(object_type: TrashType, obj: Any) -> list[Model]:
    """The record and every row that goes with it, parents first."""
    rows: list[Model] = [obj]
    if object_type == TrashType.COMPANY:
        contacts = await Contact.filter(company_id=obj.id)
        contracts = await Contract.filter(company_id=obj.id)
        contact_ids = [c.id for c in contacts]
        contract_ids = [c.id for c in contracts]
        rows += await CompanyBilling.filter(company_id=obj.id)
        rows += contacts
        rows += contracts
        rows += await Activity.filter(company_id=obj.id)
        rows += await ContractLink.filter(
            Q(contract_id__in=contract_ids) | Q(related_id__in=contract_ids)
        )
        rows += await ContractInvoice.filter(contract_id__in=contract_ids)
        rows += await _custom_values(CustomFieldEntity.COMPANY, [obj.id])
        rows += await _custom_values(CustomFieldEntity.CONTACT, contact_ids)
        rows += await _custom_values(CustomFieldEntity.CONTRACT, contract_ids)
        rows += await StoredFile.filter(
            Q(owner_kind=FileOwner.COMPANY, owner_id=obj.id)
            | Q(owner_kind=FileOwner.CONTACT, owner_id__in=contact_ids)
            | Q(owner_kind=FileOwner.CONTRACT, owner_id__in=contract_ids)
        )
        rows += await MailTemplate.filter(company_id=obj.id)
    elif object_type == TrashType.CONTACT:
        rows += await Activity.filter(contact_id=obj.id)
        rows += await _custom_values(CustomFieldEntity.CONTACT, [obj.id])
        rows += await StoredFile.filter(owner_kind=FileOwner.CONTACT, owner_id=obj.id)
    elif object_type == TrashType.CONTRACT:
        rows += await ContractLink.filter(Q(contract_id=obj.id) | Q(related_id=obj.id))
        rows += await ContractInvoice.filter(contract_id=obj.id)
        rows += await _custom_values(CustomFieldEntity.CONTRACT, [obj.id])
        rows += await StoredFile.filter(owner_kind=FileOwner.CONTRACT, owner_id=obj.id)
    else:
        rows += await _custom_values(CustomFieldEntity.LEAD, [obj.id])
        rows += await StoredFile.filter(owner_kind=FileOwner.LEAD, owner_id=obj.id)
        rows += await CalendarEvent.filter(object_type="Lead", object_id=obj.id)
        rows += await LeadHistory.filter(lead_id=obj.id)
        rows += await LeadActivity.filter(lead_id=obj.id)
        rows += await LeadTagLink.filter(lead_id=obj.id)
    return rows


async def move_to_trash(
    object_type: TrashType, ids: list[int], actor: User | None
) -> list[TrashEntry]:
    """Move these records (one entry each) and what hangs on them to the trash: the rows
    are deleted, their snapshot stored. Runs inside the caller's transaction (`atomic`);
    the caller has checked access and the delete rules (invoices, child companies).
    Ids that do not exist are skipped."""
    model = MAIN[object_type]
    entries: list[TrashEntry] = []
    for obj in await model.filter(id__in=ids).order_by("id"):
        object_id = int(obj.pk)
        rows = await _rows_of(object_type, obj)
        tables: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            tables.setdefault(row._meta.db_table, []).append(_row(row))
        relinks: dict[str, list[int]] = {}
        for ref_model, column in RELINKS.get(object_type, ()):
            refs = await column_values(ref_model.filter(**{column: object_id}), "id")
            if refs:
                relinks[f"{ref_model._meta.db_table}.{column}"] = refs
        files = [r for r in rows if isinstance(r, StoredFile)]
        entries.append(
            await TrashEntry.create(
                object_type=object_type,
                object_id=object_id,
                label=_label(object_type, obj),
                company_id=getattr(obj, "parent_id" if model is Company else "company_id"),
                owner_id=getattr(obj, "manager_id" if model is Company else "owner_id", None),
                private=bool(getattr(obj, "private", False)),
                path=obj.path if isinstance(obj, Company) else "",
                deleted_by_id=actor.id if actor else None,
                snapshot={"tables": tables, "relinks": relinks},
                stored_names=[f.stored_name for f in files],
            )
        )
        # Rows in generic tables first; the database cascades the rest.
        for row in rows[1:]:
            if isinstance(row, CustomFieldValue | StoredFile | CalendarEvent):
                await type(row).filter(id=row.pk).delete()
        await model.filter(id=object_id).delete()
    return entries


async def _unique_clash(model: type[Model], values: dict[str, Any]) -> str | None:
    """The field whose unique value another row holds now, if any."""
    meta = model._meta
    table = meta.db_table
    keys: list[tuple[str, ...]] = [
        (name,)
        for name, field in meta.fields_map.items()
        if field.unique and not field.pk and name in meta.fields_db_projection
    ]
    for group in meta.unique_together or ():
        keys.append(tuple(meta.fields_map[n].source_field or n for n in group))
    keys += EXTRA_UNIQUE.get(table, ())
    for key in keys:
        if any(values.get(name) is None for name in key):
            continue
        lookup = {
            f"{name}__iexact" if (table, name) in CASE_INSENSITIVE else name: values[name]
            for name in key
        }
        if await model.filter(**lookup).exclude(id=values["id"]).exists():
            return key[-1]
    return None


async def _restore_entry(entry: TrashEntry, field: str) -> int:
    """Insert the entry's rows back; a FieldError on `field` says why it cannot be."""
    tables: dict[str, list[dict[str, Any]]] = entry.snapshot.get("tables", {})
    main_model = MAIN[entry.object_type]
    main_table = main_model._meta.db_table
    restored: dict[str, set[int]] = {}
    known: dict[tuple[str, int], bool] = {}
    for model in ORDER:
        table = model._meta.db_table
        if table not in tables:
            continue
        taken = await column_values(model.filter(id__in=[r["id"] for r in tables[table]]), "id")
        if taken:
            raise FieldError(
                field,
                ErrorCode.CONFLICT,
                f"An id of its rows is in use ({_noun(model)} {taken[0]}).",
            )
        objs: list[Model] = []
        for raw in tables[table]:
            values = {name: _decode(model, name, v) for name, v in raw.items()}
            is_main = table == main_table and values["id"] == entry.object_id
            keep = await _check_keys(model, values, restored, known, strict=is_main, field=field)
            if not keep:
                continue
            if is_main or model in (Contact, Contract):
                clash = await _unique_clash(model, values)
                if clash is not None:
                    raise FieldError(
                        field,
                        ErrorCode.UNIQUE,
                        f"Another {_noun(model)} has taken its {clash.replace('_', ' ')}.",
                    )
            if model is Company and values.get("parent_id") is not None:
                parent = await Company.get(id=values["parent_id"])
                values["path"] = f"{parent.path or '/'}{values['id']}/"
            objs.append(model(**values))
            restored.setdefault(table, set()).add(values["id"])
        if objs:
            await model.bulk_create(objs)
            await _keep_timestamps(model, objs, tables[table])
    for key, ids in entry.snapshot.get("relinks", {}).items():
        table, column = key.split(".")
        ref_model = RELINK_MODELS[table]
        await ref_model.filter(id__in=ids, **{f"{column}__isnull": True}).update(
            **{column: entry.object_id}
        )
    return entry.object_id


async def _check_keys(
    model: type[Model],
    values: dict[str, Any],
    restored: dict[str, set[int]],
    known: dict[tuple[str, int], bool],
    *,
    strict: bool,
    field: str,
) -> bool:
    """Whether the row's parents exist. For the record itself (`strict`) a missing one
    refuses the restore; for a row hanging on it, a missing required parent leaves the
    row out and a missing optional one (a user) becomes NULL."""
    for fk in model._meta.fk_fields:
        fk_field = model._meta.fields_map[fk]
        assert isinstance(fk_field, ForeignKeyFieldInstance)
        column = fk_field.source_field or f"{fk}_id"
        target_id = values.get(column)
        if target_id is None:
            continue
        target = fk_field.related_model
        if target_id in restored.get(target._meta.db_table, set()):
            continue
        key = (target._meta.db_table, target_id)
        if key not in known:
            known[key] = await target.filter(id=target_id).exists()
        if known[key]:
            continue
        if strict:
            raise FieldError(
                field,
                ErrorCode.CONFLICT,
                f"Its {fk.replace('_', ' ')} ({_noun(target)} {target_id}) no longer exists.",
            )
        if not fk_field.null:
            return False
        values[column] = None
    return True


async def _keep_timestamps(
    model: type[Model], objs: list[Model], raws: list[dict[str, Any]]
) -> None:
    """An insert sets `auto_now` columns to now: put the deleted values back."""
    auto = [
        name
        for name, field in model._meta.fields_map.items()
        if isinstance(field, fields.DatetimeField) and field.auto_now
    ]
    if not auto:
        return
    by_id = {raw["id"]: raw for raw in raws}
    for obj in objs:
        raw = by_id[obj.pk]
        await model.filter(id=obj.pk).update(
            **{name: _decode(model, name, raw.get(name)) for name in auto}
        )


# The event log's kinds of the restored rows; each comes back as a CREATE event.
EVENT_KINDS: dict[str, EventObjectType] = {
    "companies": EventObjectType.COMPANY,
    "contacts": EventObjectType.CONTACT,
    "contracts": EventObjectType.CONTRACT,
    "leads": EventObjectType.LEAD,
    "activities": EventObjectType.ACTIVITY,
}


async def _record_events(entry: TrashEntry, actor_id: int | None) -> None:
    """The restored record (and a company's contacts, contracts, activities) appear in
    the event log as created, as their deletion appeared there as deleted."""
    tables: dict[str, list[dict[str, Any]]] = entry.snapshot.get("tables", {})
    for table, kind in EVENT_KINDS.items():
        for row in tables.get(table, []):
            if not await MODELS[table].filter(id=row["id"]).exists():
                continue  # left out (its other parent is gone)
            scope: dict[str, Any] = {}
            if table == "contracts":
                scope = {"private": row.get("private", False)}
            elif table == "leads":
                scope = {"ownerId": row.get("owner_id")}
            company_id = row["id"] if table == "companies" else row.get("company_id")
            await events.record(
                None,
                kind,
                row["id"],
                EventAction.CREATE,
                events.created(row),
                actor_id,
                company_id,
                scope=scope,
            )


async def restore(
    entries: list[TrashEntry], viewer: Viewer | None, request_id: str = ""
) -> list[FieldError]:
    """Put these entries back, newest deletion first (so records deleted one after the
    other come back in reverse, parents before what was deleted before them). Returns
    one error per entry that cannot be restored, on `ids.<position>`; the caller rolls
    back when there is any. Runs inside the caller's transaction."""
    errors: list[FieldError] = []
    positions = {entry.id: i for i, entry in enumerate(entries)}
    for entry in sorted(entries, key=lambda e: (e.deleted_at, e.id), reverse=True):
        field = f"ids.{positions[entry.id]}"
        try:
            await _restore_entry(entry, field)
        except FieldError as exc:
            errors.append(exc)
            continue
        await TrashEntry.filter(id=entry.id).delete()
        if entry.object_type == TrashType.COMPANY:
            forget_tokens()  # its users have their company again
        await _record_events(entry, viewer.user.id if viewer else None)
        if entry.object_type == TrashType.CONTRACT and entry.company_id is not None:
            # As for a created contract (SPEC §3): an automatic activity, last update.
            await add_change_activity(
                viewer, entry.company_id, f"Contract {entry.label} restored.", request_id
            )
        await audit.record(
            viewer.user if viewer else None,
            audit.RESTORE,
            entry.object_type.value,
            entry.object_id,
            {"trash_entry": entry.id},
            request_id,
        )
    return errors


async def purge(
    entries: list[TrashEntry],
    actor: User | None,
    *,
    config: Settings | None = None,
    request_id: str = "",
) -> int:
    """Forget these entries for good, and their files' bytes. Runs inside
    `file_transaction()`/`atomic()`."""
    if not entries:
        return 0
    await TrashEntry.filter(id__in=[e.id for e in entries]).delete()
    names = [name for e in entries for name in e.stored_names]
    await forget_bytes(names, config or settings)
    for entry in entries:
        await audit.record(
            actor,
            audit.PURGE,
            entry.object_type.value,
            entry.object_id,
            {"trash_entry": entry.id},
            request_id,
        )
    return len(entries)


def purge_cutoff(days: int, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=days)


async def purge_older_than(days: int, *, config: Settings | None = None, batch: int = 100) -> int:
    """The background purge: entries deleted more than `days` ago, a batch per
    transaction. Returns how many were purged."""
    total = 0
    cutoff = purge_cutoff(days)
    while True:
        async with file_transaction():
            entries = await TrashEntry.filter(deleted_at__lt=cutoff).order_by("id").limit(batch)
            total += await purge(entries, None, config=config)
        if len(entries) < batch:
            return total


async def _purge_loop(config: Settings) -> None:
    while True:
        try:
            purged = await purge_older_than(config.trash_days, config=config)
            if purged:
                log.info("trash: purged %s entries older than %s days", purged, config.trash_days)
        except Exception:  # keep the loop alive; the next pass retries
            log.exception("trash purge failed")
        await asyncio.sleep(max(config.trash_purge_interval, 1.0))


@contextlib.asynccontextmanager
async def running(config: Settings) -> AsyncIterator[None]:
    """Purge old trash while the app runs (`CRM_TRASH_PURGE_WORKER`, on by default)."""
    if not config.trash_purge_worker:
        yield
        return
    task = asyncio.create_task(_purge_loop(config), name="trash-purge")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
