"""Who may merge what (issue 18): edit access to every record of a merge, and CM for
companies (merging removes companies, which SPEC §2 gives to CM only). The records
are read here with the visibility filter of their domain, so a hidden one is the same
NOT_FOUND as a missing one. Every refusal is a payload error naming its field
(`survivorId`, `otherIds[2]`) and nothing is changed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tortoise.expressions import Q

from crm_graphql.errors import ErrorCode, FieldError, PayloadErrors
from crm_graphql.ids import parse_id
from crm_graphql.models.companies import Company
from crm_graphql.models.contacts import Contact
from crm_graphql.models.leads import Lead
from crm_graphql.models.matching import MatchKeys
from crm_graphql.permissions.companies import (
    belongs_to_visible_company_q,
    can_delete_company,
    can_edit_company,
    visible_companies_q,
)
from crm_graphql.permissions.leads import can_edit_lead, visible_leads_q
from crm_graphql.services.auth import Viewer
from crm_graphql.services.duplicates import DuplicateEntity

# A survivor and at most this many others (issue 18: "up to 10").
MAX_MERGED = 10

Deny = Callable[[str, str], Exception]


def visible_q(viewer: Viewer, entity: DuplicateEntity) -> Q:
    """What the viewer can see of `entity`: the rule of its domain."""
    if entity == DuplicateEntity.COMPANY:
        return visible_companies_q(viewer)
    if entity == DuplicateEntity.CONTACT:
        return belongs_to_visible_company_q(viewer)
    return visible_leads_q(viewer)


def entity_bit(entity: DuplicateEntity) -> str:
    """The view bit of the entity's list (its duplicates are part of it)."""
    return "LR" if entity == DuplicateEntity.LEAD else "CR"


def _ids(survivor_id: Any, other_ids: Sequence[Any]) -> tuple[int, list[int]]:
    errors: list[FieldError] = []
    survivor = 0
    try:
        survivor = parse_id(survivor_id, "survivorId")
    except FieldError as exc:
        errors.append(exc)
    if not other_ids:
        errors.append(FieldError("otherIds", ErrorCode.REQUIRED, "Name at least one other record."))
    elif len(other_ids) > MAX_MERGED - 1:
        errors.append(
            FieldError(
                "otherIds",
                ErrorCode.TOO_LARGE,
                f"At most {MAX_MERGED} records in one merge: the survivor and "
                f"{MAX_MERGED - 1} others.",
            )
        )
    others: list[int] = []
    for i, raw in enumerate(other_ids[: MAX_MERGED - 1] if errors else other_ids):
        try:
            number = parse_id(raw, f"otherIds[{i}]")
        except FieldError as exc:
            errors.append(exc)
            continue
        if number == survivor:
            errors.append(
                FieldError(
                    f"otherIds[{i}]", ErrorCode.INVALID, "A record cannot merge with itself."
                )
            )
        elif number in others:
            errors.append(
                FieldError(f"otherIds[{i}]", ErrorCode.INVALID, "This record is named twice.")
            )
        others.append(number)
    if errors:
        raise PayloadErrors(errors)
    return survivor, others


async def mergeable(
    viewer: Viewer,
    deny: Deny,
    entity: DuplicateEntity,
    survivor_id: Any,
    other_ids: Sequence[Any],
) -> tuple[Any, list[Any]]:
    """The survivor and the others, read for update, when the viewer may merge them all;
    else every problem as payload errors. `deny` records each refusal for the audit log
    (its FORBIDDEN error is not raised: the payload names the field instead)."""
    survivor, others = _ids(survivor_id, other_ids)
    model: type[MatchKeys] = {
        DuplicateEntity.COMPANY: Company,
        DuplicateEntity.CONTACT: Contact,
        DuplicateEntity.LEAD: Lead,
    }[entity]
    found = {
        r.pk: r
        for r in await model.filter(visible_q(viewer, entity), id__in=[survivor, *others])
        .select_for_update()
        .order_by("id")
    }
    errors: list[FieldError] = []
    fields = ["survivorId"] + [f"otherIds[{i}]" for i in range(len(others))]
    noun = entity.value.lower()
    for field, number in zip(fields, [survivor, *others], strict=True):
        record = found.get(number)
        if record is None:
            errors.append(FieldError(field, ErrorCode.NOT_FOUND, f"No such {noun}."))
        elif not await _may_merge(viewer, entity, record):
            deny(f"{entity.value.title()} {number}", "merge: not editable")
            errors.append(FieldError(field, ErrorCode.FORBIDDEN, f"You may not edit this {noun}."))
    if errors:
        raise PayloadErrors(errors)
    return found[survivor], [found[n] for n in others]


async def _may_merge(viewer: Viewer, entity: DuplicateEntity, record: Any) -> bool:
    if entity == DuplicateEntity.COMPANY:
        # Merging removes the others: the delete rule (CM and edit access) for all.
        return can_delete_company(viewer, record)
    if entity == DuplicateEntity.CONTACT:
        company = await Company.filter(id=record.company_id).first()
        return company is not None and can_edit_company(viewer, company)
    return can_edit_lead(viewer, record)
