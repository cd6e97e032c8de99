"""Leads (SPEC §7): validation, history written by the server, tags, types, activities,
ownership, closing, deletion and saved searches.

Callers run these inside one transaction (`services.mutations.atomic`) after checking
the viewer's rights with `permissions/leads.py`; services do not import that layer."""

from __future__ import annotations

from datetime import date
from typing import Any

from tortoise.functions import Lower

from crm_graphql.errors import FieldError, PayloadErrors
from crm_graphql.models.companies import Company
from crm_graphql.models.customfields import CustomField, CustomFieldEntity
from crm_graphql.models.files import FileOwner
from crm_graphql.models.leads import (
    CLOSED_FROM,
    DEFAULT_CHANNELS,
    PROGRESS_NAMES,
    Lead,
    LeadActivity,
    LeadActivityKind,
    LeadHistory,
    LeadHistoryKind,
    LeadTag,
    LeadTagLink,
    LeadType,
    SavedLeadSearch,
)
from crm_graphql.models.setup import CrmSetup
from crm_graphql.models.users import User
from crm_graphql.services import audit, calendar, customfields, files
from crm_graphql.services.auth import Viewer
from crm_graphql.services.contracts import camel, parse_ref
from crm_graphql.services.mutations import check_version, save_versioned, unique_name
from crm_graphql.services.orm import column_values
from crm_graphql.values import cents_to_decimal, currency_code, is_email, parse_amount

TEXT_LIMITS = {
    "full_name": 200,
    "email": 254,
    "phone": 60,
    "mobile": 60,
    "position": 100,
    "prospect_company": 200,
    "country": 100,
    "language": 10,
    "product": 100,
    "channel": 60,
    "executive_overview": 20_000,
    "description": 20_000,
}
COLOUR_CHARS = set("0123456789abcdefABCDEF")
NO_CLOSE_DATE = 99991231
# Changes with a history line of their own; other columns are listed under "updated".
TRACKED = ("progress", "estimated_sale_cents", "currency", "close_date", "owner_id")
ACTIVITY_LIMIT = 100_000


# ---------------------------------------------------------------- setup-driven values


def progress_names(setup: CrmSetup | None) -> dict[int, str]:
    """Every progress code with its name: CRM setup's override, else the default."""
    custom = (setup.lead_progress_names if setup else None) or {}
    return {code: str(custom.get(str(code)) or name) for code, name in PROGRESS_NAMES.items()}


def progress_name(setup: CrmSetup | None, code: int) -> str:
    return progress_names(setup).get(code, str(code))


def channels(setup: CrmSetup | None) -> list[str]:
    return list((setup.lead_channels if setup else None) or DEFAULT_CHANNELS)


def check_progress(code: Any, field: str = "progress") -> int:
    if code not in PROGRESS_NAMES:
        known = ", ".join(str(c) for c in PROGRESS_NAMES)
        raise FieldError(field, "INVALID", f"Unknown progress code {code}; one of {known}.")
    return int(code)


def close_key(day: date | None) -> int:
    return NO_CLOSE_DATE if day is None else day.year * 10_000 + day.month * 100 + day.day


# ---------------------------------------------------------------- history


async def add_history(
    lead_id: int, user: User | None, kind: LeadHistoryKind, description: str
) -> LeadHistory:
    return await LeadHistory.create(
        lead_id=lead_id, user_id=user.id if user else None, kind=kind, description=description
    )


def _money(cents: int, currency: str) -> str:
    return f"{cents_to_decimal(cents)} {currency}"


async def _history_of_changes(
    lead: Lead, before: dict[str, Any], others: list[str], user: User | None, setup: CrmSetup
) -> None:
    """One line per tracked change, then "updated" for the rest."""
    lines: list[tuple[LeadHistoryKind, str]] = []
    if before["progress"] != lead.progress:
        names = progress_names(setup)
        old, new = names[before["progress"]], names[lead.progress]
        kind = LeadHistoryKind.CLOSED if lead.progress >= CLOSED_FROM else LeadHistoryKind.PROGRESS
        lines.append((kind, f"Progress {old} -> {new}"))
    if (before["estimated_sale_cents"], before["currency"]) != (
        lead.estimated_sale_cents,
        lead.currency,
    ):
        old = _money(before["estimated_sale_cents"], before["currency"])
        lines.append(
            (
                LeadHistoryKind.ESTIMATED_SALE,
                f"Estimated sale {old} -> {_money(lead.estimated_sale_cents, lead.currency)}",
            )
        )
    if before["close_date"] != lead.close_date:
        old = before["close_date"].isoformat() if before["close_date"] else "none"
        new = lead.close_date.isoformat() if lead.close_date else "none"
        lines.append((LeadHistoryKind.CLOSE_DATE, f"Close date {old} -> {new}"))
    if before["owner_id"] != lead.owner_id:
        usernames: dict[int | None, str] = dict(
            await User.filter(
                id__in=[i for i in (before["owner_id"], lead.owner_id) if i]
            ).values_list("id", "username")
        )
        old = usernames.get(before["owner_id"], "nobody")
        lines.append(
            (
                LeadHistoryKind.OWNER_CHANGED,
                f"Owner {old} -> {usernames.get(lead.owner_id, 'nobody')}",
            )
        )
    if others:
        lines.append((LeadHistoryKind.UPDATED, "Updated: " + ", ".join(others)))
    if lines:
        await LeadHistory.bulk_create(
            [
                LeadHistory(
                    lead_id=lead.id, user_id=user.id if user else None, kind=k, description=d
                )
                for k, d in lines
            ]
        )


# ---------------------------------------------------------------- validation


def _clean(data: dict[str, Any], setup: CrmSetup, errors: list[FieldError]) -> None:
    """Normalise the input (model column names) in place; collect every problem."""
    for name, limit in TEXT_LIMITS.items():
        if name in data:
            value = "" if data[name] is None else str(data[name]).strip()
            if len(value) > limit:
                errors.append(FieldError(camel(name), "TOO_LARGE", f"At most {limit} characters."))
            data[name] = value
    if "full_name" in data and not data["full_name"]:
        errors.append(FieldError("fullName", "REQUIRED", "A lead needs a name."))
    if data.get("email"):
        data["email"] = data["email"].lower()
        if not is_email(data["email"]):
            errors.append(FieldError("email", "INVALID", "Not a valid e-mail address."))
    if data.get("channel") and data["channel"] not in channels(setup):
        errors.append(
            FieldError(
                "channel",
                "INVALID",
                f"Unknown channel; one of {', '.join(channels(setup))} (CRM setup).",
            )
        )
    if "progress" in data:
        try:
            data["progress"] = check_progress(data["progress"])
        except FieldError as exc:
            errors.append(exc)
    if "estimated_sale" in data:
        raw = data.pop("estimated_sale")
        try:
            data["estimated_sale_cents"] = 0 if raw in (None, "") else parse_amount(raw, "")
        except FieldError as exc:
            errors.append(FieldError("estimatedSale", exc.code, exc.message))
    if "currency" in data:
        try:
            data["currency"] = currency_code(data["currency"] or "", "currency")
        except FieldError as exc:
            errors.append(exc)
    if "close_date" in data:
        data["close_key"] = close_key(data["close_date"])


async def _references(
    data: dict[str, Any], errors: list[FieldError], visible_companies: Any
) -> None:
    """Owner, managing company (one the viewer can see) and lead type must exist."""
    checks = (
        ("owner_id", "ownerId", User.filter(enabled=True), "No such user."),
        ("company_id", "companyId", visible_companies, "No such company."),
        ("lead_type_id", "leadTypeId", LeadType.all(), "No such lead type."),
    )
    for key, field, queryset, message in checks:
        if data.get(key) is None:
            continue
        try:
            ident = parse_ref(data[key], field)
            if not await queryset.filter(id=ident).exists():
                raise FieldError(field, "NOT_FOUND", message)
            data[key] = ident
        except FieldError as exc:
            errors.append(exc)


async def tag_ids(raw: list[Any] | None, field: str = "tagIds") -> list[int]:
    wanted = sorted({parse_ref(v, field) for v in raw or []})
    if not wanted:
        return []
    found = set(await column_values(LeadTag.filter(id__in=wanted), "id"))
    missing = [str(i) for i in wanted if i not in found]
    if missing:
        raise FieldError(field, "NOT_FOUND", f"No such tag: {', '.join(missing)}.")
    return wanted


async def is_duplicate(email: str, exclude_id: int | None = None) -> bool:
    if not email:
        return False
    found = Lead.annotate(lower_email=Lower("email")).filter(lower_email=email.lower())
    if exclude_id is not None:
        found = found.exclude(id=exclude_id)
    return await found.exists()


async def _custom_values(lead: Lead, raw: list[Any] | None, *, creating: bool) -> dict[int, Any]:
    changes: dict[int, Any] = {}
    for item in raw or []:
        changes[parse_ref(item.field_id, "customFields")] = item.value
    if lead.lead_type_id is None:
        if changes:
            raise FieldError(
                "customFields", "INVALID", "A lead without a type has no custom fields."
            )
        return {}
    return await customfields.set_values(
        CustomFieldEntity.LEAD, lead.id, changes, creating=creating, owner_id=lead.lead_type_id
    )


# ---------------------------------------------------------------- leads


async def create_lead(
    viewer: Viewer,
    data: dict[str, Any],
    setup: CrmSetup,
    *,
    visible_companies: Any,
    refuse_duplicates: bool = False,
    request_id: str = "",
) -> Lead:
    errors: list[FieldError] = []
    data.setdefault("currency", setup.default_currency)
    tags_raw = data.pop("tag_ids", None)
    custom_raw = data.pop("custom_fields", None)
    _clean(data, setup, errors)
    if not data.get("full_name") and not any(e.field == "fullName" for e in errors):
        errors.append(FieldError("fullName", "REQUIRED", "A lead needs a name."))
    await _references(data, errors, visible_companies)
    tags: list[int] = []
    try:
        tags = await tag_ids(tags_raw)
    except FieldError as exc:
        errors.append(exc)
    duplicate = await is_duplicate(data.get("email", ""))
    if duplicate and refuse_duplicates:
        errors.append(FieldError("email", "DUPLICATE", "A lead with this e-mail already exists."))
    if errors:
        raise PayloadErrors(errors)
    lead = await Lead.create(**data, duplicate=duplicate)
    written = await _custom_values(lead, custom_raw, creating=True)
    if tags:
        await LeadTagLink.bulk_create([LeadTagLink(lead_id=lead.id, tag_id=t) for t in tags])
    text = "Created" + (" (duplicate e-mail)" if duplicate else "")
    await add_history(lead.id, viewer.user, LeadHistoryKind.CREATED, text)
    await calendar.sync_lead_alarm(lead)
    snapshot = audit.snapshot(lead)
    if written:
        snapshot["custom_fields"] = {str(k): v for k, v in written.items()}
    if tags:
        snapshot["tag_ids"] = tags
    await audit.record(viewer.user, audit.CREATE, "Lead", lead.id, snapshot, request_id)
    return lead


async def update_lead(
    viewer: Viewer,
    lead: Lead,
    data: dict[str, Any],
    setup: CrmSetup,
    *,
    visible_companies: Any,
    request_id: str = "",
) -> Lead:
    check_version(lead, data, "lead")
    errors: list[FieldError] = []
    tags_raw = data.pop("tag_ids", None)
    custom_raw = data.pop("custom_fields", None)
    for key in ("full_name", "progress", "currency"):
        if key in data and data[key] is None:
            errors.append(FieldError(camel(key), "REQUIRED", "This value is required."))
            data.pop(key)
    _clean(data, setup, errors)
    await _references(data, errors, visible_companies)
    tags: list[int] | None = None
    if tags_raw is not None:
        try:
            tags = await tag_ids(tags_raw)
        except FieldError as exc:
            errors.append(exc)
    if errors:
        raise PayloadErrors(errors)
    before = audit.snapshot(lead)
    tracked = {k: getattr(lead, k) for k in TRACKED}
    type_changed = "lead_type_id" in data and data["lead_type_id"] != lead.lead_type_id
    for key, value in data.items():
        setattr(lead, key, value)
    await save_versioned(lead, "lead")
    if type_changed:
        await customfields.delete_values(CustomFieldEntity.LEAD, lead.id)
    written = await _custom_values(lead, custom_raw, creating=type_changed)
    changed: dict[str, Any] = audit.diff(before, audit.snapshot(lead))
    for key in ("updated_at", "version"):
        changed.pop(key, None)
    others = [camel(k) for k in changed if k not in TRACKED and k != "close_key"]
    if written:
        changed["custom_fields"] = {str(k): v for k, v in written.items()}
        others.append("customFields")
    if tags is not None:
        old = await tag_ids_of(lead.id)
        if old != tags:
            await set_tags(lead.id, tags)
            changed["tag_ids"] = [old, tags]
            others.append("tags")
    await _history_of_changes(lead, tracked, others, viewer.user, setup)
    await calendar.sync_lead_alarm(lead)
    await audit.record(viewer.user, audit.UPDATE, "Lead", lead.id, changed, request_id)
    return lead


async def tag_ids_of(lead_id: int) -> list[int]:
    return sorted(await column_values(LeadTagLink.filter(lead_id=lead_id), "tag_id"))


async def set_tags(lead_id: int, tags: list[int]) -> None:
    await LeadTagLink.filter(lead_id=lead_id).delete()
    if tags:
        await LeadTagLink.bulk_create([LeadTagLink(lead_id=lead_id, tag_id=t) for t in tags])


async def change_tags(
    viewer: Viewer, lead: Lead, add: list[int], remove: list[int], request_id: str = ""
) -> Lead:
    old = await tag_ids_of(lead.id)
    new = sorted((set(old) | set(add)) - set(remove))
    if new != old:
        await set_tags(lead.id, new)
        await touch(lead)
        await add_history(lead.id, viewer.user, LeadHistoryKind.UPDATED, "Updated: tags")
        await audit.record(
            viewer.user, audit.UPDATE, "Lead", lead.id, {"tag_ids": [old, new]}, request_id
        )
    return lead


async def touch(lead: Lead) -> None:
    """A change that is not a column still makes the lead recently updated."""
    lead.version += 1
    await lead.save(update_fields=["version", "updated_at"])


async def take_lead(viewer: Viewer, lead: Lead, request_id: str = "") -> Lead:
    """The viewer becomes the owner; the managing company becomes the viewer's company."""
    lead.owner_id = viewer.user.id
    lead.company_id = viewer.user.company_id
    lead.version += 1
    await lead.save()
    await add_history(
        lead.id,
        viewer.user,
        LeadHistoryKind.OWNER_TAKEN,
        f"Ownership taken by {viewer.user.username}",
    )
    await calendar.sync_lead_alarm(lead)
    await audit.record(
        viewer.user,
        audit.UPDATE,
        "Lead",
        lead.id,
        {"owner_id": [None, viewer.user.id], "company_id": [None, lead.company_id]},
        request_id,
    )
    return lead


async def assign_owner(
    viewer: Viewer, lead: Lead, owner_id: Any, setup: CrmSetup, request_id: str = ""
) -> Lead:
    ident = parse_ref(owner_id, "ownerId")
    if not await User.filter(id=ident, enabled=True).exists():
        raise FieldError("ownerId", "NOT_FOUND", "No such user.")
    return await update_lead(
        viewer,
        lead,
        {"owner_id": ident},
        setup,
        visible_companies=Company.all(),
        request_id=request_id,
    )


async def set_progress(
    viewer: Viewer, lead: Lead, progress: int, setup: CrmSetup, request_id: str = ""
) -> Lead:
    return await update_lead(
        viewer,
        lead,
        {"progress": progress},
        setup,
        visible_companies=Company.all(),
        request_id=request_id,
    )


async def close_lead(
    viewer: Viewer, lead: Lead, progress: int, setup: CrmSetup, request_id: str = ""
) -> Lead:
    if check_progress(progress) < CLOSED_FROM:
        raise FieldError("progress", "INVALID", "Close with a closed code (100, 101, 102, 200).")
    if lead.progress >= CLOSED_FROM and lead.progress == progress:
        raise FieldError("id", "CONFLICT", "The lead is already closed so.")
    return await set_progress(viewer, lead, progress, setup, request_id)


async def delete_lead(viewer: Viewer, lead: Lead, request_id: str = "") -> None:
    await audit.record(viewer.user, audit.DELETE, "Lead", lead.id, audit.snapshot(lead), request_id)
    await customfields.delete_values(CustomFieldEntity.LEAD, lead.id)
    await files.delete_for_owners(FileOwner.LEAD, [lead.id], viewer.user, request_id=request_id)
    await calendar.delete_object_events("Lead", lead.id)
    await lead.delete()  # history, activities and tag links cascade


# ---------------------------------------------------------------- activities


def clean_activity(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise FieldError("text", "REQUIRED", "A note needs some text.")
    if len(text) > ACTIVITY_LIMIT:
        raise FieldError("text", "TOO_LARGE", f"At most {ACTIVITY_LIMIT} characters.")
    return text


async def add_activity(
    lead: Lead,
    author: User | None,
    text: str,
    *,
    kind: LeadActivityKind = LeadActivityKind.NOTE,
    sender: str = "",
    subject: str = "",
    request_id: str = "",
) -> LeadActivity:
    """A note, or a mail's body; the lead counts as updated."""
    activity = await LeadActivity.create(
        lead_id=lead.id,
        author_id=author.id if author else None,
        kind=kind,
        sender=sender[:320],
        subject=subject[:500],
        text=clean_activity(text),
    )
    await touch(lead)
    if author is not None:
        await audit.record(
            author, audit.CREATE, "LeadActivity", activity.id, {"lead_id": lead.id}, request_id
        )
    return activity


# ---------------------------------------------------------------- types and tags


async def save_type(
    viewer: Viewer, kind: LeadType | None, data: dict[str, Any], request_id: str = ""
) -> LeadType:
    data["name"] = await unique_name(LeadType, data.get("name") or "", kind.id if kind else None)
    data["description"] = (data.get("description") or "").strip()
    if len(data["description"]) > 255:
        raise FieldError("description", "TOO_LARGE", "At most 255 characters.")
    if kind is None:
        kind = await LeadType.create(**data)
        await audit.record(
            viewer.user, audit.CREATE, "LeadType", kind.id, audit.snapshot(kind), request_id
        )
        return kind
    before = audit.snapshot(kind)
    kind.update_from_dict(data)
    await kind.save()
    await audit.record(
        viewer.user,
        audit.UPDATE,
        "LeadType",
        kind.id,
        audit.diff(before, audit.snapshot(kind)),
        request_id,
    )
    return kind


async def delete_type(viewer: Viewer, kind: LeadType, request_id: str = "") -> None:
    """Refused while leads use it; its custom fields go with it."""
    if await Lead.filter(lead_type_id=kind.id).exists():
        raise FieldError("id", "CONFLICT", "Leads use this type; change or delete them first.")
    await audit.record(
        viewer.user, audit.DELETE, "LeadType", kind.id, audit.snapshot(kind), request_id
    )
    field_ids = list(
        await CustomField.filter(entity=CustomFieldEntity.LEAD, owner_id=kind.id).values_list(
            "id", flat=True
        )
    )
    await CustomField.filter(id__in=field_ids, parent_id__isnull=False).delete()
    await CustomField.filter(id__in=field_ids).delete()
    await kind.delete()


def check_colour(value: str) -> str:
    colour = (value or "").strip()
    if len(colour) != 7 or colour[0] != "#" or not set(colour[1:]) <= COLOUR_CHARS:
        raise FieldError("colour", "INVALID", "A colour is #rrggbb (hexadecimal).")
    return colour.lower()


async def save_tag(
    viewer: Viewer, tag: LeadTag | None, data: dict[str, Any], request_id: str = ""
) -> LeadTag:
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    try:
        values["name"] = await unique_name(
            LeadTag, data.get("name") or "", tag.id if tag else None, 60
        )
    except FieldError as exc:
        errors.append(exc)
    try:
        values["colour"] = check_colour(data.get("colour") or "")
    except FieldError as exc:
        errors.append(exc)
    if errors:
        raise PayloadErrors(errors)
    if tag is None:
        tag = await LeadTag.create(**values)
        await audit.record(viewer.user, audit.CREATE, "LeadTag", tag.id, values, request_id)
        return tag
    before = audit.snapshot(tag)
    tag.update_from_dict(values)
    await tag.save()
    await audit.record(
        viewer.user,
        audit.UPDATE,
        "LeadTag",
        tag.id,
        audit.diff(before, audit.snapshot(tag)),
        request_id,
    )
    return tag


async def delete_tag(viewer: Viewer, tag: LeadTag, request_id: str = "") -> None:
    await audit.record(
        viewer.user, audit.DELETE, "LeadTag", tag.id, audit.snapshot(tag), request_id
    )
    await tag.delete()  # links cascade


# ---------------------------------------------------------------- saved searches


async def save_search(user: User, name: str, flt: Any) -> SavedLeadSearch:
    """Saving under an existing name replaces that search's filter."""
    name = (name or "").strip()
    if not name:
        raise FieldError("name", "REQUIRED", "A saved search needs a name.")
    if len(name) > 100:
        raise FieldError("name", "TOO_LARGE", "At most 100 characters.")
    found = await SavedLeadSearch.filter(user_id=user.id, name=name).first()
    if found is not None:
        found.filter_json = flt
        await found.save()
        return found
    if await SavedLeadSearch.filter(user_id=user.id).count() >= 200:
        raise FieldError("name", "TOO_LARGE", "At most 200 saved searches per user.")
    return await SavedLeadSearch.create(user_id=user.id, name=name, filter_json=flt)
