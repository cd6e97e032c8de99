"""GET /calendar/{token}.ics: a user's calendar as an RFC 5545 iCalendar feed.

No bearer token: calendar apps cannot send one, so the secret token in the URL is the
credential (made by calendarFeedCreate, revoked by calendarFeedRevoke, only its
SHA-256 stored). An unknown, revoked or disabled user's token is a 404, like any
missing page, so the endpoint reveals nothing."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from crm_graphql.errors import ErrorCode
from crm_graphql.permissions.calendar import visible_events_q
from crm_graphql.services import calendar as service


def _not_found() -> Response:
    body = {"errors": [{"message": "Not found.", "extensions": {"code": ErrorCode.NOT_FOUND}}]}
    return JSONResponse(body, status_code=404, headers={"Cache-Control": "no-store"})


async def feed(request: Request) -> Response:
    token = request.path_params.get("token", "")
    user = await service.feed_owner(token)
    if user is None:
        return _not_found()
    viewer = await service.feed_viewer(user)
    body = service.render_feed(user, await service.feed_events(visible_events_q(viewer)))
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": 'inline; filename="calendar.ics"',
            "Cache-Control": "private, no-cache",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )
