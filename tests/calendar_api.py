"""The calendar for tests: an invoice that adds a payment reminder, and an iCalendar
feed made as a client makes it."""

from __future__ import annotations

from datetime import date

from crm_graphql.models.companies import Company
from crm_graphql.models.invoices import Invoice
from tests.factories import Api, make_invoice

FEED_CREATE = """mutation Feed {
  calendarFeedCreate { url path feed { prefix createdAt } errors { code } }
}"""


async def invoice(bill_id: str = "21/1001", expires_on: date = date(2026, 4, 30)) -> Invoice:
    """A submitted invoice of Customer #A issued on 2026-03-31."""
    company = await Company.get(name="Customer #A")
    return await make_invoice(company, bill_id, expires_on=expires_on)


async def new_feed(api: Api, user: str) -> str:
    result = (await api.data(FEED_CREATE, as_user=user))["calendarFeedCreate"]
    assert result["errors"] == []
    assert result["url"] == "http://test" + result["path"]
    assert result["path"].startswith("/calendar/cal_") and result["path"].endswith(".ics")
    return result["path"]
