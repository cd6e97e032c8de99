"""Creating and changing leads: validation, duplicates, tags, custom values, history and
audit in the caller's transaction."""

from __future__ import annotations

from typing import Any

from tortoise.functions import Lower

from crm_graphql.errors import ErrorCode, FieldError, PayloadErrors
from crm_graphql.models.customfields import CustomFieldEntity
from crm_graphql.models.events import EventAction, EventObjectType
from crm_graphql.models.leads import Lead, LeadHistoryKind, LeadTag, LeadTagLink, LeadType
from crm_graphql.models.setup import CrmSetup
from crm_graphql.models.users import User
from crm_graphql.services import audit, calendar, customfields, events
from crm_graphql.services.auth import Viewer
from crm_graphql.services.contracts import camel, parse_ref
from crm_graphql.services.leads.history import add_history, history_of_changes
from crm_graphql.services.leads.values import channels, check_progress, close_key
from crm_graphql.services.mutations import check_version, save_versioned
from crm_graphql.services.orm import column_values
from crm_graphql.values import currency_code, is_email, parse_amount

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
# Changes with a history line of their own; other columns are listed under "updated".
TRACKED = ("progress", "estimated_sale_cents", "currency", "close_date", "owner_id")


def _clean(data: dict[str, Any], setup: CrmSetup, errors: list[FieldError]) -> None:
    """Normalise the input (model column names) in place; collect every problem."""
    for name, limit in TEXT_LIMITS.items():
        if name in data:
            value = "" if data[name] is None else str(data[name]).strip()
            if len(value) > limit:
                errors.append(
                    FieldError(camel(name), ErrorCode.TOO_LARGE, f"At most {limit} characters.")
                )
            data[name] = value
    if "full_name" in data and not data["full_name"]:
        errors.append(FieldError("fullName", ErrorCode.REQUIRED, "A lead needs a name."))
    if data.get("email"):
        data["email"] = data["email"].lower()
        if not is_email(data["email"]):
            errors.append(FieldError("email", ErrorCode.INVALID, "Not a valid e-mail address."))
    if data.get("channel") and data["channel"] not in channels(setup):
        errors.append(
            FieldError(
                "channel",
                ErrorCode.INVALID,
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
                raise FieldError(field, ErrorCode.NOT_FOUND, message)
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
        raise FieldError(field, ErrorCode.NOT_FOUND, f"No such tag: {', '.join(missing)}.")
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
                "customFields", ErrorCode.INVALID, "A lead without a type has no custom fields."
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
        errors.append(FieldError("fullName", ErrorCode.REQUIRED, "A lead needs a name."))
    await _references(data, errors, visible_companies)
    tags: list[int] = []
    try:
        tags = await tag_ids(tags_raw)
    except FieldError as exc:
        errors.append(exc)
    duplicate = await is_duplicate(data.get("email", ""))
    if duplicate and refuse_duplicates:
        errors.append(
            FieldError("email", ErrorCode.DUPLICATE, "A lead with this e-mail already exists.")
        )
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
    await events.record(
        None,
        EventObjectType.LEAD,
        lead.id,
        EventAction.CREATE,
        events.created(snapshot),
        viewer.user.id,
        lead.company_id,
        scope={"ownerId": lead.owner_id},
    )
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
            errors.append(FieldError(camel(key), ErrorCode.REQUIRED, "This value is required."))
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
    await history_of_changes(lead, tracked, others, viewer.user, setup)
    await calendar.sync_lead_alarm(lead)
    await audit.record(viewer.user, audit.UPDATE, "Lead", lead.id, changed, request_id)
    await events.record(
        None,
        EventObjectType.LEAD,
        lead.id,
        EventAction.UPDATE,
        changed,
        viewer.user.id,
        lead.company_id,
        scope={"ownerId": lead.owner_id},
    )
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
        await events.record(
            None,
            EventObjectType.LEAD,
            lead.id,
            EventAction.UPDATE,
            {"tag_ids": [old, new]},
            viewer.user.id,
            lead.company_id,
            scope={"ownerId": lead.owner_id},
        )
    return lead


async def touch(lead: Lead) -> None:
    """A change that is not a column still makes the lead recently updated."""
    lead.version += 1
    await lead.save(update_fields=["version", "updated_at"])
