"""An invoice's computed amounts on the compiled read path (issue 15): discount,
subtotal, taxAmounts, taxTotal and retention in SQL (compiled/totals.py), and its
percentages on both databases, the same text as services.invoicing.compute_totals'
Decimals for crafted invoices at the rounding boundaries, for the seven viewers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from crm_graphql.models.companies import Company
from crm_graphql.models.invoices import InvoiceLine
from tests.differential import (
    VIEWERS,
    Differential,
    compiled_statements,
    on_postgres,
)
from tests.factories import make_invoice

TOTALS = """query Totals($after: String) { invoices(first: 40, after: $after,
  filter: {billId: {gte: "E-", lt: "E-~"}}, orderBy: [{field: BILL_ID}]) {
  pageInfo { hasNextPage endCursor }
  edges { cursor node { billId base discount subtotal taxTotal retention total
    discountPercent retentionPercent taxes { name percent }
    taxAmounts { name percent amount __typename } } } } }"""

# (bill id, line cents, discount %, taxes, retention %): the rounding boundaries.
CASES: list[tuple[str, tuple[int, ...], str, tuple[tuple[str, str], ...], str]] = [
    # 0.005 rounds up (half up, not to even): 1.00 x 0.5% and 0.01 x 50%.
    ("E-01", (100,), "0", (("VAT", "0.5"),), "0.5"),
    ("E-02", (1,), "50", (("VAT", "50"),), "50"),
    # 0.00499999 stays down; 0.025 goes up (to even it would stay at 0.02).
    ("E-03", (499_999,), "0.0001", (("A", "0.0003"),), "0.0001"),
    ("E-04", (5,), "50", (("A", "50"), ("B", "49.9999")), "0"),
    # Several decimals, several taxes, a retention.
    ("E-05", (99_999, 12_345), "12.3456", (("VAT", "21"), ("IRPF", "10.5"), ("X", "0.0001")), "15"),
    ("E-06", (2_400_00,), "10", (("VAT", "21"),), "7.25"),
    # 100% discount: nothing left to tax or retain.
    ("E-07", (5_000, 7_777), "100", (("VAT", "21"), ("Eco", "4.9999")), "100"),
    # No lines, no taxes: zeros with two decimals.
    ("E-08", (), "0", (), "0"),
    # Huge: 20 lines of the largest amount, whose product with a percentage is past
    # 64 bits (SQLite splits it).
    ("E-09", (10**12,) * 20, "33.3333", (("VAT", "99.9999"), ("B", "0.0001")), "99.9999"),
    ("E-10", (10**12 - 1,) * 500, "0.0001", (("VAT", "100"),), "66.6667"),
]
# Percentages written in the forms SQLite keeps as text (Decimal's own str).
FORMS = ("2.1E+1", "21.00000", "1E+2", "0.0000", "5.5000", "0.10", "1.0E-4")


async def _crafted() -> None:
    a = await Company.get(name="Customer #A")
    for bill_id, lines, discount, taxes, retention in CASES:
        await make_invoice(
            a,
            bill_id,
            lines=tuple(("Line", cents) for cents in lines),
            taxes=taxes,
            discount_percent=Decimal(discount),
            retention_percent=Decimal(retention),
        )
    for n, form in enumerate(FORMS):
        await make_invoice(
            a,
            f"E-2{n}",
            lines=(("Line", 12_345),),
            taxes=((form, form),),
            discount_percent=Decimal(form),
            retention_percent=Decimal(FORMS[-1 - n]),
        )


def _nodes(body: Any) -> dict[str, Any]:
    return {e["node"]["billId"]: e["node"] for e in body["data"]["invoices"]["edges"]}


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_invoice_totals_are_computed_in_sql_as_in_python(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    await _crafted()
    answer, statements = await compiled_statements(paths, TOTALS, world[viewer])
    body: Any = answer.body
    if "errors" in body:  # no IR: refused by the executor
        assert viewer in ("user2", "lead_seller", "user1"), body
        assert not any("crm_node" in s for s in statements)
        return
    assert len(statements) == 1 and "crm_node" in statements[0], statements
    after = body["data"]["invoices"]["pageInfo"]["endCursor"]
    await paths.check(TOTALS, {"after": after}, world[viewer], f"{viewer} page 2")
    if viewer != "admin":
        return
    nodes = _nodes(body)
    assert [nodes["E-01"][k] for k in ("discount", "taxTotal", "retention")] == [
        "0.00",
        "0.01",
        "0.01",
    ]
    assert nodes["E-02"]["discount"] == "0.01" and nodes["E-02"]["subtotal"] == "0.00"
    assert nodes["E-03"]["discount"] == "0.00" and nodes["E-03"]["taxTotal"] == "0.01"
    assert nodes["E-04"]["discount"] == "0.03"
    assert [t["amount"] for t in nodes["E-04"]["taxAmounts"]] == ["0.01", "0.01"]
    assert nodes["E-07"]["subtotal"] == "0.00" and nodes["E-07"]["retention"] == "0.00"
    assert nodes["E-08"]["taxAmounts"] == [] and nodes["E-08"]["taxTotal"] == "0.00"
    assert nodes["E-09"]["discount"] == "66666600000.00"
    assert nodes["E-09"]["taxAmounts"][1]["amount"] == "133333.40"
    assert nodes["E-20"]["discountPercent"] == "21" and nodes["E-22"]["discountPercent"] == "100"
    assert nodes["E-26"]["taxAmounts"][0]["percent"] == "0.0001"


NEGATIVE = """{ invoices(first: 50, filter: {billId: {gte: "N-", lt: "N-~"}},
  orderBy: [{field: BILL_ID}]) { edges { node { billId discount subtotal taxTotal
  retention taxAmounts { amount } } } } }"""


async def test_negative_amounts_round_and_sign_as_decimal_does(
    paths: Differential, world: dict[str, str]
) -> None:
    """Not values the API stores (amounts are 0 or more), but the same arithmetic:
    half away from zero, and a negative product that rounds to zero is "-0.00"."""
    a = await Company.get(name="Customer #A")
    for n, (cents, percent) in enumerate(((-1, "10"), (-5, "10"), (-150, "0"), (-3, "50"))):
        await make_invoice(
            a,
            f"N-{n}",
            lines=(("Refund", cents),),
            taxes=(("VAT", percent), ("Zero", "0")),
            discount_percent=Decimal(percent),
            retention_percent=Decimal(percent),
        )
    answer, statements = await compiled_statements(paths, NEGATIVE, world["admin"])
    assert len(statements) == 1 and "crm_node" in statements[0], statements
    nodes = [e["node"] for e in answer.body["data"]["invoices"]["edges"]]
    assert nodes[0]["discount"] == "-0.00" and nodes[1]["discount"] == "-0.01"
    assert nodes[2]["taxAmounts"] == [{"amount": "-0.00"}, {"amount": "-0.00"}]
    assert nodes[3]["discount"] == "-0.02" and nodes[3]["subtotal"] == "-0.01"


BEYOND = """{ invoices(first: 5, filter: {billId: {eq: "H-1"}}) { edges { node {
  billId discount subtotal taxTotal retention taxAmounts { amount } } } } }"""


async def test_an_amount_past_64_bits_answers_the_same(
    paths: Differential, world: dict[str, str]
) -> None:
    """A crafted invoice whose amounts pass 64 bits of cents: PostgreSQL computes it
    in numeric; SQLite's statement fails on purpose and the executor answers."""
    a = await Company.get(name="Customer #A")
    invoice = await make_invoice(
        a, "H-1", taxes=(("Big", "999.9999"),), discount_percent=Decimal("-999.9999")
    )
    await InvoiceLine.create(invoice=invoice, position=0, concept="Big", amount_cents=2**62)
    answer, statements = await compiled_statements(paths, BEYOND, world["admin"])
    node = answer.body["data"]["invoices"]["edges"][0]["node"]
    assert node["discount"] == "-461168555725878606.13", node
    assert node["taxTotal"] == "5072853651816108941.55", node
    ran_compiled = len(statements) == 1 and "crm_node" in statements[0]
    assert ran_compiled == on_postgres(), statements


@pytest.mark.parametrize("viewer", ("admin", "invoice_reader", "manager1"))
async def test_totals_of_nested_and_single_invoices_run_compiled(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    await _crafted()
    nested = """{ contracts(first: 20) { edges { node { relatedInvoices(first: 5) { edges {
      node { discount subtotal taxTotal retention taxAmounts { name percent amount } } } } } } }
      companies(first: 5) { edges { node { name } } } }"""
    answer, statements = await compiled_statements(paths, nested, world[viewer])
    assert "errors" not in answer.body, answer.body
    assert len(statements) == 2 and all("crm_node" in s for s in statements), statements
