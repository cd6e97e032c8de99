"""More of the read API on the compiled path (issue 15): `leads(savedSearchId:)` (the
saved search read first, then one statement), the small root lists (`contractTypes`,
`leadTags`, `customFields`...), `contractTemplate(id:)`, contract and lead types' custom
field definitions, a company's invoices and a user's company. Each answers exactly as
the executor does for the seven viewers of the differential world, and every error
(someone else's search, a stored filter the schema refuses, a bad id) is the
executor's own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from crm_graphql.models.contracts import ContractType
from crm_graphql.models.leads import SavedLeadSearch
from crm_graphql.models.users import User
from tests.differential import (
    VIEWERS,
    Differential,
    compiled_ran,
    counted,
    differential,
)


@pytest.fixture
async def paths() -> AsyncIterator[Differential]:
    async with differential() as both:
        yield both


SAVED = """query S($id: ID, $n: Int, $after: String, $filter: LeadFilter) {
  leads(savedSearchId: $id, first: $n, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id fullName country progress { code } } } } }"""


async def _search_of(username: str) -> str:
    user = await User.get(username=username)
    return str((await SavedLeadSearch.get(user_id=user.id)).id)


@pytest.mark.parametrize("viewer", ["admin", "lead_seller"])
async def test_a_saved_search_is_read_then_the_page_compiled(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    search = await _search_of(viewer)
    # The saved search's filter replaces `filter` (which alone would find nothing).
    variables: dict[str, Any] = {"id": search, "n": 2, "filter": {"fullName": {"eq": "-"}}}
    seen: list[dict[str, Any]] = []
    for _ in range(10):
        body, statements = await counted(paths, SAVED, variables, world[viewer])
        assert "errors" not in body, body
        # the saved search, the page, its totalCount
        assert len(statements) == 3 and compiled_ran(statements), statements
        assert "saved_lead_searches" in statements[0]
        page = body["data"]["leads"]
        seen += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        variables = {**variables, "after": page["pageInfo"]["endCursor"]}
    assert len(seen) == page["totalCount"] > 2
    if viewer == "admin":  # {"showFinished": true, "country": {"eq": "Spain"}}
        assert {n["country"] for n in seen} == {"Spain"}
        assert max(n["progress"]["code"] for n in seen) >= 100  # finished ones too
    else:  # {"progress": {"in": [40, 100]}, "showFinished": true, ...}
        assert {n["progress"]["code"] for n in seen} == {40, 100}


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("whose", ["admin", "lead_seller", "manager1", None, "bogus"])
async def test_saved_search_errors_are_the_executors(
    paths: Differential, world: dict[str, str], viewer: str, whose: str | None
) -> None:
    search = {None: "999999", "bogus": "x1"}.get(whose) or await _search_of(str(whose))
    body, statements = await counted(paths, SAVED, {"id": search, "n": 3}, world[viewer])
    if viewer == whose and whose != "manager1":
        assert "errors" not in body and compiled_ran(statements)
        return
    # Someone else's, unknown, malformed, refused by the schema, or no lead bits.
    code = body["errors"][0]["extensions"]["code"]
    assert code in ("BAD_USER_INPUT", "NOT_FOUND", "FORBIDDEN"), body
    assert not compiled_ran(statements)


async def test_a_changed_saved_search_is_read_again(
    paths: Differential, world: dict[str, str]
) -> None:
    # The same token and variables twice: the statement built for the first request
    # must not answer the second once the search has changed.
    search = await _search_of("admin")
    variables = {"id": search, "n": 50}
    first, _ = await counted(paths, SAVED, variables, world["admin"])
    await SavedLeadSearch.filter(id=int(search)).update(
        filter_json={"showFinished": True, "country": {"eq": "France"}}
    )
    second, statements = await counted(paths, SAVED, variables, world["admin"])
    assert compiled_ran(statements)
    countries = {e["node"]["country"] for e in second["data"]["leads"]["edges"]}
    assert countries == {"France"}
    assert first["data"]["leads"]["totalCount"] != second["data"]["leads"]["totalCount"]


LISTS = """query L($entity: CustomFieldEntity!, $owner: ID) {
  companyRoles { id name description }
  contractTypes { id name customFields { name position showInList entity ownerId }
    listFields { name } }
  contractTemplates { id name html updatedAt version }
  paymentMethods { name text }
  leadTypes { name customFields { name entity } listFields { name } }
  leadTags { id name colour }
  leadSavedSearches { id name filter createdAt }
  customFields(entity: $entity, ownerId: $owner) { id name position kind options }
  customFieldSections { id name position } }"""

# One field for each root list, so that a refusal of one does not hide the others.
ROOT_LISTS = (
    "companyRoles",
    "contractTypes",
    "contractTemplates",
    "paymentMethods",
    "leadTypes",
    "leadTags",
    "leadSavedSearches",
    "customFields",
    "customFieldSections",
)


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_each_root_list_is_one_statement(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    services = await ContractType.get(name="Services contract")
    variables = {"entity": "CONTRACT", "owner": str(services.id)}
    body, statements = await counted(paths, LISTS, variables, world[viewer])
    if body.get("errors"):  # a list the viewer may not read: the executor refuses
        assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
        # The lists it may read were compiled beside it, one statement each.
        assert all(s.count("crm_node") == 1 for s in statements if compiled_ran([s]))
        return
    assert len(statements) == len(ROOT_LISTS) and all("crm_node" in s for s in statements)
    data = body["data"]
    assert list(data) == list(ROOT_LISTS)
    types = {t["name"]: t for t in data["contractTypes"]}
    fields = types["Services contract"]["customFields"]
    # Its own CONTRACT fields in position order; the LEAD field with the same owner id
    # is not one of them.
    assert [f["name"] for f in fields][-3:] == ["Region", "Tier", "Seats"]
    assert {f["entity"] for f in fields} == {"CONTRACT"}
    listed = [f["name"] for f in fields if f["showInList"]]
    assert [f["name"] for f in types["Services contract"]["listFields"]] == listed
    # The root's definitions of that type are the same, in the same order.
    assert [f["name"] for f in data["customFields"]] == [f["name"] for f in fields]
    # The viewer's own, its filter as stored.
    own = {"admin": [{"showFinished": True, "country": {"eq": "Spain"}}]}
    own["manager1"] = [{"nonsense": {"eq": 1}}]
    assert [s["filter"] for s in data["leadSavedSearches"]] == own.get(viewer, [])


@pytest.mark.parametrize("owner", ["x", "-1", "99999999999999999999"])
async def test_a_bad_owner_id_is_the_executors_error(
    paths: Differential, world: dict[str, str], owner: str
) -> None:
    query = "query C($o: ID) { customFields(entity: LEAD, ownerId: $o) { id } }"
    body, statements = await counted(paths, query, {"o": owner}, world["admin"])
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert not compiled_ran(statements)


TEMPLATE = "query T($id: ID!) { contractTemplate(id: $id) { id name html version } }"


@pytest.mark.parametrize("template", ["1", "999999", "nope"])
async def test_a_contract_template_by_id(
    paths: Differential, world: dict[str, str], template: str
) -> None:
    body, statements = await counted(paths, TEMPLATE, {"id": template}, world["admin"])
    if template == "1":
        assert body["data"]["contractTemplate"]["name"] == "Renewal"
        assert len(statements) == 1 and compiled_ran(statements)
    else:
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


COMPANY_INVOICES = """{ companies(first: 50) { edges { node { name
  manager { username company { name } }
  invoices(first: 2) { totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { billId issuedOn company { name } } } } } } } }"""

RELATED = """{ invoices(first: 100) { edges { node { billId
  relatedContracts(first: 1) { totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { reference private } } } } } } }"""


async def _one_statement(paths: Differential, query: str, token: str) -> Any:
    """The data of `query`, answered in one compiled statement; None when the viewer
    may not read its root (the executor's FORBIDDEN)."""
    body, statements = await counted(paths, query, None, token)
    if body.get("errors"):
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert not compiled_ran(statements)
        return None
    assert len(statements) == 1 and compiled_ran(statements), statements
    return body["data"]


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_invoices_of_companies_and_contracts_of_invoices_are_compiled(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    # Company.invoices under the invoice rule, User.company under the company rule.
    data = await _one_statement(paths, COMPANY_INVOICES, world[viewer])
    if data is None:
        return
    nodes = [e["node"] for e in data["companies"]["edges"]]
    if viewer == "admin":
        assert any(n["invoices"]["pageInfo"]["hasNextPage"] for n in nodes)
        assert any(n["manager"] and n["manager"]["company"] for n in nodes)
    if viewer in ("admin", "invoice_reader"):
        assert any(n["invoices"]["edges"] for n in nodes)
    # Invoice.relatedContracts: the links to visible contracts, by contract id.
    data = await _one_statement(paths, RELATED, world[viewer])
    assert data is not None  # in this world, whoever lists companies lists invoices
    related = [e["node"]["relatedContracts"] for e in data["invoices"]["edges"]]
    if viewer == "admin":
        assert any(r["pageInfo"]["hasNextPage"] and r["totalCount"] > 1 for r in related)
        assert any(r["edges"] and r["edges"][0]["node"]["private"] for r in related)
