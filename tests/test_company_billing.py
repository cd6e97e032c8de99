"""Company billing per currency (issue 12, item 7; SPEC §3): amounts in different
currencies are never added. `Company.billing` is a list per currency; the billing
filter, the BILLING sort and the invoicing statistics name one currency, by default
CRM setup's default currency."""

from __future__ import annotations

import csv
import io
from typing import Any

from crm_graphql.models.setup import CrmSetup
from tests.factories import Api, company_id, error_codes
from tests.invoices_api import create_ok, seed_input

LIST = """query($f: CompanyFilter, $o: [CompanyOrder!], $first: Int, $after: String) {
  companies(filter: $f, orderBy: $o, first: $first, after: $after) {
    edges { cursor node { name billing { currency amount } } } } }"""
STATS = """query($c: String) { companyStatistics {
  topByInvoicing(currency: $c) { company { name } currency amount }
  invoicingPerManager(currency: $c) { manager { username } currency amount } } }"""


async def _invoice(demo: Api, company: str, currency: str, amount: str) -> dict[str, Any]:
    lines = [{"concept": "Work", "amount": amount}]
    return await create_ok(
        demo, "manager1", seed_input(company, currency=currency, lines=lines, discountPercent="0")
    )


async def _world(demo: Api) -> None:
    # Customer #A (user1's): EUR 100 and JPY 10,000; Customer #B (manager1's): EUR 500.
    a, b = await company_id("Customer #A"), await company_id("Customer #B")
    await _invoice(demo, a, "EUR", "100")
    await _invoice(demo, a, "JPY", "10000")
    await _invoice(demo, b, "EUR", "500")


async def _names(demo: Api, flt: Any = None, order: Any = None) -> list[str]:
    data = await demo.data(LIST, {"f": flt, "o": order}, as_user="admin")
    return [e["node"]["name"] for e in data["companies"]["edges"]]


async def test_billing_is_a_list_per_currency(demo: Api) -> None:
    await _world(demo)
    data = await demo.data(LIST, {"f": {"name": {"eq": "Customer #A"}}}, as_user="admin")
    assert data["companies"]["edges"][0]["node"]["billing"] == [
        {"currency": "EUR", "amount": "100.00"},
        {"currency": "JPY", "amount": "10000.00"},
    ]
    data = await demo.data(LIST, {"f": {"name": {"eq": "My company"}}}, as_user="admin")
    assert data["companies"]["edges"][0]["node"]["billing"] == []


async def test_billing_filter_names_a_currency(demo: Api) -> None:
    await _world(demo)
    # default: CRM setup's default currency (EUR); never 10,100 for Customer #A
    assert await _names(demo, {"billing": {"gte": "200"}}) == ["Customer #B"]
    assert await _names(demo, {"billing": {"gt": "10000"}}) == []
    assert await _names(demo, {"billing": {"lt": "200"}}) == ["Customer #A", "My company"]
    assert await _names(demo, {"billing": {"eq": "0"}}) == ["My company"]
    assert await _names(demo, {"billing": {"currency": "JPY", "gte": "1000"}}) == ["Customer #A"]
    assert await _names(demo, {"billing": {"currency": "jpy", "lt": "1"}}) == [
        "Customer #B",
        "My company",
    ]
    assert await _names(demo, {"not": {"billing": {"currency": "JPY", "gte": "1"}}}) == [
        "Customer #B",
        "My company",
    ]
    # the default follows CRM setup
    await CrmSetup.filter(id=1).update(default_currency="JPY")
    assert await _names(demo, {"billing": {"gte": "200"}}) == ["Customer #A"]
    body = await demo.gql(
        LIST, {"f": {"billing": {"currency": "EURO", "gte": "1"}}}, as_user="admin"
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "currency code" in body["errors"][0]["message"]


async def test_billing_sort_names_a_currency_and_pages(demo: Api) -> None:
    await _world(demo)
    desc = {"field": "BILLING", "direction": "DESC"}
    name = {"field": "NAME"}
    assert await _names(demo, order=[desc, name]) == ["Customer #B", "Customer #A", "My company"]
    assert await _names(demo, order=[{**desc, "currency": "JPY"}, name]) == [
        "Customer #A",
        "Customer #B",
        "My company",
    ]
    # keyset pages over the computed key
    seen: list[str] = []
    after = None
    while True:
        data = await demo.data(
            LIST, {"o": [desc, name], "first": 1, "after": after}, as_user="admin"
        )
        edges = data["companies"]["edges"]
        if not edges:
            break
        seen.append(edges[0]["node"]["name"])
        after = edges[0]["cursor"]
    assert seen == ["Customer #B", "Customer #A", "My company"]
    body = await demo.gql(LIST, {"o": [{**desc, "currency": "12"}]}, as_user="admin")
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_invoicing_statistics_per_currency(demo: Api) -> None:
    await _world(demo)
    eur = (await demo.data(STATS, as_user="admin"))["companyStatistics"]
    assert eur["topByInvoicing"] == [
        {"company": {"name": "Customer #B"}, "currency": "EUR", "amount": "500.00"},
        {"company": {"name": "Customer #A"}, "currency": "EUR", "amount": "100.00"},
    ]
    assert eur["invoicingPerManager"] == [
        {"manager": {"username": "manager1"}, "currency": "EUR", "amount": "500.00"},
        {"manager": {"username": "user1"}, "currency": "EUR", "amount": "100.00"},
        {"manager": {"username": "admin"}, "currency": "EUR", "amount": "0.00"},
    ]
    jpy = (await demo.data(STATS, {"c": "JPY"}, as_user="admin"))["companyStatistics"]
    assert jpy["topByInvoicing"] == [
        {"company": {"name": "Customer #A"}, "currency": "JPY", "amount": "10000.00"}
    ]
    assert jpy["invoicingPerManager"] == [
        {"manager": {"username": "user1"}, "currency": "JPY", "amount": "10000.00"},
        {"manager": {"username": "admin"}, "currency": "JPY", "amount": "0.00"},
        {"manager": {"username": "manager1"}, "currency": "JPY", "amount": "0.00"},
    ]
    body = await demo.gql(STATS, {"c": "yens"}, as_user="admin")
    assert "BAD_USER_INPUT" in error_codes(body)


async def test_billing_follows_currency_changes_and_cancellation(demo: Api) -> None:
    await _world(demo)
    a = await company_id("Customer #A")
    query = "query($id: ID!) { company(id: $id) { billing { currency amount } } }"
    yen = await demo.data(LIST, {"f": {"name": {"eq": "Customer #A"}}}, as_user="admin")
    assert len(yen["companies"]["edges"][0]["node"]["billing"]) == 2
    invoices = await demo.data(
        'query { invoices(filter: {currency: {eq: "JPY"}}) { edges { node { id } } } }',
        as_user="admin",
    )
    jpy_id = invoices["invoices"]["edges"][0]["node"]["id"]
    result = await demo.data(
        "mutation($id: ID!) { invoiceSetStatus(id: $id, status: CANCELED) { errors { code } } }",
        {"id": jpy_id},
        as_user="manager1",
    )
    assert result["invoiceSetStatus"]["errors"] == []
    billing = (await demo.data(query, {"id": a}, as_user="admin"))["company"]["billing"]
    assert billing == [{"currency": "EUR", "amount": "100.00"}]


async def test_export_writes_billing_per_currency(demo: Api) -> None:
    await _world(demo)
    response = await demo.client.get(
        "/export/companies.csv", headers={"Authorization": f"Bearer {demo.tokens['admin']}"}
    )
    assert response.status_code == 200
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(response.text.lstrip("\ufeff")))}
    assert rows["Customer #A"]["billing"] == "100.00 EUR; 10000.00 JPY"
    assert rows["My company"]["billing"] == ""
