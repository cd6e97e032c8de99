"""Custom fields: definitions, value validation and storage, shared by every entity
that has them (companies, contacts, contract types, lead types)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from tortoise.expressions import Q, Subquery

from crm_graphql.errors import ErrorCode, FieldError, PayloadErrors
from crm_graphql.models.contracts import ContractType
from crm_graphql.models.customfields import (
    CustomField,
    CustomFieldEntity,
    CustomFieldKind,
    CustomFieldSection,
    CustomFieldValue,
)
from crm_graphql.models.leads import LeadType
from crm_graphql.services.mutations import check_version, save_versioned
from crm_graphql.services.orm import lookup_q

TEXT_LIMIT = 255
TEXTAREA_LIMIT = 10_000
_TRUE = {"1", "true", "yes", "on", "y", "si", "sí"}
_FALSE = {"0", "false", "no", "off", "n", ""}
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def linked_pairs(options: Sequence[str]) -> list[tuple[str, str]]:
    """LINKED options "parent value|option" as pairs (a plain option has parent "")."""
    pairs = []
    for option in options:
        parent, sep, value = option.partition("|")
        pairs.append((parent, value) if sep else ("", parent))
    return pairs


def canonical(field: CustomField, raw: Any, parent_value: str | None = None) -> str | None:
    """The stored text for `raw`, or a FieldError naming the field. None clears it."""
    where = f"customFields.{field.name}"
    if raw is None:
        if field.required:
            raise FieldError(where, ErrorCode.REQUIRED, f"{field.name} is required.")
        return None
    text = str(raw).strip()
    kind = field.kind
    if kind == CustomFieldKind.CHECKBOX:
        lowered = text.lower()
        if lowered in _TRUE:
            return "1"
        if lowered in _FALSE:
            return "0"
        raise FieldError(where, ErrorCode.INVALID, f"{field.name}: use true or false.")
    if text == "":
        if field.required:
            raise FieldError(where, ErrorCode.REQUIRED, f"{field.name} is required.")
        return None
    if kind == CustomFieldKind.NUMERIC:
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise FieldError(
                where, ErrorCode.INVALID, f"{field.name}: '{text}' is not a number."
            ) from None
        if not number.is_finite():
            raise FieldError(where, ErrorCode.INVALID, f"{field.name}: '{text}' is not a number.")
        return format(number.normalize(), "f") if number != 0 else "0"
    if kind == CustomFieldKind.DATE:
        try:
            if not _DATE_RE.match(text):
                raise ValueError
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise FieldError(
                where, ErrorCode.INVALID, f"{field.name}: '{text}' is not a date (YYYY-MM-DD)."
            ) from None
    if kind == CustomFieldKind.COMBO:
        if text not in field.options:
            raise FieldError(
                where,
                ErrorCode.INVALID,
                f"{field.name}: '{text}' is not one of {', '.join(field.options)}.",
            )
        return text
    if kind == CustomFieldKind.LINKED:
        allowed = [
            value
            for parent, value in linked_pairs(field.options)
            if field.parent_id is None or parent_value is None or parent == parent_value
        ]
        if text not in allowed:
            hint = f" for {parent_value}" if parent_value is not None else ""
            raise FieldError(
                where, ErrorCode.INVALID, f"{field.name}: '{text}' is not an option{hint}."
            )
        return text
    limit = TEXT_LIMIT if kind == CustomFieldKind.TEXT else TEXTAREA_LIMIT
    if len(text) > limit:
        raise FieldError(where, ErrorCode.TOO_LARGE, f"{field.name}: at most {limit} characters.")
    if kind == CustomFieldKind.TEXT and ("\n" in text or "\r" in text):
        raise FieldError(where, ErrorCode.INVALID, f"{field.name}: one line only.")
    return text


async def fields_for(entity: CustomFieldEntity, owner_id: int | None = None) -> list[CustomField]:
    return await CustomField.filter(entity=entity, owner_id=owner_id).order_by("position", "id")


def validate_values(
    definitions: Sequence[CustomField],
    current: dict[int, str],
    changes: dict[int, Any],
    *,
    creating: bool,
) -> dict[int, str | None]:
    """Check `changes` ({field id: raw value}) against the definitions, with linked
    fields checked against their parent's new or current value. Returns the canonical
    values to write (None deletes). Raises PayloadErrors with every problem."""
    by_id = {f.id: f for f in definitions}
    errors: list[FieldError] = []
    result: dict[int, str | None] = {}
    for field_id in changes:
        if field_id not in by_id:
            errors.append(
                FieldError(
                    "customFields", ErrorCode.NOT_FOUND, f"No such custom field: {field_id}."
                )
            )
    merged = {**current}
    # Parents first, so a linked child sees its parent's new value.
    for field in sorted(definitions, key=lambda f: (f.parent_id is not None, f.position, f.id)):
        if field.id not in changes and not (creating and field.required):
            continue
        parent_value = merged.get(field.parent_id) if field.parent_id else None
        try:
            value = canonical(field, changes.get(field.id), parent_value)
        except FieldError as exc:
            errors.append(exc)
            continue
        result[field.id] = value
        if value is None:
            merged.pop(field.id, None)
        else:
            merged[field.id] = value
    if errors:
        raise PayloadErrors(errors)
    return result


async def current_values(object_id: int, field_ids: Iterable[int]) -> dict[int, str]:
    rows = await CustomFieldValue.filter(object_id=object_id, field_id__in=list(field_ids)).values(
        "field_id", "value"
    )
    return {row["field_id"]: row["value"] for row in rows}


async def write_values(object_id: int, values: dict[int, str | None]) -> None:
    """Upsert or delete; a few statements whatever the number of fields."""
    if not values:
        return
    await CustomFieldValue.filter(object_id=object_id, field_id__in=list(values)).delete()
    rows = [
        CustomFieldValue(field_id=fid, object_id=object_id, value=value)
        for fid, value in values.items()
        if value is not None
    ]
    if rows:
        await CustomFieldValue.bulk_create(rows)


async def delete_values(entity: CustomFieldEntity, *object_ids: int) -> None:
    """Every value of these objects' `entity` fields, in one statement."""
    if not object_ids:
        return
    await CustomFieldValue.filter(
        object_id__in=list(object_ids),
        field_id__in=Subquery(CustomField.filter(entity=entity).values("id")),
    ).delete()


async def set_values(
    entity: CustomFieldEntity,
    object_id: int,
    changes: dict[int, Any],
    *,
    creating: bool,
    owner_id: int | None = None,
) -> dict[int, str | None]:
    definitions = await fields_for(entity, owner_id)
    current = {} if creating else await current_values(object_id, [f.id for f in definitions])
    values = validate_values(definitions, current, changes, creating=creating)
    await write_values(object_id, values)
    return values


async def values_for_objects(
    entity: CustomFieldEntity, object_ids: Sequence[int], owner_id: int | None = None
) -> dict[int, dict[int, str]]:
    """{object id: {field id: value}}, one query."""
    rows = await CustomFieldValue.filter(
        object_id__in=set(object_ids),
        field_id__in=Subquery(CustomField.filter(entity=entity).values("id")),
    ).values("object_id", "field_id", "value")
    found: dict[int, dict[int, str]] = defaultdict(dict)
    for row in rows:
        found[row["object_id"]][row["field_id"]] = row["value"]
    return found


def value_filter_q(field_id: int, lookup: str, value: Any, column: str = "id") -> Q:
    """Objects whose value of `field_id` matches `value__lookup` (Tortoise lookup)."""
    suffix = f"__{lookup}" if lookup else ""
    matching = CustomFieldValue.filter(field_id=field_id, **{f"value{suffix}": value})
    return lookup_q({f"{column}__in": Subquery(matching.values("object_id"))})


async def create_field(data: dict[str, Any]) -> CustomField:
    errors = await _check_definition(data, None)
    if errors:
        raise PayloadErrors(errors)
    return await CustomField.create(**data)


async def update_field(field: CustomField, data: dict[str, Any]) -> CustomField:
    check_version(field, data, "custom field")
    merged = {
        "entity": field.entity,
        "owner_id": field.owner_id,
        "name": field.name,
        "kind": field.kind,
        "options": field.options,
        "parent_id": field.parent_id,
        "section_id": field.section_id,
        **data,
    }
    errors = await _check_definition(merged, field.id)
    if errors:
        raise PayloadErrors(errors)
    for key, value in data.items():
        setattr(field, key, value)
    await save_versioned(field, "custom field")
    return field


async def _check_owner(entity: CustomFieldEntity, owner_id: int | None) -> list[FieldError]:
    """Contract and lead fields belong to an existing contract or lead type; company and
    contact fields to no type."""
    if entity in (CustomFieldEntity.COMPANY, CustomFieldEntity.CONTACT):
        if owner_id is not None:
            return [
                FieldError("ownerId", ErrorCode.INVALID, "Company and contact fields have no type.")
            ]
        return []
    if entity == CustomFieldEntity.CONTRACT:
        if owner_id is None:
            return [FieldError("ownerId", ErrorCode.REQUIRED, "Give the contract type.")]
        if not await ContractType.filter(id=owner_id).exists():
            return [FieldError("ownerId", ErrorCode.NOT_FOUND, "No such contract type.")]
    if entity == CustomFieldEntity.LEAD:
        if owner_id is None:
            return [FieldError("ownerId", ErrorCode.REQUIRED, "Give the lead type.")]
        if not await LeadType.filter(id=owner_id).exists():
            return [FieldError("ownerId", ErrorCode.NOT_FOUND, "No such lead type.")]
    return []


async def _check_definition(data: dict[str, Any], field_id: int | None) -> list[FieldError]:
    errors: list[FieldError] = []
    name = (data.get("name") or "").strip()
    if not name:
        errors.append(FieldError("name", ErrorCode.REQUIRED, "A name is required."))
    elif len(name) > 100 or "|" in name:
        errors.append(FieldError("name", ErrorCode.INVALID, "At most 100 characters, no '|'."))
    else:
        clash = CustomField.filter(entity=data["entity"], owner_id=data.get("owner_id"), name=name)
        if field_id is not None:
            clash = clash.exclude(id=field_id)
        if await clash.exists():
            errors.append(FieldError("name", ErrorCode.UNIQUE, "A field with this name exists."))
    errors += await _check_owner(data["entity"], data.get("owner_id"))
    kind = data["kind"]
    options = data.get("options") or []
    if not all(isinstance(o, str) and o.strip() for o in options):
        errors.append(FieldError("options", ErrorCode.INVALID, "Options must be non-empty text."))
    if kind == CustomFieldKind.COMBO and not options:
        errors.append(
            FieldError("options", ErrorCode.REQUIRED, "A combo needs at least one option.")
        )
    if kind == CustomFieldKind.LINKED:
        if not options:
            errors.append(
                FieldError("options", ErrorCode.REQUIRED, "A linked field needs options.")
            )
        parent_id = data.get("parent_id")
        if parent_id is not None:
            parent = await CustomField.filter(id=parent_id).first()
            if parent is None or parent.kind != CustomFieldKind.LINKED:
                errors.append(
                    FieldError("parentId", ErrorCode.INVALID, "The parent must be a linked field.")
                )
            elif parent.entity != data["entity"] or parent.owner_id != data.get("owner_id"):
                errors.append(
                    FieldError("parentId", ErrorCode.INVALID, "The parent belongs elsewhere.")
                )
            elif parent_id == field_id:
                errors.append(
                    FieldError("parentId", ErrorCode.INVALID, "A field cannot be its own parent.")
                )
            elif any("|" not in o for o in options):
                errors.append(
                    FieldError(
                        "options",
                        ErrorCode.INVALID,
                        'Options of a child are "parent value|option".',
                    )
                )
    elif data.get("parent_id") is not None:
        errors.append(
            FieldError("parentId", ErrorCode.INVALID, "Only linked fields have a parent.")
        )
    section_id = data.get("section_id")
    if section_id is not None:
        if data["entity"] != CustomFieldEntity.COMPANY:
            errors.append(
                FieldError("sectionId", ErrorCode.INVALID, "Only company fields have sections.")
            )
        elif not await CustomFieldSection.filter(id=section_id).exists():
            errors.append(FieldError("sectionId", ErrorCode.NOT_FOUND, "No such section."))
    return errors
