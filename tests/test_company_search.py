"""Company search (issue 12 item 12): the free-text `search` matches the name, country,
fiscal ID, general e-mail, office phone and address (ignoring case), and the id."""

from __future__ import annotations

from crm_graphql.models.companies import Company
from tests.factories import Api

QUERY = """query($f: CompanyFilter) {
  companies(filter: $f) { totalCount edges { node { name } } } }"""


async def _search(demo: Api, text: str, as_user: str = "admin") -> list[str]:
    data = await demo.data(QUERY, {"f": {"search": text}}, as_user=as_user)
    return [e["node"]["name"] for e in data["companies"]["edges"]]


async def test_search_matches_contact_details(demo: Api) -> None:
    # Given Customer #A with a fiscal ID, e-mail, phone and address
    await Company.filter(name="Customer #A").update(
        fiscal_id="ESB12345678",
        general_email="Billing@Acme-Example.com",
        office_phone="+34 912 345 678",
        address="Calle Mayor 12, Madrid",
    )
    a = await Company.get(name="Customer #A")
    # Then each of them finds it, ignoring case
    assert await _search(demo, "esb1234") == ["Customer #A"]
    assert await _search(demo, "acme-example") == ["Customer #A"]
    assert await _search(demo, "912 345") == ["Customer #A"]
    assert await _search(demo, "calle mayor") == ["Customer #A"]
    # digits search the id and the text columns (a phone fragment)
    assert await _search(demo, "678") == ["Customer #A"]
    assert await _search(demo, str(a.id)) == ["Customer #A"]
    # and name and country still do
    assert await _search(demo, "customer #b") == ["Customer #B"]
    assert await _search(demo, "nothing like it") == []


async def test_search_stays_within_visibility(demo: Api) -> None:
    # user1 cannot see My company (no parent, managed by admin): its e-mail finds nothing
    await Company.filter(name="My company").update(general_email="hq@my-company.example")
    assert await _search(demo, "hq@my-company") == ["My company"]
    assert await _search(demo, "hq@my-company", as_user="user1") == []
