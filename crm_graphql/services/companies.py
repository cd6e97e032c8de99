"""Companies and company roles: validation, the parent tree (materialized paths),
custom field values, audit. Callers run these inside one transaction and have checked
the viewer's rights on the company; the rules about referenced objects are here."""

from __future__ import annotations

from typing import Any

from tortoise.connection import get_connection
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.functions import Lower

from crm_graphql.errors import ErrorCode, FieldError, PayloadErrors
from crm_graphql.ids import parse_id
from crm_graphql.models.activities import Activity
from crm_graphql.models.companies import Company, CompanyRole
from crm_graphql.models.contacts import Contact
from crm_graphql.models.contracts import Contract
from crm_graphql.models.customfields import CustomFieldEntity
from crm_graphql.models.events import EventAction, EventObjectType
from crm_graphql.models.invoices import Invoice
from crm_graphql.models.trash import TrashType
from crm_graphql.models.users import User
from crm_graphql.services import audit, customfields, events, trash
from crm_graphql.services.auth import Viewer, forget_tokens
from crm_graphql.services.mutations import check_version, save_versioned
from crm_graphql.services.orm import column_values
from crm_graphql.values import is_email

TEXT_LIMITS = {
    "name": 200,
    "country": 100,
    "website": 255,
    "office_phone": 60,
    "general_email": 254,
    "fiscal_id": 60,
    "address": 2000,
    "comments": 10_000,
}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _clean(data: dict[str, Any]) -> list[FieldError]:
    """Normalise text fields in place; report what is malformed."""
    errors: list[FieldError] = []
    for name, limit in TEXT_LIMITS.items():
        if name in data and data[name] is not None:
            data[name] = str(data[name]).strip()
            if len(data[name]) > limit:
                errors.append(
                    FieldError(camel(name), ErrorCode.TOO_LARGE, f"At most {limit} characters.")
                )
    if "name" in data and not data["name"]:
        errors.append(FieldError("name", ErrorCode.REQUIRED, "A company needs a name."))
    if "fiscal_id" in data and not data["fiscal_id"]:
        data["fiscal_id"] = None  # unique only when set
    if data.get("general_email") and not is_email(data["general_email"]):
        errors.append(FieldError("generalEmail", ErrorCode.INVALID, "Not a valid e-mail address."))
    if "payment_conditions" in data and not 0 <= int(data["payment_conditions"]) <= 3650:
        errors.append(
            FieldError("paymentConditions", ErrorCode.INVALID, "Days between 0 and 3650.")
        )
    return errors


async def _unique(data: dict[str, Any], exclude_id: int | None) -> list[FieldError]:
    errors: list[FieldError] = []
    for column, label in (("name", "name"), ("fiscal_id", "fiscalId")):
        value = data.get(column)
        if not value:
            continue
        if column == "name":  # unique ignoring case (an index on LOWER(name), 0015)
            clash = Company.annotate(name_lower=Lower("name")).filter(name_lower=value.lower())
        else:
            clash = Company.filter(**{column: value})
        if exclude_id is not None:
            clash = clash.exclude(id=exclude_id)
        if await clash.exists():
            errors.append(FieldError(label, ErrorCode.UNIQUE, f"Another company has this {label}."))
    return errors


async def _references(
    data: dict[str, Any], visible: Q, company: Company | None
) -> list[FieldError]:
    """Resolve roleId, parentId and managerId to ids; the parent must be visible and
    must not be the company itself or one of its descendants."""
    errors: list[FieldError] = []
    if "role_id" in data and data["role_id"] is not None:
        try:
            role_id = parse_id(data["role_id"], "roleId")
            if not await CompanyRole.filter(id=role_id).exists():
                raise FieldError("roleId", ErrorCode.NOT_FOUND, "No such company role.")
            data["role_id"] = role_id
        except FieldError as exc:
            errors.append(exc)
    if "parent_id" in data and data["parent_id"] is not None:
        try:
            parent_id = parse_id(data["parent_id"], "parentId")
            parent = await Company.filter(visible, id=parent_id).first()
            if parent is None:
                raise FieldError("parentId", ErrorCode.NOT_FOUND, "No such company.")
            if company is not None and (
                parent.id == company.id or parent.path.startswith(company.path)
            ):
                raise FieldError(
                    "parentId", ErrorCode.INVALID, "A company cannot be its own parent or ancestor."
                )
            data["parent_id"] = parent.id
            data["_parent_path"] = parent.path
        except FieldError as exc:
            errors.append(exc)
    if "manager_id" in data and data["manager_id"] is not None:
        try:
            manager_id = parse_id(data["manager_id"], "managerId")
            if not await User.filter(id=manager_id, enabled=True).exists():
                raise FieldError("managerId", ErrorCode.NOT_FOUND, "No such user.")
            data["manager_id"] = manager_id
        except FieldError as exc:
            errors.append(exc)
    return errors


def _custom_changes(raw: list[Any] | None) -> dict[int, Any]:
    changes: dict[int, Any] = {}
    for item in raw or []:
        changes[parse_id(item.field_id, "customFields")] = item.value
    return changes


async def _reparent(company: Company, new_path: str) -> None:
    """Move the company's subtree: every path under the old prefix gets the new one."""
    old = company.path
    if old == new_path:
        return
    connection = get_connection("default")
    postgres = connection.capabilities.dialect == "postgres"
    marks = ("$1", "$2", "$3") if postgres else ("?", "?", "?")
    # substr is 1-based: keep what follows the old prefix.
    sql = (
        f"UPDATE companies SET path = {marks[0]} || substr(path, {marks[1]}) "  # noqa: S608
        f"WHERE path LIKE {marks[2]}"
    )
    await connection.execute_query(sql, [new_path, len(old) + 1, old + "%"])
    company.path = new_path


async def fill_missing_paths() -> int:
    """Give every company whose path is empty (rows written in bulk or by hand) its
    materialized path, level by level: one statement per tree level. Returns the count."""
    connection = get_connection("default")
    filled = 0
    roots = "UPDATE companies SET path = '/' || id || '/' WHERE path = '' AND parent_id IS NULL"
    children = (
        "UPDATE companies SET path = (SELECT p.path FROM companies p "
        "WHERE p.id = companies.parent_id) || id || '/' "
        "WHERE path = '' AND parent_id IN (SELECT id FROM companies WHERE path != '')"
    )
    filled += (await connection.execute_query(roots))[0]
    while changed := (await connection.execute_query(children))[0]:
        filled += changed
    return filled


async def _saved(write: Any) -> Any:
    """Run a write; a concurrent writer that took the name or fiscal id after the check
    makes a unique index refuse it: the same payload error as the check."""
    try:
        return await write
    except IntegrityError as exc:
        text = str(exc)
        if "fiscal_id" in text:
            raise FieldError(
                "fiscalId", ErrorCode.UNIQUE, "Another company has this fiscalId."
            ) from None
        if "companies_name_ci" in text or "companies.name" in text or "name_key" in text:
            raise FieldError("name", ErrorCode.UNIQUE, "Another company has this name.") from None
        raise


async def create_company(
    viewer: Viewer, data: dict[str, Any], visible: Q, request_id: str = ""
) -> Company:
    custom = data.pop("custom_fields", None)
    data.setdefault("manager_id", viewer.user.id)
    errors = _clean(data) + await _unique(data, None) + await _references(data, visible, None)
    try:
        changes = _custom_changes(custom)
    except FieldError as exc:
        errors.append(exc)
        changes = {}
    if errors:
        raise PayloadErrors(errors)
    parent_path = data.pop("_parent_path", "/")
    company = await _saved(Company.create(**data))
    company.path = f"{parent_path}{company.id}/"
    await Company.filter(id=company.id).update(path=company.path)
    await customfields.set_values(CustomFieldEntity.COMPANY, company.id, changes, creating=True)
    snapshot = audit.snapshot(company)
    await audit.record(viewer.user, audit.CREATE, "Company", company.id, snapshot, request_id)
    await events.record(
        None,
        EventObjectType.COMPANY,
        company.id,
        EventAction.CREATE,
        events.created(snapshot),
        viewer.user.id,
        company.id,
    )
    return company


async def update_company(
    viewer: Viewer,
    company: Company,
    data: dict[str, Any],
    visible: Q,
    request_id: str = "",
) -> Company:
    check_version(company, data, "company")
    custom = data.pop("custom_fields", None)
    manager_changes = "manager_id" in data and str(data["manager_id"]) != str(company.manager_id)
    if manager_changes and not (viewer.is_superadmin or viewer.has("CM")):
        raise FieldError("managerId", ErrorCode.FORBIDDEN, "Changing the manager needs CM.")
    errors = _clean(data) + await _unique(data, company.id)
    errors += await _references(data, visible, company)
    try:
        changes = _custom_changes(custom)
    except FieldError as exc:
        errors.append(exc)
        changes = {}
    if errors:
        raise PayloadErrors(errors)
    before = audit.snapshot(company)
    parent_path = data.pop("_parent_path", None)
    if "parent_id" in data:
        forget_tokens()  # users of the moved subtree carry their company's path
        await _reparent(company, f"{parent_path or '/'}{company.id}/")
    for name, value in data.items():
        setattr(company, name, value)
    await _saved(save_versioned(company, "company"))
    written = await customfields.set_values(
        CustomFieldEntity.COMPANY, company.id, changes, creating=False
    )
    changed: dict[str, Any] = audit.diff(before, audit.snapshot(company))
    if written:
        changed["custom_fields"] = {str(k): v for k, v in written.items()}
    await audit.record(viewer.user, audit.UPDATE, "Company", company.id, changed, request_id)
    await events.record(
        None,
        EventObjectType.COMPANY,
        company.id,
        EventAction.UPDATE,
        changed,
        viewer.user.id,
        company.id,
    )
    return company


async def delete_company(viewer: Viewer, company: Company, request_id: str = "") -> None:
    if await Company.filter(parent_id=company.id).exists():
        raise FieldError(
            "id", ErrorCode.CONFLICT, "The company has child companies; move them first."
        )
    if await Invoice.filter(company_id=company.id).exists():
        raise FieldError(
            "id", ErrorCode.CONFLICT, "The company has invoices; it cannot be deleted."
        )
    await audit.record(
        viewer.user, audit.DELETE, "Company", company.id, audit.snapshot(company), request_id
    )
    await events.record(
        None,
        EventObjectType.COMPANY,
        company.id,
        EventAction.DELETE,
        {},
        viewer.user.id,
        company.id,
    )
    contact_ids = await column_values(Contact.filter(company_id=company.id), "id")
    contract_ids = await column_values(Contract.filter(company_id=company.id), "id")
    activity_ids = await column_values(Activity.filter(company_id=company.id), "id")
    # Tombstones for what goes with the company, while who could see it can be asked.
    for kind, ids in (
        (EventObjectType.CONTACT, contact_ids),
        (EventObjectType.CONTRACT, contract_ids),
        (EventObjectType.ACTIVITY, activity_ids),
    ):
        rows = [(int(i), company.id) for i in ids]
        await events.record_deletions(None, kind, rows, viewer.user.id)
    # To the trash with its contacts, contracts, activities, files and custom values.
    await trash.move_to_trash(TrashType.COMPANY, [company.id], viewer.user)
    forget_tokens()  # its users lose their company
