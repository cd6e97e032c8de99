"""A company's billing as a sort key and a filter of the root `companies` on the
compiled read path (issue 15): services/billing.py's column and condition in the page's
statement, the executor's cursors, the executor's answer without IR or for a bad
currency."""

from __future__ import annotations

from typing import Any

import pytest

from crm_graphql.models.companies import Company, CompanyBilling
from tests.differential import (
    VIEWERS,
    Differential,
    build_world,
    compiled_statements,
)

PAGE = """query Billing($order: [CompanyOrder!], $filter: CompanyFilter, $after: String) {
  companies(first: 4, orderBy: $order, filter: $filter, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { name billing { currency amount } } } } }"""
ARGUMENTS: list[dict[str, Any]] = [
    {"order": [{"field": "BILLING", "direction": "DESC"}]},
    {"order": [{"field": "BILLING", "currency": "chf"}, {"field": "NAME", "direction": "DESC"}]},
    {"order": [{"field": "COUNTRY"}, {"field": "BILLING", "direction": "DESC"}]},
    {"filter": {"billing": {"gte": "100.00"}}},
    {"filter": {"billing": {"currency": "CHF", "lt": "1.00"}}, "order": [{"field": "NAME"}]},
    {"filter": {"not": {"billing": {"eq": "0"}}}, "order": [{"field": "BILLING"}]},
]


@pytest.fixture
async def world() -> dict[str, str]:
    tokens = await build_world()
    # Ties (the id breaks them), several currencies, companies without any billing.
    await CompanyBilling.all().delete()
    for n, company in enumerate(await Company.all().order_by("id")):
        if n % 4 != 3:
            await CompanyBilling.create(company=company, currency="EUR", cents=n % 3 * 10_000 + 7)
        if n % 2:
            await CompanyBilling.create(company=company, currency="CHF", cents=n)
    return tokens


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_billing_sorts_and_filters_compiled_with_the_executors_cursors(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    for arguments in ARGUMENTS:
        answer, statements = await compiled_statements(paths, PAGE, world[viewer], arguments)
        body: Any = answer.body
        if "errors" in body:  # no IR (or no CR): the executor's FORBIDDEN
            assert viewer in ("user2", "lead_seller", "user1"), body
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
            assert not any("crm_node" in s for s in statements), statements
            continue
        assert "crm_node" in statements[0] and "company_billings" in statements[0], statements
        after, pages = body["data"]["companies"]["pageInfo"]["endCursor"], 0
        while after is not None and pages < 5:
            more = {**arguments, "after": after}
            answer = await paths.check(PAGE, more, world[viewer], f"{viewer} {more}")
            after, pages = answer.body["data"]["companies"]["pageInfo"]["endCursor"], pages + 1
        if viewer == "admin" and arguments is ARGUMENTS[0]:
            assert pages >= 2, "the sort's pages were followed"


async def test_a_billing_page_is_in_billing_order(
    paths: Differential, world: dict[str, str]
) -> None:
    answer, _ = await compiled_statements(paths, PAGE, world["admin"], ARGUMENTS[0])
    nodes = [e["node"] for e in answer.body["data"]["companies"]["edges"]]
    eur = [next((b["amount"] for b in n["billing"] if b["currency"] == "EUR"), "0") for n in nodes]
    assert eur == sorted(eur, key=float, reverse=True) and eur[0] == "200.07", eur


async def test_a_bad_currency_is_the_executors_error(
    paths: Differential, world: dict[str, str]
) -> None:
    for arguments in (
        {"order": [{"field": "BILLING", "currency": "EURO"}]},
        {"filter": {"billing": {"currency": "E1", "gt": "1"}}},
    ):
        answer, statements = await compiled_statements(paths, PAGE, world["admin"], arguments)
        assert answer.body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", answer.body
        assert not any("crm_node" in s for s in statements), statements
