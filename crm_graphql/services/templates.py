"""Contract templates (SPEC §5): named HTML with macros. CRUD checks the values; the
callers (resolvers/templates.py) check `CM`. Rendering is services/documents.py."""

from __future__ import annotations

from typing import Any

from crm_graphql.errors import ErrorCode, FieldError, PayloadErrors
from crm_graphql.models.templates import ContractTemplate
from crm_graphql.services import audit
from crm_graphql.services.auth import Viewer
from crm_graphql.services.mutations import check_version, save_versioned

MAX_NAME = 200
MAX_DESCRIPTION = 2_000
# The rendered document is bounded too (pdf_max_html_bytes); this bounds what is stored.
MAX_HTML = 1_048_576


def _clean(data: dict[str, Any], creating: bool) -> list[FieldError]:
    errors: list[FieldError] = []
    if "name" in data or creating:
        name = str(data.get("name") or "").strip()
        if not name:
            errors.append(FieldError("name", ErrorCode.REQUIRED, "Give the template a name."))
        elif len(name) > MAX_NAME:
            errors.append(
                FieldError("name", ErrorCode.TOO_LARGE, f"At most {MAX_NAME} characters.")
            )
        data["name"] = name
    for key, limit in (("description", MAX_DESCRIPTION), ("html", MAX_HTML)):
        if key in data:
            data[key] = str(data[key] or "")
            if len(data[key]) > limit:
                errors.append(FieldError(key, ErrorCode.TOO_LARGE, f"At most {limit} characters."))
    return errors


async def _unique(name: str | None, exclude: int | None) -> list[FieldError]:
    if not name:
        return []
    query = ContractTemplate.filter(name=name)
    if exclude is not None:
        query = query.exclude(id=exclude)
    if await query.exists():
        return [FieldError("name", ErrorCode.UNIQUE, f"A template named '{name}' exists.")]
    return []


async def create_template(
    viewer: Viewer, data: dict[str, Any], request_id: str = ""
) -> ContractTemplate:
    data = {k: v for k, v in data.items() if v is not None}
    errors = _clean(data, True)
    errors += await _unique(data.get("name"), None)
    if errors:
        raise PayloadErrors(errors)
    template = await ContractTemplate.create(**data)
    await audit.record(
        viewer.user,
        audit.CREATE,
        "ContractTemplate",
        template.id,
        audit.snapshot(template),
        request_id,
    )
    return template


async def update_template(
    viewer: Viewer, template: ContractTemplate, data: dict[str, Any], request_id: str = ""
) -> ContractTemplate:
    check_version(template, data, "template")
    data = {k: v for k, v in data.items() if v is not None}
    errors = _clean(data, False)
    errors += await _unique(data.get("name"), template.id)
    if errors:
        raise PayloadErrors(errors)
    before = audit.snapshot(template)
    for key, value in data.items():
        setattr(template, key, value)
    await save_versioned(template, "template")
    await audit.record(
        viewer.user,
        audit.UPDATE,
        "ContractTemplate",
        template.id,
        audit.diff(before, audit.snapshot(template)),
        request_id,
    )
    return template


async def delete_template(viewer: Viewer, template: ContractTemplate, request_id: str = "") -> None:
    await audit.record(
        viewer.user,
        audit.DELETE,
        "ContractTemplate",
        template.id,
        audit.snapshot(template),
        request_id,
    )
    await template.delete()
