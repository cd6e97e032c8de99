"""Activities: notes on companies and contacts. Writing one bumps the company's
last-activity date, which lists sort and filter on."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.models.activities import Activity
from crm_graphql.models.companies import Company
from crm_graphql.models.events import EventAction, EventObjectType
from crm_graphql.services import audit, events
from crm_graphql.services.auth import Viewer

TEXT_LIMIT = 20_000


def clean_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise FieldError("text", ErrorCode.REQUIRED, "An activity needs some text.")
    if len(text) > TEXT_LIMIT:
        raise FieldError("text", ErrorCode.TOO_LARGE, f"At most {TEXT_LIMIT} characters.")
    return text


def activity_key(moment: datetime | None) -> int:
    return 0 if moment is None else int(moment.timestamp() * 1_000_000)


async def touch_companies(company_ids: Iterable[int], moment: datetime) -> None:
    """Set the companies' last activity (and its sort key) to `moment`."""
    await Company.filter(id__in=list(company_ids)).update(
        last_activity_at=moment, last_activity_key=activity_key(moment)
    )


async def add_activity(
    author: Viewer | None,
    company_id: int,
    text: str,
    contact_id: int | None = None,
    request_id: str = "",
) -> Activity:
    """Also used by other domains for automatic activities (author None: the system)."""
    activity = await Activity.create(
        company_id=company_id,
        contact_id=contact_id,
        author_id=author.user.id if author else None,
        text=clean_text(text),
    )
    await touch_companies([company_id], activity.created_at)
    await events.record(
        None,
        EventObjectType.ACTIVITY,
        activity.id,
        EventAction.CREATE,
        events.created({"company_id": company_id, "contact_id": contact_id, "text": activity.text}),
        author.user.id if author else None,
        company_id,
    )
    if author is not None:
        await audit.record(
            author.user,
            audit.CREATE,
            "Activity",
            activity.id,
            {"company_id": company_id, "contact_id": contact_id},
            request_id,
        )
    return activity


async def touch_last_update(
    company_ids: Iterable[int | None], moment: datetime | None = None
) -> None:
    """Bump the companies' last update: a change to a company's contracts or invoices
    (created, changed, locked, deleted, imported) is a change of the company (SPEC §3)."""
    ids = sorted({int(i) for i in company_ids if i is not None})
    if ids:
        await Company.filter(id__in=ids).update(last_update=moment or datetime.now(UTC))


async def add_change_activity(
    author: Viewer | None, company_id: int, text: str, request_id: str = ""
) -> Activity:
    """The automatic activity of a contract or invoice change, which also bumps the
    company's last update."""
    activity = await add_activity(author, company_id, text, request_id=request_id)
    await touch_last_update([company_id], activity.created_at)
    return activity


async def update_activity(
    viewer: Viewer, activity: Activity, text: str, request_id: str = ""
) -> Activity:
    before = activity.text
    activity.text = clean_text(text)
    await activity.save()
    await events.record(
        None,
        EventObjectType.ACTIVITY,
        activity.id,
        EventAction.UPDATE,
        {"text": [before, activity.text]} if before != activity.text else {},
        viewer.user.id,
        activity.company_id,
    )
    await audit.record(
        viewer.user,
        audit.UPDATE,
        "Activity",
        activity.id,
        {"text": [before, activity.text]},
        request_id,
    )
    return activity


async def delete_activity(viewer: Viewer, activity: Activity, request_id: str = "") -> None:
    await audit.record(
        viewer.user, audit.DELETE, "Activity", activity.id, audit.snapshot(activity), request_id
    )
    await events.record(
        None,
        EventObjectType.ACTIVITY,
        activity.id,
        EventAction.DELETE,
        {},
        viewer.user.id,
        activity.company_id,
    )
    await activity.delete()
    latest = (
        await Activity.filter(company_id=activity.company_id)
        .order_by("-created_at")
        .first()
        .values("created_at")
    )
    moment = latest["created_at"] if latest else None
    await Company.filter(id=activity.company_id).update(
        last_activity_at=moment, last_activity_key=activity_key(moment)
    )
