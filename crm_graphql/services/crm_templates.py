"""CRM templates (SPEC §7 "Lead e-mail"): named mail bodies with macros, each belonging
to a managing company whose users alone see and use it."""

from __future__ import annotations

import html
import re
from typing import Any

from crm_graphql.errors import ErrorCode, FieldError, PayloadErrors
from crm_graphql.models.leads import Lead
from crm_graphql.models.mail import MailTemplate
from crm_graphql.models.users import User
from crm_graphql.services import audit
from crm_graphql.services.auth import Viewer
from crm_graphql.services.contracts import parse_ref
from crm_graphql.services.mailmessages import check_header

MACRO = re.compile(r"_(DEST_NAME|DEST_EMAIL|SRC_NAME|SRC_EMAIL)_")
LIMITS = {"name": 100, "language": 10, "subject": 255, "body_html": 200_000}


def macros(lead: Lead, user: User) -> dict[str, str]:
    return {
        "DEST_NAME": lead.full_name,
        "DEST_EMAIL": lead.email,
        "SRC_NAME": user.real_name or user.username,
        "SRC_EMAIL": user.email,
    }


def substitute(text: str, values: dict[str, str], *, escape: bool) -> str:
    """Replace every macro in one pass; values are HTML-escaped in bodies."""
    return MACRO.sub(
        lambda m: html.escape(values[m.group(1)]) if escape else values[m.group(1)], text
    )


def render(template: MailTemplate, lead: Lead, user: User) -> tuple[str, str]:
    """(subject, HTML body) of the template for this lead and sender."""
    values = macros(lead, user)
    return substitute(template.subject, values, escape=False), substitute(
        template.body_html, values, escape=True
    )


async def save_template(
    viewer: Viewer,
    template: MailTemplate | None,
    data: dict[str, Any],
    *,
    visible_companies: Any,
    request_id: str = "",
) -> MailTemplate:
    """Create or change a template; its company must be one the viewer can see."""
    errors: list[FieldError] = []
    for key, limit in LIMITS.items():
        if key in data:
            data[key] = str(data[key] or "").strip() if key != "body_html" else data[key] or ""
            if len(data[key]) > limit:
                errors.append(FieldError(key, ErrorCode.TOO_LARGE, f"At most {limit} characters."))
    if "name" in data and not data["name"]:
        errors.append(FieldError("name", ErrorCode.REQUIRED, "A template needs a name."))
    try:
        check_header("subject", data.get("subject", ""))
    except FieldError as exc:
        errors.append(exc)
    if data.get("company_id") is not None:
        try:
            ident = parse_ref(data["company_id"], "companyId")
            if not await visible_companies.filter(id=ident).exists():
                raise FieldError("companyId", ErrorCode.NOT_FOUND, "No such company.")
            data["company_id"] = ident
        except FieldError as exc:
            errors.append(exc)
    elif template is None or "company_id" in data:
        errors.append(
            FieldError("companyId", ErrorCode.REQUIRED, "A template belongs to a company.")
        )
    if not errors:
        merged = {
            "name": data.get("name", template.name if template else ""),
            "language": data.get("language", template.language if template else ""),
            "company_id": data.get("company_id", template.company_id if template else None),
        }
        clash = MailTemplate.filter(**merged)
        if template is not None:
            clash = clash.exclude(id=template.id)
        if await clash.exists():
            errors.append(
                FieldError(
                    "name",
                    ErrorCode.UNIQUE,
                    "The company has a template of this name and language.",
                )
            )
    if errors:
        raise PayloadErrors(errors)
    if template is None:
        template = await MailTemplate.create(**data)
        await audit.record(
            viewer.user, audit.CREATE, "MailTemplate", template.id, audit.snapshot(template),
            request_id,
        )  # fmt: skip
        return template
    before = audit.snapshot(template)
    template.update_from_dict(data)
    await template.save()
    changed = audit.diff(before, audit.snapshot(template))
    changed.pop("updated_at", None)
    await audit.record(viewer.user, audit.UPDATE, "MailTemplate", template.id, changed, request_id)
    return template


async def delete_template(viewer: Viewer, template: MailTemplate, request_id: str = "") -> None:
    await audit.record(
        viewer.user, audit.DELETE, "MailTemplate", template.id, audit.snapshot(template),
        request_id,
    )  # fmt: skip
    await template.delete()
