"""Filters (issue 12): plain boolean conditions work, and a filter through a relation
matches only related rows the viewer may see (SPEC §2), so it never reveals hidden data."""

from __future__ import annotations

from typing import Any

from tests.factories import Api
from tests.test_access_gaps import LEAD_CREATE

LEADS = """query($f: LeadFilter) { leads(filter: $f, first: 100) {
  totalCount edges { node { fullName duplicate } } } }"""


async def lead_names(api: Api, user: str, flt: dict[str, Any]) -> set[str]:
    data = await api.data(LEADS, {"f": flt}, as_user=user)
    return {e["node"]["fullName"] for e in data["leads"]["edges"]}


# ------------------------------------------------------------ 8. the duplicate filter


async def test_lead_duplicate_filter(demo: Api) -> None:
    # Given two leads, the second with the first one's e-mail
    for name in ("First", "Second"):
        made = await demo.data(
            LEAD_CREATE, {"i": {"fullName": name, "email": "same@x.example"}}, as_user="user1"
        )
        assert made["leadCreate"]["errors"] == []
    await demo.data(LEAD_CREATE, {"i": {"fullName": "Other"}}, as_user="user1")
    # Then duplicate: true / false split them
    assert await lead_names(demo, "user1", {"duplicate": True}) == {"Second"}
    assert await lead_names(demo, "user1", {"duplicate": False}) == {"First", "Other"}
    assert await lead_names(demo, "user1", {"not": {"duplicate": True}}) == {"First", "Other"}
