"""Activities: notes on companies and contacts. Writing one bumps the company's
last-activity date, which lists sort and filter on."""

from __future__ import annotations

from crm_graphql.errors import FieldError
from crm_graphql.models.activities import Activity
from crm_graphql.models.companies import Company
from crm_graphql.services import audit
from crm_graphql.services.auth import Viewer

TEXT_LIMIT = 20_000


def clean_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise FieldError("text", "REQUIRED", "An activity needs some text.")
    if len(text) > TEXT_LIMIT:
        raise FieldError("text", "TOO_LARGE", f"At most {TEXT_LIMIT} characters.")
    return text


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
    await Company.filter(id=company_id).update(last_activity_at=activity.created_at)
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


async def update_activity(
    viewer: Viewer, activity: Activity, text: str, request_id: str = ""
) -> Activity:
    before = activity.text
    activity.text = clean_text(text)
    await activity.save()
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
    await activity.delete()
    latest = (
        await Activity.filter(company_id=activity.company_id)
        .order_by("-created_at")
        .first()
        .values("created_at")
    )
    await Company.filter(id=activity.company_id).update(
        last_activity_at=latest["created_at"] if latest else None
    )
