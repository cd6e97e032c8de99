"""The viewer's calendar: events by date range, own events, the iCalendar feed URL.

Every field is about the viewer's own calendar, so any authenticated user (full-scope
token) may use them; nobody reads or changes another user's events."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from crm_graphql.context import Info
from crm_graphql.ids import parse_id
from crm_graphql.models.calendar import CalendarEvent, CalendarFeed
from crm_graphql.permissions.base import auth
from crm_graphql.permissions.calendar import visible_events_q
from crm_graphql.resolvers.common import input_fields
from crm_graphql.schema.calendar import (
    CalendarEventCreateInput,
    CalendarEventPayload,
    CalendarEventType,
    CalendarFeedCreatePayload,
    CalendarFeedRevokePayload,
    CalendarFeedType,
)
from crm_graphql.schema.common import DeletePayload, user_errors
from crm_graphql.services import calendar as service
from crm_graphql.services.mutations import atomic

Described = strawberry.argument


@strawberry.type
class CalendarQuery:
    @strawberry.field(
        description="Your events from `from` to `to` (both days included, at most 366 "
        "days; otherwise BAD_USER_INPUT), by date then time. An event about a lead or an "
        "invoice is listed only while you may see that lead or invoice.",
        extensions=auth(),
        graphql_type=list[CalendarEventType],
    )
    async def calendar_events(
        self,
        info: Info,
        from_: Annotated[date, Described(name="from", description="First day.")],
        to: Annotated[date, Described(description="Last day.")],
    ) -> list[CalendarEvent]:
        viewer = info.context.require_viewer()
        return await service.events_in_range(visible_events_q(viewer), from_, to)

    @strawberry.field(
        description="Your active iCalendar feed (without its URL), or null.",
        extensions=auth(),
        graphql_type=CalendarFeedType | None,
    )
    async def calendar_feed(self, info: Info) -> CalendarFeed | None:
        viewer = info.context.require_viewer()
        return await service.active_feed(viewer.user.id)


@strawberry.type
class CalendarMutation:
    @strawberry.mutation(description="Add an event to your calendar.", extensions=auth())
    async def calendar_event_create(
        self,
        info: Info,
        input: Annotated[CalendarEventCreateInput, Described(description="The event.")],
    ) -> CalendarEventPayload:
        viewer = info.context.require_viewer()
        data = input_fields(input)
        event, errors = await atomic(
            lambda: service.create_event(viewer.user, data, info.context.request_id)
        )
        return CalendarEventPayload(event=event, errors=user_errors(errors))

    @strawberry.mutation(
        description="Delete one of your events (anybody else's is NOT_FOUND).", extensions=auth()
    )
    async def calendar_event_delete(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="The event.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            await service.delete_event(viewer.user, parse_id(id, "id"), info.context.request_id)

        _, errors = await atomic(work)
        return DeletePayload(deleted_id=None if errors else id, errors=user_errors(errors))

    @strawberry.mutation(
        description="Publish your calendar as an iCalendar feed: returns its secret URL, "
        "once. A previous feed URL stops working.",
        extensions=auth(),
    )
    async def calendar_feed_create(self, info: Info) -> CalendarFeedCreatePayload:
        viewer = info.context.require_viewer()
        result, errors = await atomic(
            lambda: service.create_feed(viewer.user, info.context.request_id)
        )
        if result is None:
            return CalendarFeedCreatePayload(
                url=None, path=None, feed=None, errors=user_errors(errors)
            )
        feed, raw = result
        path = service.feed_path(raw)
        base = str(info.context.request.base_url).rstrip("/")
        return CalendarFeedCreatePayload(
            url=base + path,
            path=path,
            feed=feed,
            errors=[],
        )

    @strawberry.mutation(
        description="Stop publishing your calendar: the feed URL answers 404 from now on.",
        extensions=auth(),
    )
    async def calendar_feed_revoke(self, info: Info) -> CalendarFeedRevokePayload:
        viewer = info.context.require_viewer()
        count, errors = await atomic(
            lambda: service.revoke_feeds(viewer.user, info.context.request_id)
        )
        return CalendarFeedRevokePayload(revoked=count or 0, errors=user_errors(errors))
