"""Contacts: validation, custom field values, audit. The caller has checked edit access
to the contact's company (and to the new one when moving it)."""

from __future__ import annotations

from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.functions import Lower

from crm_graphql.errors import ErrorCode, FieldError, PayloadErrors
from crm_graphql.ids import parse_id
from crm_graphql.models.contacts import Contact
from crm_graphql.models.customfields import CustomFieldEntity
from crm_graphql.models.events import EventAction, EventObjectType
from crm_graphql.models.trash import TrashType
from crm_graphql.services import audit, customfields, events, trash
from crm_graphql.services.auth import Viewer
from crm_graphql.services.companies import camel
from crm_graphql.services.mutations import check_version, save_versioned
from crm_graphql.values import is_email

LIMITS = {
    "full_name": 200,
    "email": 254,
    "phone": 60,
    "mobile": 60,
    "position": 200,
    "description": 10_000,
}


def check(data: dict[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    for name, limit in LIMITS.items():
        if name in data and data[name] is not None:
            data[name] = str(data[name]).strip()
            if len(data[name]) > limit:
                errors.append(
                    FieldError(camel(name), ErrorCode.TOO_LARGE, f"At most {limit} characters.")
                )
    if "full_name" in data and not data["full_name"]:
        errors.append(FieldError("fullName", ErrorCode.REQUIRED, "A contact needs a full name."))
    if "email" in data:
        if not data["email"]:
            errors.append(
                FieldError("email", ErrorCode.REQUIRED, "A contact needs an e-mail address.")
            )
        elif not is_email(data["email"]):
            errors.append(FieldError("email", ErrorCode.INVALID, "Not a valid e-mail address."))
    return errors


# The database's unique index on (company_id, LOWER(email)) (migration 0015).
EMAIL_INDEX = "contacts_company_email_ci"


def _email_taken() -> FieldError:
    return FieldError(
        "email",
        ErrorCode.UNIQUE,
        "Another contact of this company has this e-mail (ignoring case).",
    )


async def _check_email_free(company_id: int, email: str, exclude_id: int | None) -> None:
    clash = Contact.annotate(email_lower=Lower("email")).filter(
        company_id=company_id, email_lower=email.lower()
    )
    if exclude_id is not None:
        clash = clash.exclude(id=exclude_id)
    if await clash.exists():
        raise _email_taken()


async def _saved(write: Any) -> Any:
    """Run a write; a concurrent writer that took the e-mail first makes the unique
    index refuse it: the same payload error as the check before."""
    try:
        return await write
    except IntegrityError as exc:
        if EMAIL_INDEX in str(exc):
            raise _email_taken() from None
        raise


def custom_changes(raw: list[Any] | None) -> dict[int, Any]:
    return {parse_id(item.field_id, "customFields"): item.value for item in raw or []}


async def create_contact(
    viewer: Viewer, company_id: int, data: dict[str, Any], request_id: str = ""
) -> Contact:
    custom = data.pop("custom_fields", None)
    errors = check(data)
    if errors:
        raise PayloadErrors(errors)
    await _check_email_free(company_id, data["email"], None)
    contact = await _saved(Contact.create(company_id=company_id, **data))
    await customfields.set_values(
        CustomFieldEntity.CONTACT, contact.id, custom_changes(custom), creating=True
    )
    snapshot = audit.snapshot(contact)
    await audit.record(viewer.user, audit.CREATE, "Contact", contact.id, snapshot, request_id)
    await events.record(
        None,
        EventObjectType.CONTACT,
        contact.id,
        EventAction.CREATE,
        events.created(snapshot),
        viewer.user.id,
        contact.company_id,
    )
    return contact


async def update_contact(
    viewer: Viewer, contact: Contact, data: dict[str, Any], request_id: str = ""
) -> Contact:
    check_version(contact, data, "contact")
    custom = data.pop("custom_fields", None)
    errors = check(data)
    if errors:
        raise PayloadErrors(errors)
    if "email" in data or "company_id" in data:
        await _check_email_free(
            data.get("company_id") or contact.company_id,
            data.get("email") or contact.email,
            contact.id,
        )
    before = audit.snapshot(contact)
    for name, value in data.items():
        setattr(contact, name, value)
    await _saved(save_versioned(contact, "contact"))
    written = await customfields.set_values(
        CustomFieldEntity.CONTACT, contact.id, custom_changes(custom), creating=False
    )
    changes: dict[str, Any] = audit.diff(before, audit.snapshot(contact))
    if written:
        changes["custom_fields"] = {str(k): v for k, v in written.items()}
    await audit.record(viewer.user, audit.UPDATE, "Contact", contact.id, changes, request_id)
    await events.record(
        None,
        EventObjectType.CONTACT,
        contact.id,
        EventAction.UPDATE,
        changes,
        viewer.user.id,
        contact.company_id,
    )
    return contact


async def delete_contact(viewer: Viewer, contact: Contact, request_id: str = "") -> None:
    await audit.record(
        viewer.user, audit.DELETE, "Contact", contact.id, audit.snapshot(contact), request_id
    )
    await events.record(
        None,
        EventObjectType.CONTACT,
        contact.id,
        EventAction.DELETE,
        {},
        viewer.user.id,
        contact.company_id,
    )
    await trash.move_to_trash(TrashType.CONTACT, [contact.id], viewer.user)
