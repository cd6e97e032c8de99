"""The compiled read path (crm_graphql/compiled/) answers exactly as the executor does.

The same queries go over HTTP to the app (compiled reads on, the default) and to a
second app on the same database with `compiled_reads=False`; the JSON responses must be
identical, for the demo viewers (superadmin, a standard user, a CRM manager, a user of
a customer company) and a standalone user. The statement counts prove which path ran:
the compiled path reads a root connection in one statement (two with totalCount)
whatever the nesting, and an uncovered field sends its root field to the executor
(tests/test_compiled_partial.py: roots of both kinds in one operation)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import nullcontext
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette
from tortoise import Tortoise

from crm_graphql.app import create_app
from crm_graphql.errors import QueryTimeout
from crm_graphql.models.companies import Company
from crm_graphql.models.contacts import Contact
from crm_graphql.models.customfields import CustomFieldEntity
from crm_graphql.models.users import User, UserMode
from crm_graphql.services.deadline import deadline_scope
from crm_graphql.services.postgres_engine import CrmAsyncpgClient
from crm_graphql.services.sqlcount import count_statements
from crm_graphql.settings import settings
from tests.conftest import IS_POSTGRES
from tests.factories import (
    Api,
    make_activity,
    make_billing,
    make_company,
    make_contact,
    make_contract,
    make_contract_type,
    make_custom_field,
    make_custom_value,
    make_invoice,
    make_section,
    make_token,
    make_user,
)

VIEWERS = ("admin", "user1", "manager1", "user2", "solo")


@pytest.fixture(scope="module")
async def executor_app(app: Starlette) -> AsyncIterator[Starlette]:
    """The same server with the compiled path turned off (shares the session's ORM)."""
    application = create_app(dataclasses.replace(settings, compiled_reads=False))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def world(demo: Api, executor_app: Starlette) -> AsyncIterator[tuple[Api, Api]]:
    """Companies (a tree with a hidden parent for some), contracts (private ones too),
    and the two clients: compiled (`demo`) and executor-only, sharing tokens."""
    from crm_graphql.models.companies import Company
    from crm_graphql.models.users import User

    mine = await Company.get(name="My company")
    customer_a = await Company.get(name="Customer #A")
    customer_b = await Company.get(name="Customer #B")
    manager1 = await User.get(username="manager1")
    user2 = await User.get(username="user2")
    solo_company = await make_company("Solo's own", parent=mine, manager=user2)
    await make_user(
        "solo",
        password="solo-secret",
        profile="Standard user",
        company=solo_company,
        mode=UserMode.STANDALONE,
    )
    demo.tokens["solo"] = await demo.login("solo", "solo-secret")
    children = []
    for i in range(7):
        parent = (customer_a, customer_b, mine)[i % 3]
        children.append(
            await make_company(
                f"Child {i:02d} O'Hara",
                parent=parent,
                manager=manager1 if i % 2 else None,
                fiscal_id=f"F{i}" if i % 3 else None,
                payment_conditions=i * 15,
                # with and without microseconds (isoformat leaves out a zero fraction)
                last_activity_at=datetime(2025, 1, 1 + i, 9, 30, 0, i * 1000 % 3000, tzinfo=UTC)
                if i % 2
                else None,
            )
        )
    companies = [customer_a, customer_b, *children]
    kind, level, nickname = await _custom_fields(companies)
    for n, company in enumerate(companies):
        invoices = [
            await make_invoice(
                company,
                issued_on=date(2025, 1 + i, 28),
                lines=tuple(
                    (f"Line {j} \\ ü", (-1) ** j * (n * 1000 + i * 7 + j * 5)) for j in range(i)
                ),
                base_cents=n * 100_000 + i * 5 - 50,
                total_cents=-(n * 3 + i),
                paid_on=date(2025, 2, 1) if i % 2 else None,
                locked=i == 1,
                status=("PENDING", "PAID", "CANCELED")[i % 3],
            )
            for i in range(n % 5)
        ]
        for c in range(n % 3):
            contact = await make_contact(
                company, f"Contact {c} of {n}", disabled=c == 1, phone=str(n)
            )
            if c:
                await make_custom_value(nickname, contact.id, f"Nick {n}")
        if n % 3:
            await make_billing(company, n * 123_456 + 7, "EUR")
            await make_billing(company, 5, "CHF")
        for k in range(n % 4):
            contract = await make_contract(
                company,
                f'Ref {k} of {company.name} "q"',
                invoices=tuple(invoices[k % 2 :: 2]),
                date_begin=date(2020 + k, 1 + n % 12, 1 + k),
                date_end=date(2030, 1, 1) if k % 2 else None,
                private=(n + k) % 3 == 0,
                status=("ACTIVE", "INACTIVE", "PENDING")[(n + k) % 3],
                contract_type_id=kind.id if k % 2 else None,
                owner_id=manager1.id if k else None,
            )
            if k == 1 and n % 2:
                await make_custom_value(level, contract.id, f"L{n}")
    transport = httpx.ASGITransport(app=executor_app, client=("10.0.0.1", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        off = Api(http)
        off.tokens = demo.tokens
        yield demo, off


async def _custom_fields(companies: list[Any]) -> tuple[Any, Any, Any]:
    """Custom fields of every kind on companies (two sections and none, one section
    then deleted), contacts and a contract type, set on some rows; roles on some
    companies."""
    from crm_graphql.models.companies import CompanyRole

    details, later = await make_section("Details", position=2), await make_section("Later")
    gone = await make_section("Gone")
    role = await CompanyRole.create(name="Supplier 'S'")
    company_fields = [
        await make_custom_field(name="Size", kind="NUMERIC", position=3, section_id=details.id),
        await make_custom_field(name="Vip", kind="CHECKBOX", position=1),
        await make_custom_field(name="Since", kind="DATE", position=1, section_id=later.id),
        await make_custom_field(
            name="Tier", kind="COMBO", options=["A", 'B "q"'], section_id=gone.id
        ),
        await make_custom_field(name="Notes ü", kind="TEXTAREA", position=3, required=True),
    ]
    await gone.delete()
    values = ["12.5", "1", "2024-02-29", 'B "q"', "line\nnext ü"]
    others = ["0", "0", "2020-01-01", "A", "x"]
    for n, company in enumerate(companies):
        if n % 2:
            company.role_id = role.id
            await company.save(update_fields=["role_id"])
        for i, definition in enumerate(company_fields):
            if (n + i) % 3:
                value = (others if n % 4 == 1 else values)[i]
                await make_custom_value(definition, company.id, value)
    nickname = await make_custom_field(CustomFieldEntity.CONTACT, name="Nickname", kind="TEXT")
    # a section on a contact field (sections are for companies): "Without section"
    await make_custom_field(CustomFieldEntity.CONTACT, name="Odd", section_id=details.id)
    kind = await make_contract_type("Support 'S'", description="Help")
    level = await make_custom_field(CustomFieldEntity.CONTRACT, name="Level", owner_id=kind.id)
    await make_custom_field(CustomFieldEntity.CONTRACT, name="Other", owner_id=kind.id + 1000)
    return kind, level, nickname


def compiled(statements: list[str]) -> bool:
    """Whether the compiled path ran: its statement names the JSON it builds."""
    return any("crm_node" in s for s in statements)


async def _counted(api: Api, query: str, variables: Any, **kw: Any) -> tuple[Any, list[str]]:
    with count_statements() as statements:
        body = await api.gql(query, variables, **kw)
    return body, list(statements)


async def both(
    world: tuple[Api, Api], query: str, variables: dict[str, Any] | None = None, **kw: Any
) -> tuple[Any, list[str]]:
    """The compiled app's response and its statements after authentication (those of a
    request that reads nothing), the response checked equal to the executor's."""
    on, off = world
    await on.gql("{ __typename }", None, **kw)  # a token's first use also records it
    _, auth = await _counted(on, "{ __typename }", None, **kw)
    compiled, statements = await _counted(on, query, variables, **kw)
    expected = await off.gql(query, variables, **kw)
    assert compiled == expected
    return compiled, statements[len(auth) :]


DASHBOARD = """query Dash { companies(first: 20) { totalCount edges { cursor node { id name
  fiscalId paymentConditions __typename createdAt lastUpdate lastActivity
  manager { createdAt updatedAt }
  parent { id name }
  contracts(first: 2) { totalCount pageInfo { hasNextPage hasPreviousPage }
    edges { node { reference dateBegin dateEnd private status company { name }
      createdAt updatedAt } } } } }
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_nested_read_is_identical_and_compiled(world: tuple[Api, Api], viewer: str) -> None:
    body, statements = await both(world, DASHBOARD, as_user=viewer)
    if viewer == "user2":  # no CR: refused (by the executor, with its audit entry)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        return
    assert "errors" not in body
    assert compiled(statements)
    # the page (all nesting included) and the total count; auth is outside the count
    assert len(statements) == 2, statements
    if viewer == "admin":
        assert body["data"]["companies"]["totalCount"] >= 9


# bench/dashboard.py's query, and more of the invoices.
INVOICES = """query Dash { companies(first: 20) { edges { node { name billing { currency amount }
  contracts(first: 5) { edges { node { reference
    relatedInvoices(first: 2) { totalCount pageInfo { hasNextPage } edges { node { billId total
      base kind status issuedOn paidOn locked company { name }
      lines { concept amount __typename } } } } } } } } } } }"""


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_dashboard_is_identical_in_one_statement(world: tuple[Api, Api], viewer: str) -> None:
    body, statements = await both(world, INVOICES, as_user=viewer)
    if "errors" in body:  # no IR (billing) or no CR: refused by the executor, as before
        assert viewer in ("user2", "solo") and not compiled(statements)
        return
    assert len(statements) == 1 and compiled(statements), statements
    lines = [
        line
        for edge in body["data"]["companies"]["edges"]
        for contract in edge["node"]["contracts"]["edges"]
        for invoice in contract["node"]["relatedInvoices"]["edges"]
        for line in invoice["node"]["lines"]
    ]
    if viewer == "admin":
        assert any(line["amount"].startswith("-") for line in lines)


QUERIES: list[tuple[str, dict[str, Any] | None]] = [
    ("{ companies { edges { node { name } } } }", None),
    (
        """query Q($f: CompanyFilter, $n: Int) { a: companies(first: $n, filter: $f,
           orderBy: [{field: NAME, direction: DESC}]) { edges { cursor node { ...C } }
           pageInfo { endCursor hasNextPage } } }
           fragment C on Company { id nm: name country ... on Company { version } }""",
        {"f": {"or": [{"name": {"contains": "child"}}, {"not": {"country": {"eq": ""}}}]}, "n": 3},
    ),
    (
        """query Q($skip: Boolean!) { contracts(first: 50, filter: {status: {in: [ACTIVE,
           PENDING]}}) { __typename totalCount edges { __typename node { __typename id
           reference @skip(if: $skip) number description private slaId groupId
           status company @include(if: $skip) { id } } } } }""",
        {"skip": True},
    ),
    (
        """query Q($skip: Boolean!) { contracts(first: 50, orderBy: [{field: DATE_BEGIN,
           direction: DESC}]) { edges { cursor node { id reference @skip(if: $skip)
           dateBegin company @include(if: $skip) { id children(first: 1) { edges { node {
           name } } } } } } } }""",
        {"skip": False},
    ),
    (
        # bench/companies_query.py's query, but for the custom fields
        """{ companies(first: 50) { edges { node { manager { username realName mode
           isSuperadmin } parent { name } contacts(first: 1) { totalCount edges { node {
           fullName disabled createdAt company { name } } } }
           viewerCan { edit manage __typename } } } } }""",
        None,
    ),
    (
        """query C($f: ContactFilter) { contacts(first: 4, filter: $f) { totalCount edges {
           cursor node { id fullName email phone disabled version company { id name } } } } }""",
        {
            "f": {
                "or": [
                    {"fullName": {"contains": "1"}},
                    {"company": {"name": {"contains": "child"}}},
                ]
            }
        },
    ),
    (
        """query I($f: InvoiceFilter) { invoices(first: 7, filter: $f, orderBy: [{field: TOTAL,
           direction: ASC}, {field: ISSUED_ON, direction: DESC}]) { totalCount edges { cursor
           node { billId kind status total base issuedOn paidOn locked createdAt
           company { name } lines { concept amount } } } pageInfo { endCursor } } }""",
        {"f": {"not": {"status": {"eq": "CANCELED"}}}},
    ),
    (
        """{ x: companies(first: 2) { edges { node { name } } }
             y: contracts(first: 2) { totalCount } }""",
        None,
    ),
]


# One statement per root field, one more per root totalCount (nested ones are inside).
STATEMENTS = [1, 1, 2, 1, 1, 2, 2, 3]


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("number", range(len(QUERIES)))
async def test_lists_filters_fragments_directives(
    world: tuple[Api, Api], viewer: str, number: int
) -> None:
    query, variables = QUERIES[number]
    body, statements = await both(world, query, variables, as_user=viewer)
    if viewer != "user2":
        assert "errors" not in body, body
        assert len(statements) == STATEMENTS[number], statements
        assert compiled(statements)


async def test_pages_follow_cursors_identically(world: tuple[Api, Api]) -> None:
    query = """query P($after: String) { companies(first: 2, after: $after,
      orderBy: [{field: NAME, direction: DESC}]) { edges { cursor node { name } }
      pageInfo { endCursor hasNextPage hasPreviousPage } } }"""
    after = None
    names: list[str] = []
    for _ in range(20):
        body, statements = await both(world, query, {"after": after}, as_user="manager1")
        page = body["data"]["companies"]
        assert len(statements) == 1
        names += [e["node"]["name"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert names == sorted(names, reverse=True) and len(names) > 4


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        # bad input is refused as before (the executor reports it)
        ("{ companies(first: 1000) { edges { node { name } } } }", None),
        ('{ companies(after: "bogus") { edges { node { name } } } }', None),
        (
            "query Q($f: CompanyFilter) { companies(filter: $f) { totalCount } }",
            {"f": {"id": {"eq": "x"}}},
        ),
        (
            "{ contracts { edges { node { company { contracts(first: 99) { totalCount } } } } } }",
            None,
        ),
        # an uncovered root field: on the executor, same answer
        ("{ users { edges { node { username permissions company { name } } } } }", None),
        ("{ viewer { username permissions } }", None),
    ],
)
@pytest.mark.parametrize("viewer", ["admin", "user1", "solo"])
async def test_errors_and_uncovered_fields_fall_back(
    world: tuple[Api, Api], query: str, variables: dict[str, Any] | None, viewer: str
) -> None:
    _, statements = await both(world, query, variables, as_user=viewer)
    assert not compiled(statements)


async def test_an_uncovered_field_runs_on_the_executor(world: tuple[Api, Api]) -> None:
    query = "{ users(first: 50) { edges { node { username company { name } permissions } } } }"
    _, compiled_statements = await both(
        world,
        "{ companies(first: 50) { edges { node { name parent { name } } } } }",
        as_user="admin",
    )
    _, statements = await both(world, query, as_user="admin")
    assert len(compiled_statements) == 1 and compiled(compiled_statements)
    # the page, then the companies and the permissions (the executor's loaders)
    assert len(statements) == 3 and not compiled(statements)


ACTIVITIES = """{ companies(first: 50) { edges { node { name
  activities(first: 2) { totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { __typename id text createdAt updatedAt author { username }
      contact { fullName } company { name } } } }
  contacts { edges { node { fullName activities { totalCount
    edges { node { id text contact { fullName } } } } } } } } } } }"""


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_activities_of_companies_and_contacts_are_compiled(
    world: tuple[Api, Api], viewer: str
) -> None:
    author = await User.get(username="user1")
    for n, contact in enumerate(await Contact.all().order_by("id")):
        company = await Company.get(id=contact.company_id)
        for k in range(n % 4):
            await make_activity(
                company,
                f"Note {k} on {contact.full_name}",
                contact=contact if k else None,
                author=author if n % 2 else None,
            )
    body, statements = await both(world, ACTIVITIES, as_user=viewer)
    if body.get("errors"):  # no right to companies: the executor refuses, as before
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert not compiled(statements)
        return
    assert len(statements) == 1 and compiled(statements), statements
    if viewer == "admin":
        edges = body["data"]["companies"]["edges"]
        assert sum(e["node"]["activities"]["totalCount"] for e in edges) > 0
        assert any(e["node"]["activities"]["pageInfo"]["hasNextPage"] for e in edges)


async def test_mutations_and_unauthenticated_reads_are_not_compiled(
    world: tuple[Api, Api],
) -> None:
    body, _ = await both(world, "{ companies { totalCount } }")
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


CUSTOM_FIELDS = """query CF { companies(first: 50) { edges { node { name
  customFields { __typename name value sectionName kind date checked
    field { id name position options required showInList ownerId parentId sectionId version
      kind entity __typename } }
  contacts(first: 3) { edges { node { fullName customFields { name value sectionName } } } }
  contractCount role { id name description }
  viewerCan { edit manage delete }
  contracts(first: 5) { edges { node { reference owner { username } contractType { id name
    description } customFields { name value kind field { ownerId } }
    viewerCan { edit manage delete __typename } } } } } } } }"""


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_custom_and_computed_fields_are_identical_in_one_statement(
    world: tuple[Api, Api], viewer: str
) -> None:
    body, statements = await both(world, CUSTOM_FIELDS, as_user=viewer)
    if viewer == "user2":  # no CR: refused by the executor
        assert not compiled(statements)
        return
    assert "errors" not in body, body
    assert len(statements) == 1 and compiled(statements), statements
    if viewer == "admin":
        nodes = [edge["node"] for edge in body["data"]["companies"]["edges"]]
        values = [v for node in nodes for v in node["customFields"]]
        assert {v["sectionName"] for v in values} == {"Details", "Later", "Without section"}
        assert {v["checked"] for v in values} == {True, False, None}
        assert any(v["date"] == "2024-02-29" for v in values)
        contracts = [e["node"] for node in nodes for e in node["contracts"]["edges"]]
        assert any(c["customFields"] and c["customFields"][0]["value"] for c in contracts)
        assert any(c["contractType"] is None for c in contracts)
        assert any(node["role"] for node in nodes) and any(node["contractCount"] for node in nodes)


@pytest.mark.skipif(not IS_POSTGRES, reason="PostgreSQL's JIT, plan cache and read pool")
async def test_compiled_statements_run_read_only_on_generic_plans_without_jit(demo: Api) -> None:
    """Planning the compiled statement took longer than running it, and JIT compiling
    it far longer (80 ms of a 104 ms dashboard): the app's connections have no JIT, and
    the compiled path's statements run on the read pool, whose sessions reuse each
    prepared statement's generic plan and refuse writes, without a SET or RESET around
    each statement; the main pool's sessions are left as they were."""
    connection = Tortoise.get_connection("default")
    assert isinstance(connection, CrmAsyncpgClient)

    async def show(name: str, read: bool) -> str:
        sql = f"SHOW {name}"
        rows = await (connection.read_rows(sql, []) if read else connection.execute_query_dict(sql))
        return str(rows[0][name])

    for scope in (nullcontext(), deadline_scope(30)):
        with scope:
            assert await show("jit", read=False) == "off"
            assert await show("plan_cache_mode", read=False) == "auto"
            assert await show("jit", read=True) == "off"
            assert await show("plan_cache_mode", read=True) == "force_generic_plan"
            assert await show("transaction_read_only", read=True) == "on"
            with count_statements() as statements:
                await connection.read_rows("SELECT 1 AS one", [])
            assert statements == ["SELECT 1 AS one"]
    with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
        await connection.read_rows("CREATE TEMPORARY TABLE crm_nothing (id int)", [])


@pytest.mark.skipif(not IS_POSTGRES, reason="the read pool's timeout")
async def test_a_compiled_statement_stops_at_the_deadline(demo: Api) -> None:
    """The read pool's statements have no statement_timeout of their own: the request's
    deadline cancels them on the server (asyncpg), as QueryTimeout, and the connection
    is usable after."""
    connection = Tortoise.get_connection("default")
    assert isinstance(connection, CrmAsyncpgClient)
    with deadline_scope(0.2), pytest.raises(QueryTimeout):
        await connection.read_rows("SELECT pg_sleep(5)", [])
    for _ in range(3):  # every pooled connection answers again
        assert (await connection.read_rows("SELECT 2 AS two", []))[0]["two"] == 2


NESTED_CURSORS = """query N($n: Int) { companies(first: 20) { edges { node { name
  children(first: $n) { pageInfo { startCursor endCursor hasNextPage hasPreviousPage }
    edges { cursor node { name } } }
  contacts(first: 1) { edges { cursor } pageInfo { endCursor } }
  contracts(first: 2) { pageInfo { startCursor } edges { node { reference
    relatedInvoices(first: 1) { edges { cursor node { billId } } pageInfo { endCursor } } } }
  } } } } }"""


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("size", [1, 3])
async def test_nested_cursors_and_page_info_are_compiled(
    world: tuple[Api, Api], viewer: str, size: int
) -> None:
    body, statements = await both(world, NESTED_CURSORS, {"n": size}, as_user=viewer)
    if viewer == "user2":
        assert not compiled(statements)
        return
    assert "errors" not in body, body
    assert len(statements) == 1 and compiled(statements), statements
    nodes = [e["node"] for e in body["data"]["companies"]["edges"]]
    cursors = [e["cursor"] for n in nodes for e in n["children"]["edges"]]
    if viewer == "admin":
        assert len(cursors) >= 3 and all(isinstance(c, str) for c in cursors)
        infos = [n["children"]["pageInfo"] for n in nodes]
        assert any(i["startCursor"] != i["endCursor"] for i in infos) == (size > 1)
        assert any(i["startCursor"] is None for i in infos)  # no children: null


async def test_a_nested_cursor_is_the_executor_s_encoding_of_the_row(
    world: tuple[Api, Api],
) -> None:
    from crm_graphql.dataloaders.companies import CHILD_ORDER
    from crm_graphql.models.companies import Company
    from crm_graphql.services.listing import encode_cursor

    query = """query C($id: ID!) { company(id: $id) { children(first: 20) {
      edges { cursor node { id } } } } }"""
    parent = await Company.get(name="Customer #A")
    body, statements = await both(world, query, {"id": str(parent.id)}, as_user="admin")
    assert len(statements) == 1 and compiled(statements)
    edges = body["data"]["company"]["children"]["edges"]
    children = await Company.filter(parent_id=parent.id).order_by("name", "id")
    assert [e["cursor"] for e in edges] == [encode_cursor(c, CHILD_ORDER) for c in children]
    assert len(edges) >= 3


SINGLE = """query S($id: ID!) { %s(id: $id) { __typename id %s } }"""
SINGLE_FIELDS = {
    "company": "name parent { name } children(first: 1) { edges { cursor node { name } } }",
    "contact": "fullName company { name }",
    "contract": "reference private company { name } relatedInvoices(first: 2) { totalCount "
    "pageInfo { endCursor } edges { node { billId } } }",
    "invoice": "billId total lines { concept amount }",
}


@pytest.mark.parametrize("root", list(SINGLE_FIELDS))
@pytest.mark.parametrize("viewer", VIEWERS)
async def test_single_objects_by_id_are_compiled_when_found(
    world: tuple[Api, Api], root: str, viewer: str
) -> None:
    from crm_graphql.models.companies import Company
    from crm_graphql.models.contacts import Contact
    from crm_graphql.models.contracts import Contract
    from crm_graphql.models.invoices import Invoice

    model = {"company": Company, "contact": Contact, "contract": Contract, "invoice": Invoice}
    query = SINGLE % (root, SINGLE_FIELDS[root])
    found = 0
    for row in await model[root].all().order_by("id"):
        body, statements = await both(world, query, {"id": str(row.pk)}, as_user=viewer)
        if body.get("data"):
            found += 1
            assert body["data"][root]["id"] == str(row.pk)
            # one statement for the object and everything under it
            assert len(statements) == 1 and compiled(statements), statements
        else:
            # invisible (or no right to the field): the executor's error, as before (the
            # compiled statement, if it ran, found no row and left the answer to it)
            code = body["errors"][0]["extensions"]["code"]
            assert code in ("NOT_FOUND", "FORBIDDEN"), body
            assert len([s for s in statements if compiled([s])]) <= 1
            assert len(statements) >= 2 or code == "FORBIDDEN"
    if viewer == "admin":
        assert found == await model[root].all().count()
    elif viewer in ("user1", "manager1") and root != "invoice":
        assert found > 0


@pytest.mark.parametrize("value", ["999999", "-1", "abc", "1.5", "", "99999999999999999999"])
async def test_an_unknown_or_malformed_id_is_the_executor_s_not_found(
    world: tuple[Api, Api], value: str
) -> None:
    body, statements = await both(
        world, "query S($id: ID!) { contract(id: $id) { id } }", {"id": value}, as_user="admin"
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    # a malformed id costs no statement; an unknown one the compiled lookup's, then the
    # executor answers
    assert len([s for s in statements if compiled([s])]) == (value == "999999")


@pytest.mark.parametrize("viewer", ["admin", "manager1"])
async def test_a_nested_count_alone_over_no_rows_is_zero(
    world: tuple[Api, Api], viewer: str
) -> None:
    # Found by the corpus: a nested connection asked only for totalCount selected its
    # object from the page's rows, so a parent with none got null instead of 0.
    query = "{ companies(first: 50) { edges { node { name contracts { totalCount } } } } }"
    body, statements = await both(world, query, as_user=viewer)
    assert len(statements) == 1 and compiled(statements), statements
    counts = [e["node"]["contracts"]["totalCount"] for e in body["data"]["companies"]["edges"]]
    assert 0 in counts and any(counts)


class _Executions:
    """Counts the operations strawberry's schema runs (the lane skips it)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from crm_graphql.api import Schema

        self.count = 0
        original = Schema.execute

        async def execute(schema: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await original(schema, *args, **kwargs)

        monkeypatch.setattr(Schema, "execute", execute)


async def _send(api: Api, body: dict[str, Any], viewer: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {api.tokens[viewer]}", "X-Request-ID": "lane-test"}
    return await api.client.post("/graphql", json=body, headers=headers)


@pytest.mark.parametrize("viewer", ("admin", "manager1", "user2"))
async def test_a_repeated_read_takes_the_lane_and_answers_the_same(
    world: tuple[Api, Api], viewer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read the compiled path answered, sent again exactly, skips strawberry's view,
    validation and extensions: the same bytes and headers, the executor's answer, one
    compiled statement; a refusal, or the same text with other variables, goes the whole
    way again."""
    on, off = world
    executions = _Executions(monkeypatch)
    cases = [
        {"query": DASHBOARD, "operationName": "Dash"},
        {"query": NESTED_CURSORS, "variables": {"n": 2}},
        {"query": NESTED_CURSORS, "variables": {"n": 1}},
    ]
    await on.gql("{ __typename }", as_user=viewer)
    for body in cases:
        first = await _send(on, body, viewer)
        ran = executions.count
        with count_statements() as statements:
            again = await _send(on, body, viewer)
        # An answer with errors (a refusal) is never taken again without the checks.
        assert executions.count == ran + ("errors" in first.json()), body
        assert again.status_code == first.status_code == 200
        assert again.content == first.content
        assert again.headers == first.headers
        assert len([s for s in statements if compiled([s])]) == ("errors" not in first.json())
        expected = await off.gql(body["query"], body.get("variables"), as_user=viewer)
        assert again.json() == expected
    # Other variables, a new key: strawberry runs it (and its checks) again.
    ran = executions.count
    other = NESTED_CURSORS.replace("query N(", f"query Lane{viewer}(")
    await _send(on, {"query": other, "variables": {"n": 5}}, viewer)
    assert executions.count == ran + 1


async def test_the_lane_keeps_every_check_that_depends_on_the_request(
    world: tuple[Api, Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the checks before execution read is in the lane's key: a narrow token
    sending a read a FULL token of the same user had answered is refused by the scope
    gate, a page size over the limit in the variables is refused by the limits, and a
    batch and a GET never take the lane."""
    from crm_graphql.models.auth import TokenScope

    on, off = world
    executions = _Executions(monkeypatch)
    query = "query Q($n: Int) { companies(first: $n) { edges { node { name } } } }"
    for _ in range(2):
        assert (
            "errors"
            not in (await _send(on, {"query": query, "variables": {"n": 5}}, "admin")).json()
        )
    narrow = await make_token(await User.get(username="admin"), scope=TokenScope.LEADS_CREATE)
    on.tokens["narrow"] = off.tokens["narrow"] = narrow
    refused = (await _send(on, {"query": query, "variables": {"n": 5}}, "narrow")).json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", refused
    assert refused == await off.gql(query, {"n": 5}, as_user="narrow")
    too_many = (await _send(on, {"query": query, "variables": {"n": 100_000}}, "admin")).json()
    assert too_many["errors"] and too_many == await off.gql(query, {"n": 100_000}, as_user="admin")
    ran = executions.count
    batch = [{"query": query, "variables": {"n": 5}}] * 2
    response = await on.client.post(
        "/graphql", json=batch, headers={"Authorization": f"Bearer {on.tokens['admin']}"}
    )
    assert response.status_code == 200 and executions.count == ran + 2


async def test_a_read_the_lane_can_no_longer_answer_runs_once_on_the_executor(
    world: tuple[Api, Api],
) -> None:
    """An object answered before and hidden since: the lane's statement finds no row,
    and the executor answers NOT_FOUND without the compiled path trying again."""
    on, off = world
    company = await make_company("Here and gone")
    body = {"query": SINGLE % ("company", "name"), "variables": {"id": str(company.id)}}
    for _ in range(2):
        assert (await _send(on, body, "admin")).json()["data"]["company"]["name"]
    await company.delete()
    with count_statements() as statements:
        gone = (await _send(on, body, "admin")).json()
    assert gone["errors"][0]["extensions"]["code"] == "NOT_FOUND", gone
    assert gone == await off.gql(body["query"], body["variables"], as_user="admin")
    assert len([s for s in statements if compiled([s])]) == 1, statements


@pytest.mark.parametrize("mode", [UserMode.GROUPED, UserMode.STANDALONE])
async def test_a_viewer_of_no_company_gets_viewer_can_compiled(
    world: tuple[Api, Api], mode: UserMode
) -> None:
    # Found by the suite (test_companies_access): the company standing for the row in
    # `delete` was built with the viewer's company id, which a user of no company lacks:
    # the compiled path failed and the executor answered.
    ceo = await make_user("ceo", password="ceo-secret", profile="CRM manager", mode=mode)
    await make_company("Lonely Inc", manager=ceo)
    on, off = world
    on.tokens["ceo"] = off.tokens["ceo"] = await on.login("ceo", "ceo-secret")
    query = "{ companies { edges { node { name viewerCan { edit manage delete } } } } }"
    body, statements = await both(world, query, as_user="ceo")
    assert len(statements) == 1 and compiled(statements), statements
    assert "errors" not in body, body
