"""Calendar events and the per-user iCalendar feed (SPEC §6 payment reminders, §9).

Events belong to one user and only that user lists, creates or deletes them; an event
about an object is listed only while that user may see the object
(permissions/calendar.py). Other
domains add theirs through `create_payment_reminder` (and later lead alarms), which is
idempotent per owner and object.

The feed is published at `/calendar/<token>.ics`: the URL's token is the credential,
because calendar apps cannot send bearer tokens. Feed tokens live in their own table
(`calendar_feeds`), only their SHA-256 stored, and carry the `cal_` prefix: they are
not API tokens, so `/graphql` refuses them (401) like any unknown bearer token. A user
has at most one active feed: creating a new one revokes the old URL."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

from icalendar import Calendar, Event
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from crm_graphql.errors import BadUserInput, ErrorCode, FieldError, PayloadErrors
from crm_graphql.models.auth import TokenKind, TokenScope
from crm_graphql.models.calendar import CalendarEvent, CalendarEventKind, CalendarFeed
from crm_graphql.models.users import User
from crm_graphql.services import audit
from crm_graphql.services.auth import Viewer, user_bits

FEED_TOKEN_PREFIX = "cal_"  # noqa: S105  (a marker, not a secret)
MAX_RANGE_DAYS = 366  # calendarEvents: at most a year, leap years included
MAX_LIST = 5_000  # events in one calendarEvents answer or one feed
FEED_PAST_DAYS = 365  # the feed shows events from a year ago onwards
MAX_TITLE = 200
MAX_DESCRIPTION = 10_000
PRODID = "-//CRM GraphQL//Calendar//EN"
_TOUCH_EVERY = timedelta(minutes=5)


def _now() -> datetime:
    return datetime.now(UTC)


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _user(viewer_or_user: Any) -> User:
    """A Viewer's user, or the user itself."""
    return getattr(viewer_or_user, "user", viewer_or_user)


# ---------------------------------------------------------------------------------------
# Events


def check_range(start: date, end: date) -> None:
    """`start`..`end` (both included) must be in order and span at most a year."""
    if end < start:
        raise BadUserInput("`to` is before `from`.", field="to")
    if (end - start).days >= MAX_RANGE_DAYS:
        raise BadUserInput(f"Ask for at most {MAX_RANGE_DAYS} days at a time.", field="to")


async def events_in_range(visible: Q, start: date, end: date) -> list[CalendarEvent]:
    """The `visible` events (the viewer's, `permissions.calendar.visible_events_q`) from
    `start` to `end` (days, both included), in date order."""
    check_range(start, end)
    return (
        await CalendarEvent.filter(visible, starts_on__gte=start)
        .filter(starts_on__lte=end)
        .order_by("starts_on", "starts_at", "id")
        .limit(MAX_LIST)
    )


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _event_values(data: dict[str, Any]) -> dict[str, Any]:
    errors: list[FieldError] = []
    title = str(data.get("title") or "").strip()
    if not title:
        errors.append(FieldError("title", ErrorCode.REQUIRED, "Give the event a title."))
    elif len(title) > MAX_TITLE:
        errors.append(FieldError("title", ErrorCode.TOO_LARGE, f"At most {MAX_TITLE} characters."))
    description = str(data.get("description") or "")
    if len(description) > MAX_DESCRIPTION:
        errors.append(
            FieldError("description", ErrorCode.TOO_LARGE, f"At most {MAX_DESCRIPTION} characters.")
        )
    starts_on: date | None = data.get("starts_on")
    starts_at: datetime | None = data.get("starts_at")
    if (starts_on is None) == (starts_at is None):
        errors.append(
            FieldError(
                "startsOn",
                ErrorCode.REQUIRED,
                "Give either startsOn (all day) or startsAt (a time).",
            )
        )
    if errors:
        raise PayloadErrors(errors)
    if starts_at is not None:
        starts_at = _utc(starts_at)
        starts_on = starts_at.date()
    return {
        "title": title,
        "description": description,
        "starts_on": starts_on,
        "starts_at": starts_at,
    }


async def create_event(actor: User, data: dict[str, Any], request_id: str = "") -> CalendarEvent:
    """A user's own event (kind OTHER, about no object)."""
    event = await CalendarEvent.create(
        owner=actor, kind=CalendarEventKind.OTHER, **_event_values(data)
    )
    await audit.record(
        actor, audit.CREATE, "CalendarEvent", event.id, audit.snapshot(event), request_id
    )
    return event


async def delete_event(actor: User, event_id: int, request_id: str = "") -> None:
    """Delete one of the actor's events; anybody else's is NOT_FOUND."""
    event = await CalendarEvent.filter(id=event_id, owner_id=actor.id).first()
    if event is None:
        raise FieldError("id", ErrorCode.NOT_FOUND, "No such event in your calendar.")
    await audit.record(
        actor, audit.DELETE, "CalendarEvent", event.id, audit.snapshot(event), request_id
    )
    await event.delete()


async def create_payment_reminder(viewer: Any, invoice: Any, request_id: str = "") -> CalendarEvent:
    """The viewer's "Invoice <bill ID> due" all-day event on the invoice's expiration
    date (kind INVOICE_DUE, object "Invoice" and its id). Idempotent per owner and
    invoice: a second call returns the same event, moved and renamed if the invoice's
    date or bill ID changed. An invoice without an expiration date is a FieldError on
    `expiresOn`. `viewer` is a Viewer or a User; call inside the invoice's transaction."""
    owner = _user(viewer)
    if invoice.expires_on is None:
        raise FieldError(
            "expiresOn",
            ErrorCode.REQUIRED,
            "A payment reminder needs the invoice's expiration date.",
        )
    title = f"Invoice {invoice.bill_id} due"[:MAX_TITLE]
    key = {
        "owner_id": owner.id,
        "kind": CalendarEventKind.INVOICE_DUE,
        "object_type": "Invoice",
        "object_id": invoice.id,
    }
    event = await CalendarEvent.filter(**key).first()
    if event is None:
        try:
            async with in_transaction():  # a savepoint: a concurrent twin may win
                event = await CalendarEvent.create(
                    **key, title=title, starts_on=invoice.expires_on, starts_at=None
                )
        except IntegrityError:
            event = await CalendarEvent.get(**key)
        else:
            await audit.record(
                owner, audit.CREATE, "CalendarEvent", event.id, audit.snapshot(event), request_id
            )
            return event
    if event.title != title or event.starts_on != invoice.expires_on:
        before = audit.snapshot(event)
        event.title = title
        event.starts_on = invoice.expires_on
        event.starts_at = None
        await event.save(update_fields=["title", "starts_on", "starts_at"])
        changed = audit.diff(before, audit.snapshot(event))
        await audit.record(owner, audit.UPDATE, "CalendarEvent", event.id, changed, request_id)
    return event


async def sync_lead_alarm(lead: Any) -> CalendarEvent | None:
    """The owner's LEAD_ALARM event at the lead's alarm time: created, moved, or removed
    (no alarm, no owner, or another owner's event left from a hand-over)."""
    stale = CalendarEvent.filter(
        kind=CalendarEventKind.LEAD_ALARM, object_type="Lead", object_id=lead.id
    )
    if lead.alarm_at is None or lead.owner_id is None:
        await stale.delete()
        return None
    await stale.exclude(owner_id=lead.owner_id).delete()
    moment = _utc(lead.alarm_at)
    values: dict[str, Any] = {
        "title": f"Lead alarm: {lead.full_name}"[:MAX_TITLE],
        "starts_on": moment.date(),
    }
    key: dict[str, Any] = {
        "owner_id": lead.owner_id,
        "kind": CalendarEventKind.LEAD_ALARM,
        "object_type": "Lead",
        "object_id": lead.id,
    }
    event = await CalendarEvent.filter(**key).first()
    if event is None:
        return await CalendarEvent.create(**key, **values, starts_at=moment)
    if (event.title, event.starts_on, event.starts_at) != (
        values["title"],
        values["starts_on"],
        moment,
    ):
        event.update_from_dict({**values, "starts_at": moment})
        await event.save(update_fields=["title", "starts_on", "starts_at"])
    return event


async def delete_object_events(object_type: str, object_id: int) -> int:
    """Remove every user's events about an object (e.g. a deleted invoice)."""
    return await CalendarEvent.filter(object_type=object_type, object_id=object_id).delete()


# ---------------------------------------------------------------------------------------
# Feeds


def feed_path(raw_token: str) -> str:
    return f"/calendar/{raw_token}.ics"


async def active_feed(user_id: int) -> CalendarFeed | None:
    return await CalendarFeed.filter(user_id=user_id, revoked_at__isnull=True).first()


async def revoke_feeds(actor: User, request_id: str = "") -> int:
    """Revoke the actor's feed URL(s); returns how many were active."""
    active = await CalendarFeed.filter(user_id=actor.id, revoked_at__isnull=True).values_list(
        "id", flat=True
    )
    if not active:
        return 0
    await CalendarFeed.filter(id__in=list(active)).update(revoked_at=_now())
    for feed_id in active:
        await audit.record(
            actor, audit.UPDATE, "CalendarFeed", feed_id, {"revoked": [False, True]}, request_id
        )
    return len(active)


async def create_feed(actor: User, request_id: str = "") -> tuple[CalendarFeed, str]:
    """A new feed for the actor (revoking the previous one) and its raw token, which
    is shown once and never stored."""
    await revoke_feeds(actor, request_id)
    raw = FEED_TOKEN_PREFIX + secrets.token_urlsafe(32)
    feed = await CalendarFeed.create(user=actor, token_hash=_hash(raw), prefix=raw[:12])
    await audit.record(
        actor, audit.CREATE, "CalendarFeed", feed.id, audit.snapshot(feed), request_id
    )
    return feed, raw


async def feed_owner(raw_token: str) -> User | None:
    """The enabled user whose active feed this token is, else None."""
    if not raw_token.startswith(FEED_TOKEN_PREFIX) or len(raw_token) > 100:
        return None
    feed = (
        await CalendarFeed.filter(token_hash=_hash(raw_token), revoked_at__isnull=True)
        .select_related("user")
        .first()
    )
    if feed is None or not feed.user.enabled:
        return None
    moment = _now()
    if feed.last_used_at is None or moment - feed.last_used_at > _TOUCH_EVERY:
        await CalendarFeed.filter(id=feed.id).update(last_used_at=moment)
    return feed.user


async def feed_viewer(user: User) -> Viewer:
    """The feed's owner as a viewer (their current bits and company), so the feed shows
    exactly what their calendar would."""
    loaded = await User.get(id=user.id).select_related("company")
    return Viewer(loaded, await user_bits(user.id), 0, TokenKind.SESSION, TokenScope.FULL)


async def feed_events(visible: Q, today: date | None = None) -> list[CalendarEvent]:
    """What a user's feed publishes: the `visible` events (the feed owner's,
    `permissions.calendar.visible_events_q`) from FEED_PAST_DAYS ago onwards."""
    since = (today or _now().date()) - timedelta(days=FEED_PAST_DAYS)
    return (
        await CalendarEvent.filter(visible, starts_on__gte=since)
        .order_by("starts_on", "starts_at", "id")
        .limit(MAX_LIST)
    )


def event_uid(event: CalendarEvent) -> str:
    """Stable for the event's life: its id and creation time."""
    created = _utc(event.created_at).strftime("%Y%m%dT%H%M%SZ")
    return f"crm-event-{event.id}-{created}@crm-graphql"


def render_feed(user: User, events: list[CalendarEvent]) -> bytes:
    """An RFC 5545 VCALENDAR of `events` (the icalendar library escapes and folds)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"CRM ({user.username})")
    calendar.add("x-published-ttl", "PT1H")
    for item in events:
        vevent = Event()
        vevent.add("uid", event_uid(item))
        vevent.add("dtstamp", _utc(item.created_at))
        vevent.add("created", _utc(item.created_at))
        vevent.add("summary", item.title)
        if item.description:
            vevent.add("description", item.description)
        if item.starts_at is None:
            vevent.add("dtstart", item.starts_on)  # DTSTART;VALUE=DATE
            vevent.add("dtend", item.starts_on + timedelta(days=1))
            vevent.add("transp", "TRANSPARENT")
        else:
            vevent.add("dtstart", _utc(item.starts_at))
        vevent.add("categories", [item.kind.value])
        calendar.add_component(vevent)
    return calendar.to_ical()
