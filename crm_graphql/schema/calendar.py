"""Types, inputs and payloads of the calendar: events and the iCalendar feed."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum

import strawberry

from crm_graphql.models.calendar import CalendarEvent, CalendarFeed
from crm_graphql.schema.common import UserError


@strawberry.enum(description="What a calendar event is for.")
class CalendarEventKind(Enum):
    INVOICE_DUE = strawberry.enum_value(
        "INVOICE_DUE", description="An invoice's payment is due that day."
    )
    LEAD_ALARM = strawberry.enum_value("LEAD_ALARM", description="A lead's alarm date.")
    OTHER = strawberry.enum_value("OTHER", description="An event you added yourself.")


@strawberry.type(name="CalendarEvent", description="An event of your calendar.")
class CalendarEventType:
    id: strawberry.ID = strawberry.field(description="Event id.")
    title: str = strawberry.field(description="Title.")
    description: str = strawberry.field(description="Details (may be empty).")
    starts_on: date = strawberry.field(
        description="Its day: the day of an all-day event, the UTC day of a timed one."
    )
    starts_at: datetime | None = strawberry.field(
        description="Its start time, or null for an all-day event."
    )
    created_at: datetime = strawberry.field(description="When it was added.")

    @strawberry.field(description="True when it lasts the whole day (no start time).")
    def all_day(self, root: strawberry.Parent[CalendarEvent]) -> bool:
        return root.starts_at is None

    @strawberry.field(description="What it is for.")
    def kind(self, root: strawberry.Parent[CalendarEvent]) -> CalendarEventKind:
        return CalendarEventKind(root.kind.value)

    @strawberry.field(description='Type of the object it is about (e.g. "Invoice"), or null.')
    def object_type(self, root: strawberry.Parent[CalendarEvent]) -> str | None:
        return root.object_type or None

    @strawberry.field(description="Id of the object it is about, or null.")
    def object_id(self, root: strawberry.Parent[CalendarEvent]) -> strawberry.ID | None:
        return None if root.object_id is None else strawberry.ID(str(root.object_id))


@strawberry.input(description="A new event of your own calendar: give startsOn or startsAt.")
class CalendarEventCreateInput:
    title: str = strawberry.field(description="Title (1 to 200 characters).")
    description: str = strawberry.field(default="", description="Details.")
    starts_on: date | None = strawberry.field(
        default=None, description="The day, for an all-day event."
    )
    starts_at: datetime | None = strawberry.field(
        default=None, description="The start time, for a timed event (UTC when no offset)."
    )


@strawberry.type(description="Result of calendarEventCreate.")
class CalendarEventPayload:
    event: CalendarEvent | None = strawberry.field(
        graphql_type=CalendarEventType | None, description="The event."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.type(
    name="CalendarFeed",
    description="Your active iCalendar feed. Its URL is shown only when it is created.",
)
class CalendarFeedType:
    prefix: str = strawberry.field(description="The first characters of its token, to tell it.")
    created_at: datetime = strawberry.field(description="When it was created.")
    last_used_at: datetime | None = strawberry.field(
        description="When a calendar app last read it (updated at most every 5 minutes)."
    )


@strawberry.type(description="Result of calendarFeedCreate.")
class CalendarFeedCreatePayload:
    url: str | None = strawberry.field(
        description="The feed's full URL, for a calendar app's subscription. Shown once: "
        "keep it secret, it is the credential."
    )
    path: str | None = strawberry.field(description="The same URL's path, `/calendar/<token>.ics`.")
    feed: CalendarFeed | None = strawberry.field(
        graphql_type=CalendarFeedType | None, description="The new feed."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.type(description="Result of calendarFeedRevoke.")
class CalendarFeedRevokePayload:
    revoked: int = strawberry.field(description="How many feed URLs stopped working (0 or 1).")
    errors: list[UserError] = strawberry.field(description="Why it was refused.")
