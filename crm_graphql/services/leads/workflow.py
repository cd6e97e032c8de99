"""A lead's course: taking, new owner, progress, closing, deleting, and notes."""

from __future__ import annotations

from typing import Any

from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.models.companies import Company
from crm_graphql.models.events import EventAction, EventObjectType
from crm_graphql.models.leads import (
    CLOSED_FROM,
    Lead,
    LeadActivity,
    LeadActivityKind,
    LeadHistoryKind,
)
from crm_graphql.models.setup import CrmSetup
from crm_graphql.models.trash import TrashType
from crm_graphql.models.users import User
from crm_graphql.services import audit, calendar, events, trash
from crm_graphql.services.auth import Viewer
from crm_graphql.services.contracts import parse_ref
from crm_graphql.services.leads.history import add_history
from crm_graphql.services.leads.records import touch, update_lead
from crm_graphql.services.leads.values import check_progress

ACTIVITY_LIMIT = 100_000


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
    await events.record(
        None,
        EventObjectType.LEAD,
        lead.id,
        EventAction.UPDATE,
        {"owner_id": [None, viewer.user.id], "company_id": [None, lead.company_id]},
        viewer.user.id,
        lead.company_id,
        scope={"ownerId": lead.owner_id},
    )
    return lead


async def assign_owner(
    viewer: Viewer, lead: Lead, owner_id: Any, setup: CrmSetup, request_id: str = ""
) -> Lead:
    ident = parse_ref(owner_id, "ownerId")
    if not await User.filter(id=ident, enabled=True).exists():
        raise FieldError("ownerId", ErrorCode.NOT_FOUND, "No such user.")
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
        raise FieldError(
            "progress", ErrorCode.INVALID, "Close with a closed code (100, 101, 102, 200)."
        )
    if lead.progress >= CLOSED_FROM and lead.progress == progress:
        raise FieldError("id", ErrorCode.CONFLICT, "The lead is already closed so.")
    return await set_progress(viewer, lead, progress, setup, request_id)


async def delete_lead(viewer: Viewer, lead: Lead, request_id: str = "") -> None:
    await audit.record(viewer.user, audit.DELETE, "Lead", lead.id, audit.snapshot(lead), request_id)
    await events.record(
        None,
        EventObjectType.LEAD,
        lead.id,
        EventAction.DELETE,
        {},
        viewer.user.id,
        lead.company_id,
        scope={"ownerId": lead.owner_id},
    )
    # To the trash with its history, activities, tags, files, values and alarms.
    await trash.move_to_trash(TrashType.LEAD, [lead.id], viewer.user)


def clean_activity(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise FieldError("text", ErrorCode.REQUIRED, "A note needs some text.")
    if len(text) > ACTIVITY_LIMIT:
        raise FieldError("text", ErrorCode.TOO_LARGE, f"At most {ACTIVITY_LIMIT} characters.")
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
