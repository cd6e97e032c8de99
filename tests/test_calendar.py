"""The calendar over HTTP (SPEC §6 payment reminders, §9): each user lists, adds and
deletes only their own events by date range; invoices add idempotent payment
reminders; the iCalendar feed at /calendar/<token>.ics parses back with the icalendar
library, needs no bearer token, and its token is revocable and no API credential."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, date, datetime
from typing import Any

import pytest
from icalendar import Calendar

from crm_graphql.models.calendar import CalendarEvent, CalendarEventKind, CalendarFeed
from crm_graphql.models.invoices import Invoice
from crm_graphql.models.users import User
from crm_graphql.services.calendar import create_payment_reminder
from crm_graphql.services.mutations import atomic
from tests.calendar_api import invoice, new_feed
from tests.conftest import IS_POSTGRES
from tests.factories import Api, error_codes

EVENTS = """query Events($from: Date!, $to: Date!) {
  calendarEvents(from: $from, to: $to) {
    id title description startsOn startsAt allDay kind objectType objectId
  }
}"""
CREATE = """mutation Add($input: CalendarEventCreateInput!) {
  calendarEventCreate(input: $input) {
    event { id title startsOn startsAt allDay kind }
    errors { field code message }
  }
}"""
DELETE = """mutation Remove($id: ID!) {
  calendarEventDelete(id: $id) { deletedId errors { field code } }
}"""
FEED_REVOKE = "mutation Revoke { calendarFeedRevoke { revoked errors { code } } }"
FEED = "query MyFeed { calendarFeed { prefix createdAt lastUsedAt } }"


async def add(api: Api, user: str, **values: Any) -> dict[str, Any]:
    data = await api.data(CREATE, {"input": values}, as_user=user)
    result = data["calendarEventCreate"]
    assert result["errors"] == [], result
    return result["event"]


async def events(api: Api, user: str, start: str, end: str) -> list[dict[str, Any]]:
    return (await api.data(EVENTS, {"from": start, "to": end}, as_user=user))["calendarEvents"]


# ---------------------------------------------------------------------------------------
# Events


async def test_events_by_range_in_date_order(demo: Api) -> None:
    # Given user1's all-day event and a timed one given with a +02:00 offset
    timed = await add(demo, "user1", title="Call ACME", startsAt="2026-03-12T15:30:00+02:00")
    assert timed["startsOn"] == "2026-03-12"
    assert datetime.fromisoformat(timed["startsAt"]) == datetime(2026, 3, 12, 13, 30, tzinfo=UTC)
    assert timed["allDay"] is False and timed["kind"] == "OTHER"
    day = await add(demo, "user1", title="Trade fair", startsOn="2026-03-10", description="Hall 3")
    assert day["allDay"] is True and day["startsAt"] is None
    await add(demo, "user1", title="Next month", startsOn="2026-04-01")

    # Then March lists both, in date order; the range's ends are included
    march = await events(demo, "user1", "2026-03-01", "2026-03-31")
    assert [e["title"] for e in march] == ["Trade fair", "Call ACME"]
    assert march[0]["description"] == "Hall 3"
    assert march[0]["objectType"] is None and march[0]["objectId"] is None
    assert [e["title"] for e in await events(demo, "user1", "2026-03-12", "2026-04-01")] == [
        "Call ACME",
        "Next month",
    ]
    assert await events(demo, "user1", "2026-03-11", "2026-03-11") == []
    # A whole year, even a leap one, is fine
    assert len(await events(demo, "user1", "2026-01-01", "2027-01-01")) == 3


async def test_bad_ranges_are_bad_user_input(demo: Api) -> None:
    for start, end in (("2026-03-31", "2026-03-01"), ("2026-01-01", "2027-01-02")):
        body = await demo.gql(EVENTS, {"from": start, "to": end}, as_user="user1")
        assert error_codes(body) == ["BAD_USER_INPUT"], (start, end, body)
    body = await demo.gql(EVENTS, {"from": "2026-02-30", "to": "2026-03-01"}, as_user="user1")
    assert error_codes(body) == ["BAD_USER_INPUT"]
    body = await demo.gql(EVENTS, {"from": "2026-03-01", "to": "2026-03-02"})
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_event_input_is_checked(demo: Api) -> None:
    cases = (
        ({"title": "x"}, "startsOn"),
        ({"title": "x", "startsOn": "2026-01-01", "startsAt": "2026-01-01T10:00:00Z"}, "startsOn"),
        ({"title": "  ", "startsOn": "2026-01-01"}, "title"),
        ({"title": "x" * 201, "startsOn": "2026-01-01"}, "title"),
    )
    for values, field in cases:
        data = await demo.data(CREATE, {"input": values}, as_user="user1")
        result = data["calendarEventCreate"]
        assert result["event"] is None
        assert [e["field"] for e in result["errors"]] == [field], values
    assert not await CalendarEvent.exists()


async def test_users_never_see_or_delete_each_others_events(demo: Api) -> None:
    mine = await add(demo, "user1", title="Mine", startsOn="2026-05-05")
    theirs = await add(demo, "user2", title="Theirs", startsOn="2026-05-05")

    assert [e["title"] for e in await events(demo, "user1", "2026-05-01", "2026-05-31")] == ["Mine"]
    assert [e["title"] for e in await events(demo, "admin", "2026-05-01", "2026-05-31")] == []

    # user1 cannot delete user2's event: NOT_FOUND, and it stays
    data = await demo.data(DELETE, {"id": theirs["id"]}, as_user="user1")
    assert data["calendarEventDelete"]["errors"] == [{"field": "id", "code": "NOT_FOUND"}]
    assert await CalendarEvent.filter(id=int(theirs["id"])).exists()
    for bad in ("abc", "99999999999"):
        data = await demo.data(DELETE, {"id": bad}, as_user="user1")
        assert data["calendarEventDelete"]["deletedId"] is None

    # but deletes their own
    data = await demo.data(DELETE, {"id": mine["id"]}, as_user="user1")
    assert data["calendarEventDelete"] == {"deletedId": mine["id"], "errors": []}
    assert await events(demo, "user1", "2026-05-01", "2026-05-31") == []


async def test_payment_reminder_is_idempotent_per_owner_and_invoice(demo: Api) -> None:
    user1 = await User.get(username="user1")
    bill = await invoice()

    async def remind(who: User, which: Invoice) -> CalendarEvent:
        event, errors = await atomic(lambda: create_payment_reminder(who, which))
        assert errors == [] and event is not None
        return event

    first = await remind(user1, bill)
    assert first.title == "Invoice 21/1001 due"
    assert (first.starts_on, first.starts_at, first.kind) == (
        date(2026, 4, 30),
        None,
        CalendarEventKind.INVOICE_DUE,
    )
    assert (first.object_type, first.object_id) == ("Invoice", bill.id)
    # Again: the same event; after the due date moves, the same event moved
    assert (await remind(user1, bill)).id == first.id
    bill.expires_on = date(2026, 5, 15)
    await bill.save()
    moved = await remind(user1, bill)
    assert moved.id == first.id and moved.starts_on == date(2026, 5, 15)
    assert await CalendarEvent.filter(object_type="Invoice").count() == 1
    # Another user's reminder of the same invoice is theirs
    other = await remind(await User.get(username="manager1"), bill)
    assert other.id != first.id

    listed = await events(demo, "user1", "2026-05-01", "2026-05-31")
    assert listed == [
        {
            "id": str(first.id),
            "title": "Invoice 21/1001 due",
            "description": "",
            "startsOn": "2026-05-15",
            "startsAt": None,
            "allDay": True,
            "kind": "INVOICE_DUE",
            "objectType": "Invoice",
            "objectId": str(bill.id),
        }
    ]

    # An invoice without an expiration date cannot have a reminder
    undated = await invoice("21/1002", expires_on=None)  # type: ignore[arg-type]
    event, errors = await atomic(lambda: create_payment_reminder(user1, undated))
    assert event is None and [e.field for e in errors] == ["expiresOn"]


# ---------------------------------------------------------------------------------------
# The iCalendar feed


async def test_feed_serves_the_users_events_as_icalendar(demo: Api) -> None:
    # Given user1's events, one with characters iCalendar must escape, and user2's
    await add(
        demo,
        "user1",
        title="Call ACME, Inc; ask for \\Bob\\",
        startsOn="2030-06-01",
        description="Line one\nLine two, with a comma; and a semicolon",
    )
    await add(demo, "user1", title="Kick-off", startsAt="2030-06-02T09:00:00Z")
    await atomic(lambda: _remind("user1"))
    await add(demo, "user2", title="Not yours", startsOn="2030-06-01")
    path = await new_feed(demo, "user1")

    # When a calendar app reads the URL, without any bearer token
    response = await demo.client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert b"\r\n" in response.content
    assert b"DTSTART;VALUE=DATE:20300601" in response.content
    assert b"SUMMARY:Call ACME\\, Inc\\; ask for \\\\Bob\\\\" in response.content

    # Then it parses back with the events, exactly
    calendar = Calendar.from_ical(response.content)
    assert str(calendar["VERSION"]) == "2.0"
    vevents = {str(e["SUMMARY"]): e for e in calendar.walk("VEVENT")}
    assert set(vevents) == {"Call ACME, Inc; ask for \\Bob\\", "Kick-off", "Invoice 21/1001 due"}
    escaped = vevents["Call ACME, Inc; ask for \\Bob\\"]
    assert str(escaped["DESCRIPTION"]) == "Line one\nLine two, with a comma; and a semicolon"
    assert escaped.decoded("DTSTART") == date(2030, 6, 1)
    assert escaped["DTSTART"].params.get("VALUE") == "DATE"
    due = vevents["Invoice 21/1001 due"]
    assert due.decoded("DTSTART") == date(2030, 7, 1)
    assert vevents["Kick-off"].decoded("DTSTART") == datetime(2030, 6, 2, 9, 0, tzinfo=UTC)

    # UIDs are unique and stable from one read to the next
    uids = {str(e["UID"]) for e in calendar.walk("VEVENT")}
    assert len(uids) == 3
    again = Calendar.from_ical((await demo.client.get(path)).content)
    assert {str(e["UID"]) for e in again.walk("VEVENT")} == uids

    # Only the token's hash is stored, and the feed's use is recorded
    token = path.removeprefix("/calendar/").removesuffix(".ics")
    feed = await CalendarFeed.get(user__username="user1")
    assert feed.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in feed.prefix or len(feed.prefix) < len(token)
    info = (await demo.data(FEED, as_user="user1"))["calendarFeed"]
    assert info["prefix"] == feed.prefix and info["lastUsedAt"] is not None


async def _remind(username: str) -> CalendarEvent:
    bill = await invoice(expires_on=date(2030, 7, 1))
    return await create_payment_reminder(await User.get(username=username), bill)


async def test_revoked_replaced_and_unknown_feeds_are_404(demo: Api) -> None:
    await add(demo, "user1", title="Soon", startsOn="2030-01-01")
    first = await new_feed(demo, "user1")
    assert (await demo.client.get(first)).status_code == 200

    # A new feed URL replaces the previous one
    second = await new_feed(demo, "user1")
    assert (await demo.client.get(first)).status_code == 404
    assert (await demo.client.get(second)).status_code == 200

    # Revoking stops it
    data = await demo.data(FEED_REVOKE, as_user="user1")
    assert data["calendarFeedRevoke"] == {"revoked": 1, "errors": []}
    response = await demo.client.get(second)
    assert response.status_code == 404
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert (await demo.data(FEED, as_user="user1"))["calendarFeed"] is None
    data = await demo.data(FEED_REVOKE, as_user="user1")
    assert data["calendarFeedRevoke"]["revoked"] == 0

    for unknown in ("/calendar/cal_nothing.ics", "/calendar/crm_x.ics", "/calendar/.ics"):
        assert (await demo.client.get(unknown)).status_code == 404

    # A disabled user's feed stops too
    third = await new_feed(demo, "user1")
    await User.filter(username="user1").update(enabled=False)
    assert (await demo.client.get(third)).status_code == 404


async def test_feed_token_is_not_an_api_credential(demo: Api) -> None:
    path = await new_feed(demo, "user1")
    token = path.removeprefix("/calendar/").removesuffix(".ics")
    response = await demo.post("query Me { calendarFeed { prefix } }", token=token)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # and an API bearer token does not open someone's feed either
    assert (await demo.client.get(f"/calendar/{demo.tokens['user1']}.ics")).status_code == 404


@pytest.mark.skipif(not IS_POSTGRES, reason="concurrent transactions are tested on PostgreSQL")
async def test_concurrent_reminders_of_one_invoice_make_one_event(demo: Api) -> None:
    user1 = await User.get(username="user1")
    bill = await invoice()
    results = await asyncio.gather(
        *(atomic(lambda: create_payment_reminder(user1, bill)) for _ in range(5))
    )
    assert [errors for _, errors in results] == [[]] * 5
    assert len({event.id for event, _ in results if event is not None}) == 1
    assert await CalendarEvent.filter(object_type="Invoice", object_id=bill.id).count() == 1
