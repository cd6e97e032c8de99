"""The dashboard query (companies → contracts → related invoices → lines) costs a number
of SQL statements that depends on the query's shape, never on the number of rows, and
returns the right data: per-parent limits of 5 in the API's order, private contracts
and hidden companies left out for a non-superadmin, totals and amounts to the cent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from crm_graphql.models.companies import Company
from crm_graphql.models.contracts import ContractInvoice
from crm_graphql.models.invoices import InvoiceKind, InvoiceLine
from crm_graphql.models.users import User
from crm_graphql.services.sqlcount import count_statements
from crm_graphql.values import cents_to_decimal
from tests.factories import Api, make_billing, make_company, make_contract, make_invoice, make_user

QUERY = """{
  companies(first: 20) { edges { node {
    name billing { currency amount }
    contracts(first: 5) { edges { node {
      reference
      relatedInvoices(first: 5) { edges { node {
        billId total lines { concept amount }
      } } }
    } } }
  } } }
}"""

# The statements the query's shape costs: one, the compiled read path builds the whole
# response in SQL (on the executor, CRM_COMPILED_READS=0, six: the page of companies,
# their billing per currency, the contracts window, the related-invoice links window,
# the invoices by id, the lines).
SHAPE_STATEMENTS = 1

VIEWERS = ("manager1", "admin")


@dataclass
class Made:
    """What was written for one company, to build the expected response per viewer."""

    name: str
    billing_cents: int
    visible_to_manager1: bool
    private_visible_to_manager1: bool
    # (date_begin, id, reference, private, [invoice ids]) per contract
    contracts: list[tuple[date, int, str, bool, list[int]]] = field(default_factory=list)


@dataclass
class World:
    companies: dict[str, Made] = field(default_factory=dict)
    # invoice id -> its node as the API returns it
    invoices: dict[int, dict[str, Any]] = field(default_factory=dict)

    def expected(self, name: str, viewer: str) -> dict[str, Any] | None:
        """The company's node as `viewer` must see it; None when hidden."""
        made = self.companies[name]
        if viewer == "manager1" and not made.visible_to_manager1:
            return None
        contracts = [
            c
            for c in made.contracts
            if not c[3] or viewer == "admin" or made.private_visible_to_manager1
        ]
        # newest start first, then the highest id
        contracts.sort(key=lambda c: (c[0], c[1]), reverse=True)
        return {
            "name": made.name,
            "billing": [{"currency": "EUR", "amount": str(cents_to_decimal(made.billing_cents))}]
            if made.billing_cents
            else [],
            "contracts": {
                "edges": [
                    {
                        "node": {
                            "reference": reference,
                            "relatedInvoices": {
                                "edges": [
                                    {"node": self.invoices[i]}
                                    for i in sorted(invoice_ids, reverse=True)[:5]
                                ]
                            },
                        }
                    }
                    for _, _, reference, _, invoice_ids in contracts[:5]
                ]
            },
        }


async def populate(world: World, count: int, prefix: str) -> None:
    """`count` companies named "<prefix> NNN": odd ones under Customer #B (a descendant of
    manager1's company: visible to it), even ones under "Hidden root" (an outsider's
    top-level company: visible to manager1 only when manager1 or a colleague manages
    them). Managers in turn: manager1, user1 (its colleague), an outsider; private
    contracts are visible to manager1 only in the first two. Company i has i % 8
    contracts (start dates out of id order) and i % 9 invoices of 1 to 4 lines; contract t is
    related to every (t + 1)-th invoice of its company, so the first contracts exceed
    the limit of 5."""
    manager1 = await User.get(username="manager1")
    user1 = await User.get(username="user1")
    outsider = await User.filter(username="outsider").first() or await make_user("outsider")
    hidden, _ = await Company.get_or_create(name="Hidden root", defaults={"manager": outsider})
    if not hidden.path:
        hidden.path = f"/{hidden.id}/"
        await Company.filter(id=hidden.id).update(path=hidden.path)
    visible = await Company.get(name="Customer #B")
    lines: list[InvoiceLine] = []
    links: list[ContractInvoice] = []
    for i in range(count):
        name = f"{prefix} {i:03}"
        parent = visible if i % 2 else hidden
        manager = (manager1, user1, outsider)[i % 3]
        company = await make_company(name, parent=parent, manager=manager)
        invoice_ids = []
        billing = 0
        for j in range(i % 9):
            amounts = [100 * (i + 1) + 37 * j + k for k in range(1 + j % 4)]
            base = sum(amounts)
            total = base + (base * 21 + 50) // 100
            invoice = await make_invoice(
                company=company,
                kind=InvoiceKind.SUBMITTED if j % 3 else InvoiceKind.RECEIVED,
                bill_id=f"{prefix}-{i:03}-{j}",
                issued_on=date(2024, 1, 1) + timedelta(days=j),
                base_cents=base,
                total_cents=total,
            )
            billing += base
            invoice_ids.append(invoice.id)
            # positions in reverse creation order: the API orders by position
            concepts = [f"{name} line {k}" for k in range(len(amounts))]
            lines += [
                InvoiceLine(invoice=invoice, position=len(amounts) - k, concept=c, amount_cents=a)
                for k, (c, a) in enumerate(zip(concepts, amounts, strict=True))
            ]
            world.invoices[invoice.id] = {
                "billId": invoice.bill_id,
                "total": str(cents_to_decimal(total)),
                "lines": [
                    {"concept": c, "amount": str(cents_to_decimal(a))}
                    for c, a in reversed(list(zip(concepts, amounts, strict=True)))
                ],
            }
        if billing:
            await make_billing(company, billing)
        made = Made(
            name=name,
            billing_cents=billing,
            visible_to_manager1=parent is visible or manager is not outsider,
            private_visible_to_manager1=manager is not outsider,
        )
        for t in range(i % 8):
            begin = date(2023, 1, 1) - timedelta(days=(t * 5) % 7)
            contract = await make_contract(
                company=company,
                reference=f"{name} contract {t}",
                date_begin=begin,
                private=t % 3 == 1,
            )
            related = invoice_ids[:: t + 1]
            links += [ContractInvoice(contract=contract, invoice_id=r) for r in related]
            made.contracts.append(
                (begin, contract.id, contract.reference, contract.private, related)
            )
        world.companies[name] = made
    await InvoiceLine.bulk_create(lines)
    await ContractInvoice.bulk_create(links)


def check(data: dict[str, Any], world: World, viewer: str) -> int:
    """Compare every node of ours on the page with what was written; returns how many."""
    seen = 0
    for edge in data["companies"]["edges"]:
        node = edge["node"]
        if node["name"] not in world.companies:
            continue
        want = world.expected(node["name"], viewer)
        assert want is not None, f"{viewer} sees {node['name']}"
        assert node == want, node["name"]
        seen += 1
    return seen


async def run(demo: Api, user: str) -> tuple[int, dict[str, Any]]:
    # warm-up: the first request after login marks the token as used (an UPDATE)
    await demo.data("{ __typename }", as_user=user)
    with count_statements() as statements:
        data = await demo.data(QUERY, as_user=user)
    return len(statements), data


async def test_statements_do_not_grow_with_rows(demo: Api) -> None:
    # what authenticating a request costs, counted the same way
    authentication = {}
    for user in VIEWERS:
        await demo.data("{ __typename }", as_user=user)
        with count_statements() as statements:
            await demo.data("{ __typename }", as_user=user)
        authentication[user] = len(statements)

    world = World()
    await populate(world, 6, "Dash")
    small = {}
    for user in VIEWERS:
        small[user], data = await run(demo, user)
        assert check(data, world, user) == (6 if user == "admin" else 5)

    await populate(world, 60, "Dashboard")
    large = {}
    for user in VIEWERS:
        large[user], data = await run(demo, user)
        edges = data["companies"]["edges"]
        assert len(edges) == 20
        # "Customer #A", "Customer #B", then ours ("Dash ...", "Dashboard ..."), every
        # one checked value by value
        assert check(data, world, user) == 18
        contracts = [c for e in edges for c in e["node"]["contracts"]["edges"]]
        invoices = [i for c in contracts for i in c["node"]["relatedInvoices"]["edges"]]
        lines = [line for i in invoices for line in i["node"]["lines"]]
        assert len(contracts) > 40 and len(invoices) > 60 and len(lines) > 100, user

    for user in VIEWERS:
        assert small[user] == large[user], (user, small[user], large[user])
        assert large[user] - authentication[user] == SHAPE_STATEMENTS, user


async def test_limits_order_privacy_and_totals_in_detail(demo: Api) -> None:
    world = World()
    await populate(world, 16, "Detail")
    admin = {
        e["node"]["name"]: e["node"]
        for e in (await demo.data(QUERY, as_user="admin"))["companies"]["edges"]
    }
    manager = {
        e["node"]["name"]: e["node"]
        for e in (await demo.data(QUERY, as_user="manager1"))["companies"]["edges"]
    }

    # Detail 007 (user1's, under Customer #B): 7 contracts, the 5 newest come back
    # (started 0, 5, 3, 1, 6, 4, 2 days before 1 Jan: contracts 0, 3, 6, 2, 5)
    seven = admin["Detail 007"]["contracts"]["edges"]
    assert [c["node"]["reference"] for c in seven] == [
        f"Detail 007 contract {t}" for t in (0, 3, 6, 2, 5)
    ]
    # contract 0 is related to all 7 invoices: the newest 5; contract 2 to every 3rd: 3
    assert [i["node"]["billId"] for i in seven[0]["node"]["relatedInvoices"]["edges"]] == [
        f"Detail-007-{j}" for j in (6, 5, 4, 3, 2)
    ]
    assert len(seven[3]["node"]["relatedInvoices"]["edges"]) == 3
    # Detail 015 has 7 contracts and 6 invoices; contract 0 is related to all 6: the
    # newest 5 come back, newest first
    fifteen = {
        c["node"]["reference"]: c["node"]["relatedInvoices"]["edges"]
        for c in admin["Detail 015"]["contracts"]["edges"]
    }
    assert [i["node"]["billId"] for i in fifteen["Detail 015 contract 0"]] == [
        f"Detail-015-{j}" for j in (5, 4, 3, 2, 1)
    ]
    # lines in position order, amounts and totals to the cent: invoice 3 of company 15
    # has 4 lines of 1711, 1712, 1713, 1714 cents: base 68.50, 21% tax 14.39
    invoice = fifteen["Detail 015 contract 0"][2]["node"]
    assert invoice["billId"] == "Detail-015-3"
    assert invoice["total"] == "82.89"
    assert [line["amount"] for line in invoice["lines"]] == ["17.14", "17.13", "17.12", "17.11"]
    assert invoice["lines"][0]["concept"] == "Detail 015 line 3"
    assert admin["Detail 015"]["billing"] == [
        {
            "currency": "EUR",
            "amount": str(cents_to_decimal(world.companies["Detail 015"].billing_cents)),
        }
    ]

    # privacy: Detail 005 (an outsider's, under Customer #B) is visible to manager1 but
    # its private contracts (1 and 4) are not; Detail 004 (user1's) keeps them
    assert "Detail 005" in manager
    refs = [c["node"]["reference"] for c in manager["Detail 005"]["contracts"]["edges"]]
    assert refs == ["Detail 005 contract 0", "Detail 005 contract 3", "Detail 005 contract 2"]
    refs = [c["node"]["reference"] for c in admin["Detail 005"]["contracts"]["edges"]]
    assert "Detail 005 contract 1" in refs and "Detail 005 contract 4" in refs
    refs = [c["node"]["reference"] for c in manager["Detail 004"]["contracts"]["edges"]]
    assert "Detail 004 contract 1" in refs
    # Detail 002 (an outsider's, under the hidden root) is hidden from manager1
    assert "Detail 002" not in manager and "Detail 002" in admin

    for viewer, page in (("admin", admin), ("manager1", manager)):
        data = {"companies": {"edges": [{"node": n} for n in page.values()]}}
        assert check(data, world, viewer) == (16 if viewer == "admin" else 13)
