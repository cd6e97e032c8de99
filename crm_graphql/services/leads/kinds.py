"""Lead types and lead tags."""

from __future__ import annotations

from typing import Any

from crm_graphql.errors import ErrorCode, FieldError, PayloadErrors
from crm_graphql.models.customfields import CustomField, CustomFieldEntity
from crm_graphql.models.leads import Lead, LeadTag, LeadType
from crm_graphql.services import audit
from crm_graphql.services.auth import Viewer
from crm_graphql.services.mutations import unique_name

COLOUR_CHARS = set("0123456789abcdefABCDEF")


async def save_type(
    viewer: Viewer, kind: LeadType | None, data: dict[str, Any], request_id: str = ""
) -> LeadType:
    data["name"] = await unique_name(LeadType, data.get("name") or "", kind.id if kind else None)
    data["description"] = (data.get("description") or "").strip()
    if len(data["description"]) > 255:
        raise FieldError("description", ErrorCode.TOO_LARGE, "At most 255 characters.")
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
        raise FieldError(
            "id", ErrorCode.CONFLICT, "Leads use this type; change or delete them first."
        )
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
        raise FieldError("colour", ErrorCode.INVALID, "A colour is #rrggbb (hexadecimal).")
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
