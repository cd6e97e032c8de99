"""Merging duplicates (issue 18): every relation of the others moves to the survivor,
the others go to the trash, the survivor takes the chosen value of each field, and the
audit log, the event log (and, for leads, the history) say so. The caller runs this in one
transaction and has checked the viewer may merge every record
(permissions/merges.py).

`RELATIONS` lists what moves, per entity; `tests/test_merges.py` compares it with every
foreign key of the models (and the plain id columns that point at records), so a new
relation cannot be forgotten. A unique value that two records would then share (two
contacts of the merged companies with one e-mail, two contracts with one reference) is
refused with a CONFLICT naming both, before anything is written."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.connection import get_connection
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Subquery
from tortoise.fields import TextField
from tortoise.functions import Count, Lower

from crm_graphql.errors import ErrorCode, FieldError, PayloadErrors
from crm_graphql.ids import parse_id
from crm_graphql.models.activities import Activity
from crm_graphql.models.calendar import CalendarEvent, CalendarEventKind
from crm_graphql.models.companies import Company, CompanyBilling
from crm_graphql.models.contacts import Contact
from crm_graphql.models.contracts import Contract
from crm_graphql.models.customfields import CustomField, CustomFieldEntity, CustomFieldValue
from crm_graphql.models.events import EventAction, EventObjectType
from crm_graphql.models.files import FileOwner, StoredFile
from crm_graphql.models.invoices import Invoice
from crm_graphql.models.leads import Lead, LeadActivity, LeadHistory, LeadHistoryKind, LeadTagLink
from crm_graphql.models.mail import InboundMail, MailTemplate, OutgoingMail
from crm_graphql.models.trash import TrashType
from crm_graphql.models.users import User
from crm_graphql.services import audit, calendar, companies, customfields, events, trash
from crm_graphql.services.auth import Viewer, forget_tokens
from crm_graphql.services.duplicates import DuplicateEntity
from crm_graphql.services.leads.history import add_history
from crm_graphql.services.mutations import save_versioned
from crm_graphql.services.orm import column_values
from crm_graphql.values import is_email

# (model, column) of every row that points at a merged record and moves to the survivor.
RELATIONS: dict[DuplicateEntity, tuple[tuple[type[Any], str], ...]] = {
    DuplicateEntity.COMPANY: (
        (Contact, "company_id"),
        (Contract, "company_id"),
        (Invoice, "company_id"),
        (Activity, "company_id"),
        (Lead, "company_id"),
        (User, "company_id"),
        (MailTemplate, "company_id"),
        (Company, "parent_id"),
        (CompanyBilling, "company_id"),
        (StoredFile, "owner_id"),
        (StoredFile, "company_id"),
        (CustomFieldValue, "object_id"),
        (CalendarEvent, "object_id"),
    ),
    DuplicateEntity.CONTACT: (
        (Activity, "contact_id"),
        (StoredFile, "owner_id"),
        (CustomFieldValue, "object_id"),
        (CalendarEvent, "object_id"),
    ),
    DuplicateEntity.LEAD: (
        (LeadTagLink, "lead_id"),
        (LeadHistory, "lead_id"),
        (LeadActivity, "lead_id"),
        (OutgoingMail, "lead_id"),
        (InboundMail, "lead_id"),
        (StoredFile, "owner_id"),
        (CustomFieldValue, "object_id"),
        (CalendarEvent, "object_id"),
    ),
}

NOUNS = {
    DuplicateEntity.COMPANY: "Company",
    DuplicateEntity.CONTACT: "Contact",
    DuplicateEntity.LEAD: "Lead",
}
FILE_OWNERS = {
    DuplicateEntity.COMPANY: FileOwner.COMPANY,
    DuplicateEntity.CONTACT: FileOwner.CONTACT,
    DuplicateEntity.LEAD: FileOwner.LEAD,
}
EVENT_TYPES = {
    DuplicateEntity.COMPANY: EventObjectType.COMPANY,
    DuplicateEntity.CONTACT: EventObjectType.CONTACT,
    DuplicateEntity.LEAD: EventObjectType.LEAD,
}
TRASH_TYPES = {
    DuplicateEntity.COMPANY: TrashType.COMPANY,
    DuplicateEntity.CONTACT: TrashType.CONTACT,
    DuplicateEntity.LEAD: TrashType.LEAD,
}
CUSTOM = {
    DuplicateEntity.COMPANY: CustomFieldEntity.COMPANY,
    DuplicateEntity.CONTACT: CustomFieldEntity.CONTACT,
    DuplicateEntity.LEAD: CustomFieldEntity.LEAD,
}

# The fields a merge may choose, by their API name: the columns each one sets.
FIELDS: dict[DuplicateEntity, dict[str, tuple[str, ...]]] = {
    DuplicateEntity.COMPANY: {
        "name": ("name",),
        "address": ("address",),
        "fiscalId": ("fiscal_id",),
        "country": ("country",),
        "website": ("website",),
        "comments": ("comments",),
        "roleId": ("role_id",),
        "parentId": ("parent_id",),
        "managerId": ("manager_id",),
        "paymentConditions": ("payment_conditions",),
        "officePhone": ("office_phone",),
        "generalEmail": ("general_email",),
    },
    DuplicateEntity.CONTACT: {
        "fullName": ("full_name",),
        "email": ("email",),
        "phone": ("phone",),
        "mobile": ("mobile",),
        "position": ("position",),
        "description": ("description",),
        "disabled": ("disabled",),
    },
    DuplicateEntity.LEAD: {
        "fullName": ("full_name",),
        "email": ("email",),
        "phone": ("phone",),
        "mobile": ("mobile",),
        "position": ("position",),
        "prospectCompany": ("prospect_company",),
        "country": ("country",),
        "language": ("language",),
        "product": ("product",),
        "leadTypeId": ("lead_type_id",),
        "channel": ("channel",),
        "estimatedSale": ("estimated_sale_cents", "currency"),
        "closeDate": ("close_date", "close_key"),
        "progress": ("progress",),
        "ownerId": ("owner_id",),
        "companyId": ("company_id",),
        "executiveOverview": ("executive_overview",),
        "description": ("description",),
        "alarmAt": ("alarm_at",),
    },
}
REQUIRED = {"name", "full_name"}
EMAILS = {"email", "general_email"}
TEXT_LIMIT = 10_000


@dataclass
class Choice:
    """One field of the survivor: taken from a merged record, or a value (text fields)."""

    path: str
    field: str | None = None
    custom_field_id: Any = None
    from_id: Any = None
    value: str | None = None


def _text_limit(model: type[Any], column: str) -> int | None:
    """The length limit of a text column; None when the column is not text."""
    field = model._meta.fields_map[column]
    if isinstance(field, TextField):
        return TEXT_LIMIT
    limit = getattr(field, "max_length", None)
    return limit if isinstance(limit, int) else None


@dataclass
class Plan:
    columns: dict[str, Any]
    custom_from: dict[int, int]
    custom_values: dict[int, Any]


async def _plan(
    entity: DuplicateEntity, survivor: Any, others: list[Any], choices: list[Choice]
) -> Plan:
    """The chosen values, checked before anything moves."""
    model = type(survivor)
    records = {r.pk: r for r in [survivor, *others]}
    errors: list[FieldError] = []
    plan = Plan({}, {}, {})
    custom_ids = set(await column_values(CustomField.filter(entity=CUSTOM[entity]), "id"))
    seen: set[str] = set()
    for choice in choices:
        p = choice.path
        try:
            if (choice.field is None) == (choice.custom_field_id is None):
                raise FieldError(p, ErrorCode.INVALID, "Name either a field or a customFieldId.")
            if (choice.from_id is None) == (choice.value is None):
                raise FieldError(p, ErrorCode.INVALID, "Give either fromId or value.")
            source = None
            if choice.from_id is not None:
                source = records.get(parse_id(choice.from_id, f"{p}.fromId"))
                if source is None:
                    raise FieldError(
                        f"{p}.fromId", ErrorCode.INVALID, "Not one of the merged records."
                    )
            if choice.custom_field_id is not None:
                fid = parse_id(choice.custom_field_id, f"{p}.customFieldId")
                if fid not in custom_ids:
                    raise FieldError(
                        f"{p}.customFieldId", ErrorCode.NOT_FOUND, "No such custom field here."
                    )
                if f"custom:{fid}" in seen:
                    raise FieldError(p, ErrorCode.INVALID, "This field is chosen twice.")
                seen.add(f"custom:{fid}")
                if source is not None:
                    plan.custom_from[fid] = source.pk
                else:
                    plan.custom_values[fid] = choice.value
                continue
            name = choice.field or ""
            columns = FIELDS[entity].get(name)
            if columns is None:
                raise FieldError(f"{p}.field", ErrorCode.INVALID, f"No field {name[:60]!r} here.")
            if name in seen:
                raise FieldError(p, ErrorCode.INVALID, "This field is chosen twice.")
            seen.add(name)
            if source is not None:
                for column in columns:
                    plan.columns[column] = getattr(source, column)
                continue
            column = columns[0]
            limit = _text_limit(model, column)
            if limit is None or len(columns) > 1:
                raise FieldError(
                    f"{p}.value", ErrorCode.INVALID, "This field is taken from a record (fromId)."
                )
            text = (choice.value or "").strip()
            if len(text) > limit:
                raise FieldError(f"{p}.value", ErrorCode.TOO_LARGE, f"At most {limit} characters.")
            if column in REQUIRED and not text:
                raise FieldError(f"{p}.value", ErrorCode.REQUIRED, "A value is required.")
            needs_email = column in EMAILS and (text or entity == DuplicateEntity.CONTACT)
            if needs_email and not is_email(text):
                raise FieldError(f"{p}.value", ErrorCode.INVALID, "Not a valid e-mail address.")
            plan.columns[column] = None if column == "fiscal_id" and not text else text
        except FieldError as exc:
            errors.append(exc)
    if errors:
        raise PayloadErrors(errors)
    return plan


async def _conflicts(entity: DuplicateEntity, ids: list[int]) -> None:
    """Unique values the merge would make two rows share: refused, naming both."""
    if entity != DuplicateEntity.COMPANY:
        return
    errors: list[FieldError] = []
    checks: list[tuple[Any, str, str]] = [
        (
            Contact.filter(company_id__in=ids).annotate(k=Lower("email")),
            "k",
            "contacts with e-mail",
        ),
        (Contract.filter(company_id__in=ids), "reference", "contracts with reference"),
    ]
    for queryset, column, what in checks:
        clashes = (
            await queryset.annotate(n=Count("id"))
            .group_by(column)
            .filter(n__gt=1)
            .limit(5)
            .values_list(column, flat=True)
        )
        for value in clashes:
            errors.append(
                FieldError(
                    "otherIds",
                    ErrorCode.CONFLICT,
                    f"The merged companies have {what} {str(value)[:100]!r}: merge or change "
                    "those first.",
                )
            )
    templates = (
        await MailTemplate.filter(company_id__in=ids)
        .annotate(n=Count("id"))
        .group_by("name", "language")
        .filter(n__gt=1)
        .limit(5)
        .values_list("name", "language")
    )
    for name, language in templates:
        errors.append(
            FieldError(
                "otherIds",
                ErrorCode.CONFLICT,
                f"The merged companies have mail templates named {name[:100]!r} ({language}): "
                "rename one first.",
            )
        )
    if errors:
        raise PayloadErrors(errors)


async def _move_custom(entity: DuplicateEntity, survivor_id: int, other_ids: list[int]) -> int:
    """Custom values the survivor lacks come from the others, first named first."""
    fields = Subquery(CustomField.filter(entity=CUSTOM[entity]).values("id"))
    has = set(
        await column_values(
            CustomFieldValue.filter(object_id=survivor_id, field_id__in=fields), "field_id"
        )
    )
    moved = 0
    for other in other_ids:
        rows = await CustomFieldValue.filter(object_id=other, field_id__in=fields)
        for row in rows:
            if row.field_id not in has:
                await CustomFieldValue.filter(id=row.id).update(object_id=survivor_id)
                has.add(row.field_id)
                moved += 1
    # The rest (fields the survivor has) goes to the trash with its record.
    return moved


async def _move_events(entity: DuplicateEntity, survivor_id: int, other_ids: list[int]) -> int:
    """Calendar events about the others move, unless the survivor already has one of
    that owner and kind (one per owner, kind and object): then a lead's stays with it
    (the trash keeps a lead's events), another's stays in its owner's calendar about no
    object. A lead's alarms follow the survivor's alarm time (synced after the merge)."""
    kind = NOUNS[entity]
    events = CalendarEvent.filter(object_type=kind, object_id__in=other_ids)
    if entity == DuplicateEntity.LEAD:
        events = events.exclude(kind=CalendarEventKind.LEAD_ALARM)
    moved = 0
    for event in await events:
        taken = await CalendarEvent.filter(
            owner_id=event.owner_id, kind=event.kind, object_type=kind, object_id=survivor_id
        ).exists()
        if not taken:
            await CalendarEvent.filter(id=event.id).update(object_id=survivor_id)
            moved += 1
        elif entity != DuplicateEntity.LEAD:
            await CalendarEvent.filter(id=event.id).update(object_type="", object_id=None)
    return moved


# Rows a company merge moves that the event log follows: their company changes.
COMPANY_EVENTS: tuple[tuple[type[Any], EventObjectType], ...] = (
    (Contact, EventObjectType.CONTACT),
    (Contract, EventObjectType.CONTRACT),
    (Invoice, EventObjectType.INVOICE),
    (Activity, EventObjectType.ACTIVITY),
    (Lead, EventObjectType.LEAD),
)


async def _company_events(viewer: Viewer, survivor_id: int, other_ids: list[int]) -> None:
    """An UPDATE event (companyId old -> new) per row the merge moves, one statement
    per kind; read before the move."""
    for model, kind in COMPANY_EVENTS:
        rows = await model.filter(company_id__in=other_ids).values_list("id", "company_id")
        await events.record_many(
            get_connection("default"),
            kind,
            [
                (i, EventAction.UPDATE, {"company_id": [old, survivor_id]}, survivor_id)
                for i, old in rows
            ],
            viewer.user.id,
        )


async def _move_company(survivor: Company, other_ids: list[int]) -> dict[str, int]:
    moved: dict[str, int] = {}
    forget_tokens()  # the others' users now belong to the survivor
    for model, column in RELATIONS[DuplicateEntity.COMPANY][:7]:
        moved[model._meta.db_table] = await model.filter(**{f"{column}__in": other_ids}).update(
            **{column: survivor.id}
        )
    children = await Company.filter(parent_id__in=other_ids).order_by("id")
    for child in children:
        await Company.filter(id=child.id).update(parent_id=survivor.id)
        await companies._reparent(child, f"{survivor.path}{child.id}/")
    moved["children"] = len(children)
    for billing in await CompanyBilling.filter(company_id__in=other_ids):
        mine = await CompanyBilling.filter(
            company_id=survivor.id, currency=billing.currency
        ).first()
        if mine is None:
            await CompanyBilling.filter(id=billing.id).update(company_id=survivor.id)
        else:
            await CompanyBilling.filter(id=mine.id).update(cents=mine.cents + billing.cents)
            await CompanyBilling.filter(id=billing.id).delete()
    # Files of the others' contacts, contracts and invoices now belong to the survivor.
    moved["files_of_children"] = await StoredFile.filter(company_id__in=other_ids).update(
        company_id=survivor.id
    )
    latest = [
        c
        for c in await Company.filter(id__in=[survivor.id, *other_ids])
        if c.last_activity_at is not None
    ]
    if latest:
        newest = max(latest, key=lambda c: c.last_activity_key)
        survivor.last_activity_at = newest.last_activity_at
        survivor.last_activity_key = newest.last_activity_key
    return moved


async def _move_contact(viewer: Viewer, survivor: Contact, other_ids: list[int]) -> dict[str, int]:
    # A contact's activities show in its company's feed: they follow the survivor there.
    rows = await Activity.filter(contact_id__in=other_ids).values_list(
        "id", "contact_id", "company_id"
    )
    await events.record_many(
        get_connection("default"),
        EventObjectType.ACTIVITY,
        [
            (
                i,
                EventAction.UPDATE,
                {"contact_id": [contact, survivor.id], "company_id": [company, survivor.company_id]}
                if company != survivor.company_id
                else {"contact_id": [contact, survivor.id]},
                survivor.company_id,
            )
            for i, contact, company in rows
        ],
        viewer.user.id,
    )
    moved = await Activity.filter(contact_id__in=other_ids).update(
        contact_id=survivor.id, company_id=survivor.company_id
    )
    return {"activities": moved}


async def _move_lead(survivor: Lead, other_ids: list[int]) -> dict[str, int]:
    moved: dict[str, int] = {}
    tags = set(await column_values(LeadTagLink.filter(lead_id=survivor.id), "tag_id"))
    links = await LeadTagLink.filter(lead_id__in=other_ids).order_by("id")
    count = 0
    for link in links:
        if link.tag_id not in tags:  # a tag the survivor has stays on the trashed lead
            await LeadTagLink.filter(id=link.id).update(lead_id=survivor.id)
            tags.add(link.tag_id)
            count += 1
    moved["lead_tag_links"] = count
    for model, column in RELATIONS[DuplicateEntity.LEAD][1:5]:
        moved[model._meta.db_table] = await model.filter(**{f"{column}__in": other_ids}).update(
            **{column: survivor.id}
        )
    return moved


async def _remove(
    viewer: Viewer, entity: DuplicateEntity, record: Any, survivor_id: int, request_id: str
) -> None:
    """A merged-away record goes to the trash with what is left on it (values and tags
    the survivor already had); the audit log names the survivor it went into."""
    snapshot = audit.snapshot(record)
    snapshot["merged_into"] = survivor_id
    await audit.record(viewer.user, audit.DELETE, NOUNS[entity], record.pk, snapshot, request_id)
    await events.record(
        None,
        EVENT_TYPES[entity],
        record.pk,
        EventAction.DELETE,
        {},
        viewer.user.id,
        *_event_place(entity, record),
    )
    await trash.move_to_trash(TRASH_TYPES[entity], [record.pk], viewer.user)


def _event_place(entity: DuplicateEntity, record: Any) -> tuple[int | None, dict[str, Any] | None]:
    """(company id, scope) of a record's events, as its domain writes them."""
    if entity == DuplicateEntity.COMPANY:
        return record.pk, None
    if entity == DuplicateEntity.CONTACT:
        return record.company_id, None
    return record.company_id, {"ownerId": record.owner_id}


async def _check_unique(entity: DuplicateEntity, survivor: Any, columns: dict[str, Any]) -> None:
    """Unique values of the survivor, once the others are gone."""
    if entity == DuplicateEntity.COMPANY:
        if "name" in columns:
            clash = Company.annotate(k=Lower("name")).filter(k=survivor.name.lower())
            if await clash.exclude(id=survivor.id).exists():
                raise FieldError("fields", ErrorCode.UNIQUE, "Another company has this name.")
        fiscal = Company.filter(fiscal_id=survivor.fiscal_id).exclude(id=survivor.id)
        if columns.get("fiscal_id") and await fiscal.exists():
            raise FieldError("fields", ErrorCode.UNIQUE, "Another company has this fiscalId.")
        if "parent_id" in columns and survivor.parent_id is not None:
            parent = await Company.filter(id=survivor.parent_id).first()
            if parent is None or parent.path.startswith(survivor.path):
                raise FieldError(
                    "fields", ErrorCode.INVALID, "A company cannot be its own parent or ancestor."
                )
    if entity == DuplicateEntity.CONTACT and "email" in columns:
        taken = Contact.annotate(k=Lower("email")).filter(
            company_id=survivor.company_id, k=survivor.email.lower()
        )
        if await taken.exclude(id=survivor.id).exists():
            raise FieldError(
                "fields", ErrorCode.UNIQUE, "Another contact of this company has this e-mail."
            )


async def merge(
    viewer: Viewer,
    entity: DuplicateEntity,
    survivor: Any,
    others: list[Any],
    choices: list[Choice],
    request_id: str = "",
) -> Any:
    """Merge `others` into `survivor` (see the module's docstring). Returns the survivor."""
    other_ids = [o.pk for o in others]
    plan = await _plan(entity, survivor, others, choices)
    if entity == DuplicateEntity.COMPANY:
        for i, other in enumerate(others):
            if other.path and survivor.path.startswith(other.path):
                raise FieldError(
                    f"otherIds[{i}]",
                    ErrorCode.INVALID,
                    "This company is an ancestor of the survivor: choose it as the survivor, "
                    "or move the survivor first.",
                )
    await _conflicts(entity, [survivor.pk, *other_ids])
    before = audit.snapshot(survivor)
    # Values chosen from another record are read before that record's values go.
    custom_from: dict[int, str | None] = {}
    for fid, source in plan.custom_from.items():
        custom_from[fid] = (await customfields.current_values(source, [fid])).get(fid)
    moved: dict[str, int] = {}
    if entity == DuplicateEntity.COMPANY:
        await _company_events(viewer, survivor.pk, other_ids)
        moved = await _move_company(survivor, other_ids)
    elif entity == DuplicateEntity.CONTACT:
        moved = await _move_contact(viewer, survivor, other_ids)
    else:
        moved = await _move_lead(survivor, other_ids)
    owner = FILE_OWNERS[entity]
    company_of_files = survivor.company_id if entity != DuplicateEntity.COMPANY else survivor.pk
    moved["files"] = await StoredFile.filter(owner_kind=owner, owner_id__in=other_ids).update(
        owner_id=survivor.pk, company_id=company_of_files
    )
    moved["custom_values"] = await _move_custom(entity, survivor.pk, other_ids)
    moved["calendar_events"] = await _move_events(entity, survivor.pk, other_ids)
    for other in others:
        await _remove(viewer, entity, other, survivor.pk, request_id)
    for column, value in plan.columns.items():
        setattr(survivor, column, value)
    await _check_unique(entity, survivor, plan.columns)
    if "parent_id" in plan.columns and entity == DuplicateEntity.COMPANY:
        parent = await Company.filter(id=survivor.parent_id or 0).first()
        await companies._reparent(survivor, f"{parent.path if parent else '/'}{survivor.pk}/")
    try:
        await save_versioned(survivor, NOUNS[entity].lower())
    except IntegrityError:
        raise FieldError("fields", ErrorCode.UNIQUE, "A chosen value is taken.") from None
    if custom_from:
        await customfields.write_values(survivor.pk, custom_from)
    if plan.custom_values:
        await customfields.set_values(
            CUSTOM[entity],
            survivor.pk,
            plan.custom_values,
            creating=False,
            owner_id=survivor.lead_type_id if entity == DuplicateEntity.LEAD else None,
        )
    changes: dict[str, Any] = audit.diff(before, audit.snapshot(survivor))
    changes["merged"] = other_ids
    changes["moved"] = {k: v for k, v in moved.items() if v}
    await audit.record(viewer.user, audit.UPDATE, NOUNS[entity], survivor.pk, changes, request_id)
    await events.record(
        None,
        EVENT_TYPES[entity],
        survivor.pk,
        EventAction.UPDATE,
        {**audit.diff(before, audit.snapshot(survivor)), "merged": [None, other_ids]},
        viewer.user.id,
        *_event_place(entity, survivor),
    )
    if entity == DuplicateEntity.LEAD:
        names = ", ".join(f"#{i}" for i in other_ids)
        await add_history(
            survivor.pk, viewer.user, LeadHistoryKind.UPDATED, f"Merged leads {names} into this one"
        )
        await calendar.sync_lead_alarm(survivor)
    return survivor
