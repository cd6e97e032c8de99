"""Contract types (SPEC §5): create, rename, delete (refused while contracts use one;
its custom fields go with it). Callers run these in one transaction and have checked
the viewer's rights."""

from __future__ import annotations

from typing import Any

from crm_graphql.errors import ErrorCode, FieldError, PayloadErrors
from crm_graphql.models.contracts import Contract, ContractType
from crm_graphql.models.customfields import CustomField, CustomFieldEntity
from crm_graphql.services import audit
from crm_graphql.services.auth import Viewer

TYPE_LIMITS = {"name": 100, "description": 255}


def _clean_type(data: dict[str, Any]) -> list[FieldError]:
    errors = []
    for name, limit in TYPE_LIMITS.items():
        if name in data and data[name] is not None:
            data[name] = str(data[name]).strip()
            if len(data[name]) > limit:
                errors.append(FieldError(name, ErrorCode.TOO_LARGE, f"At most {limit} characters."))
    if "name" in data and not data["name"]:
        errors.append(FieldError("name", ErrorCode.REQUIRED, "A contract type needs a name."))
    return errors


async def _unique_type_name(name: str | None, exclude_id: int | None) -> list[FieldError]:
    if not name:
        return []
    clash = ContractType.filter(name=name)
    if exclude_id is not None:
        clash = clash.exclude(id=exclude_id)
    if await clash.exists():
        return [FieldError("name", ErrorCode.UNIQUE, "Another contract type has this name.")]
    return []


async def create_type(viewer: Viewer, data: dict[str, Any], request_id: str = "") -> ContractType:
    errors = _clean_type(data)
    errors += await _unique_type_name(data.get("name"), None)
    if errors:
        raise PayloadErrors(errors)
    kind = await ContractType.create(**data)
    await audit.record(
        viewer.user, audit.CREATE, "ContractType", kind.id, audit.snapshot(kind), request_id
    )
    return kind


async def update_type(
    viewer: Viewer, kind: ContractType, data: dict[str, Any], request_id: str = ""
) -> ContractType:
    data = {k: v for k, v in data.items() if v is not None}
    errors = _clean_type(data)
    errors += await _unique_type_name(data.get("name"), kind.id)
    if errors:
        raise PayloadErrors(errors)
    before = audit.snapshot(kind)
    for key, value in data.items():
        setattr(kind, key, value)
    await kind.save()
    await audit.record(
        viewer.user,
        audit.UPDATE,
        "ContractType",
        kind.id,
        audit.diff(before, audit.snapshot(kind)),
        request_id,
    )
    return kind


async def delete_type(viewer: Viewer, kind: ContractType, request_id: str = "") -> None:
    """Refused while contracts use it; its custom fields (and their values) go with it."""
    if await Contract.filter(contract_type_id=kind.id).exists():
        raise FieldError(
            "id", ErrorCode.CONFLICT, "Contracts use this type; change or delete them first."
        )
    await audit.record(
        viewer.user, audit.DELETE, "ContractType", kind.id, audit.snapshot(kind), request_id
    )
    field_ids = await CustomField.filter(
        entity=CustomFieldEntity.CONTRACT, owner_id=kind.id
    ).values_list("id", flat=True)
    # Children first: a linked child points at its parent.
    await CustomField.filter(id__in=list(field_ids), parent_id__isnull=False).delete()
    await CustomField.filter(id__in=list(field_ids)).delete()
    await kind.delete()
