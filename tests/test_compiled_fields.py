"""Custom fields and computed fields on the compiled read path (issue 15): the
companies page of bench/companies_query.py is answered by one statement whatever the
number of rows, the same JSON as the executor's for the seven viewers of the
differential world."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from tortoise import Tortoise

from crm_graphql.models.companies import Company
from crm_graphql.models.contracts import Contract, ContractLink
from crm_graphql.models.customfields import CustomField, CustomFieldEntity
from crm_graphql.models.invoices import Invoice, InvoiceKind, InvoicePdfStatus
from crm_graphql.models.users import User
from crm_graphql.services.sqlcount import count_statements
from tests.differential import (
    VIEWERS,
    Answer,
    Differential,
    build_world,
    compare,
    load_corpus,
)
from tests.factories import (
    make_contact,
    make_custom_field,
    make_custom_value,
    make_invoice,
    make_lead,
)

# bench/companies_query.py's query.
BENCH = """{ companies(first: 50) { edges { node { manager { username } parent { name }
  contacts(first: 10) { edges { node { fullName } } } customFields { name value }
  viewerCan { edit } } } } }"""


@pytest.fixture
async def world() -> dict[str, str]:
    return await build_world()


async def _post(
    client: httpx.AsyncClient, query: str, token: str, variables: Any = None
) -> httpx.Response:
    return await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )


async def _statements(
    paths: Differential, query: str, token: str, variables: Any = None
) -> tuple[Answer, list[str]]:
    """The compiled app's answer, checked equal to the executor's, and its statements
    after authentication (those of a request that reads nothing)."""
    await _post(paths.compiled, "{ __typename }", token)  # a token's first use records it
    with count_statements() as auth:
        await _post(paths.compiled, "{ __typename }", token)
    with count_statements() as statements:
        response = await _post(paths.compiled, query, token, variables)
    answer = Answer.of(response)
    compare(Answer.of(await _post(paths.interpreted, query, token, variables)), answer, query)
    return answer, list(statements)[len(list(auth)) :]


async def _more_companies(count: int) -> None:
    """`count` more companies under the customers, with contacts and custom values."""
    a = await Company.get(name="Customer #A")
    b = await Company.get(name="Customer #B")
    manager1 = await User.get(username="manager1")
    size = await CustomField.get(entity=CustomFieldEntity.COMPANY, name="Headcount")
    note = await make_custom_field(CustomFieldEntity.COMPANY, name="Note", position=-1)
    for n in range(count):
        parent = (a, b)[n % 2]
        company = await Company.create(
            name=f"More {n:03}", parent=parent, manager=manager1 if n % 3 else None
        )
        await Company.filter(id=company.id).update(path=f"{parent.path}{company.id}/")
        await make_custom_value((size, note)[n % 2], company.id, str(n))
        for c in range(n % 4):
            await make_contact(company, f"Someone {n:03}-{c}")


async def test_the_bench_page_takes_one_statement_whatever_the_rows(
    paths: Differential, world: dict[str, str]
) -> None:
    counts: dict[str, list[int]] = {viewer: [] for viewer in VIEWERS}
    rows: dict[str, list[int]] = {viewer: [] for viewer in VIEWERS}
    for more in (0, 60):
        await _more_companies(more)
        for viewer in VIEWERS:
            answer, statements = await _statements(paths, BENCH, world[viewer])
            counts[viewer].append(len(statements))
            body: Any = answer.body
            if "errors" in body:  # no CR: refused by the executor, as before
                assert viewer in ("user2", "lead_seller"), body
                continue
            assert len(statements) == 1 and "crm_node" in statements[0], statements
            rows[viewer].append(len(body["data"]["companies"]["edges"]))
    assert all(first == then for first, then in counts.values()), counts
    # The page grew for the viewers who see the new companies.
    assert rows["admin"][0] < rows["admin"][1] == 50
    assert rows["manager1"][0] < rows["manager1"][1]
    assert rows["admin"][1] and any(counts.values())


COMPUTED = """{ companies(first: 50) { edges { node { name contractCount openLeadCount
  openLeadEstimatedSales { currency amount __typename } role { name }
  customFields { name value kind sectionName checked date }
  viewerCan { edit manage delete }
  contacts(first: 2) { edges { node { customFields { name value }
    viewerCan { edit manage delete } } } }
  contracts(first: 3) { edges { node { reference owner { username } contractType { name }
    customFields { value } viewerCan { edit manage delete }
    relatedContracts { id reference company { name } } } } } } } } }"""


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_computed_fields_are_answered_compiled_and_identically(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    contracts = await Contract.all().order_by("id")
    for one, other in ((0, 1), (0, 2), (3, 0), (1, 5), (2, 9), (4, 7)):
        if max(one, other) < len(contracts):
            first, second = sorted((contracts[one].id, contracts[other].id))
            await ContractLink.get_or_create(contract_id=first, related_id=second)
    a = await Company.get(name="Customer #A")
    for n, currency in enumerate(("USD", "CHF", "USD")):
        await make_lead(f"Open {n}", company=a, currency=currency, estimated_sale_cents=n * 99)
    answer, statements = await _statements(paths, COMPUTED, world[viewer])
    body: Any = answer.body
    if "errors" in body:  # no CR: refused by the executor
        assert viewer in ("user2", "lead_seller") and not any("crm_node" in s for s in statements)
        return
    assert len(statements) == 1 and "crm_node" in statements[0], statements
    if viewer == "admin":
        nodes = {e["node"]["name"]: e["node"] for e in body["data"]["companies"]["edges"]}
        sales = nodes["Customer #A"]["openLeadEstimatedSales"]
        assert [s["currency"] for s in sales] == ["CHF", "EUR", "USD"], sales
        assert nodes["Customer #A"]["openLeadCount"] >= 3
        related = [
            c["node"]["relatedContracts"]
            for node in nodes.values()
            for c in node["contracts"]["edges"]
        ]
        assert any(len(r) > 1 for r in related), related


INVOICES = """{ invoices(first: 50) { edges { node { billId lockedBy { username } pdfStatus
  pdfError taxes { name } viewerCan { edit lock unlock delete __typename }
  company { viewerCan { delete } } } } } }"""
# Percentages: compiled on PostgreSQL (numeric text), on the executor on SQLite.
PERCENTS = """{ invoices(first: 50) { edges { node { billId discountPercent retentionPercent
  taxes { name percent } } } } }"""


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_invoice_fields_are_answered_compiled_and_identically(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    user1 = await User.get(username="user1")
    a = await Company.get(name="Customer #A")
    states = [(True, user1.id), (True, None), (False, None)]
    for n, (locked, by) in enumerate(states):
        await make_invoice(
            a,
            f"R-{n}",
            kind=InvoiceKind.RECEIVED,
            locked=locked,
            locked_by_id=by,
            discount_percent=Decimal(("12.5", "0", "100")[n]),
            retention_percent=Decimal(("0.0001", "15", "7.25")[n]),
        )
    await (
        Invoice.filter(kind=InvoiceKind.SUBMITTED)
        .limit(2)
        .update(pdf_status=InvoicePdfStatus.FAILED, pdf_error="It broke 'badly'")
    )
    answer, statements = await _statements(paths, INVOICES, world[viewer])
    body: Any = answer.body
    if "errors" in body:  # no IR: refused by the executor
        assert viewer in ("user2", "lead_seller", "user1") and not any(
            "crm_node" in s for s in statements
        ), body
    else:
        assert len(statements) == 1 and "crm_node" in statements[0], statements
    answer, statements = await _statements(paths, PERCENTS, world[viewer])
    if "errors" not in answer.body and paths_on_postgres():
        assert len(statements) == 1 and "crm_node" in statements[0], statements
    if viewer == "admin":
        nodes = [e["node"] for e in body["data"]["invoices"]["edges"]]
        assert {n["pdfStatus"] for n in nodes} >= {"FAILED", None}
        assert any(n["lockedBy"] for n in nodes)
        assert {n["viewerCan"]["unlock"] for n in nodes} == {True, False}


def paths_on_postgres() -> bool:
    return Tortoise.get_connection("default").capabilities.dialect == "postgres"


# Corpus files whose every field the compiler covers now.
COMPILED_CORPUS = ("contracts", "custom_fields")


@pytest.mark.parametrize("name", COMPILED_CORPUS)
async def test_corpus_files_of_these_fields_run_compiled(
    paths: Differential, world: dict[str, str], name: str
) -> None:
    case = next(case for case in load_corpus() if case.name == name)
    for variables in case.variables:
        for viewer in ("admin", "manager1", "standalone", "invoice_reader"):
            answer, statements = await _statements(paths, case.query, world[viewer], variables)
            assert "errors" not in answer.body, answer.body
            assert "crm_node" in statements[0], (viewer, variables, statements)
