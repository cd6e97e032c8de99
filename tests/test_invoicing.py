"""Invoice arithmetic and numbering as pure functions (the API tests cover the rest)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm_graphql.errors import FieldError
from crm_graphql.services.invoicing import compute_totals, next_number, parse_pattern
from tests.factories import make_company, make_invoice


def test_the_seed_example() -> None:
    totals = compute_totals(
        [Decimal("2400")], Decimal("10"), [("IVA", Decimal("21"))], Decimal("0")
    )
    assert totals.base == Decimal("2400.00")
    assert totals.discount == Decimal("240.00")
    assert totals.subtotal == Decimal("2160.00")
    assert [t.amount for t in totals.taxes] == [Decimal("453.60")]
    assert totals.tax_total == Decimal("453.60")
    assert totals.total == Decimal("2613.60")


def test_several_taxes_retention_and_rounding() -> None:
    totals = compute_totals(
        [Decimal("10.005"), Decimal("0.10"), Decimal("99.99")],
        Decimal("0"),
        [("VAT", Decimal("21")), ("Surcharge", Decimal("5.2"))],
        Decimal("15"),
    )
    assert totals.base == Decimal("110.10")  # 10.01 + 0.10 + 99.99, lines rounded first
    assert [t.amount for t in totals.taxes] == [Decimal("23.12"), Decimal("5.73")]
    assert totals.retention == Decimal("16.52")
    assert totals.total == Decimal("110.10") + Decimal("28.85") - Decimal("16.52")


@pytest.mark.parametrize(
    ("pattern", "existing", "expected"),
    [
        ("21/[1001]", [], "21/1001"),
        ("21/[1001]", ["21/1001", "21/1002"], "21/1003"),
        ("21/[1001]", ["21/999", "21/1000", "21/00009"], "21/1001"),  # numeric, not text
        ("21/[1001]", ["21/9999"], "21/10000"),
        ("FAC[0100]-B", ["FAC0100-B", "FAC0101-B", "FAC0150-A", "FACX-B"], "FAC0102-B"),
        ("FAC[0100]-B", ["FAC0007-B"], "FAC0008-B"),
        ("[1]", ["7", "x12", "12a"], "8"),
        ("22/[1]", ["21/1001"], "22/1"),  # a new pattern starts a new sequence
    ],
)
def test_next_number(pattern: str, existing: list[str], expected: str) -> None:
    assert next_number(parse_pattern(pattern), existing) == expected


@pytest.mark.parametrize("pattern", ["21/1001", "[]", "A[12", "A[1][2]", "[x1]"])
def test_bad_patterns(pattern: str) -> None:
    with pytest.raises(FieldError):
        parse_pattern(pattern)


async def test_allocate_bill_id_in_sql_matches_the_pure_rule(app: object) -> None:
    from datetime import date

    from tortoise.transactions import in_transaction

    from crm_graphql.services.invoicing import allocate_bill_id

    company = await make_company("Numbering Co", path="")
    existing = ["21/999", "21/1000", "21/00009", "21/1x", "FAC0101-B", "21/%5", "21_1500"]
    for bill_id in existing:
        await make_invoice(company, bill_id=bill_id, issued_on=date.today())
    for pattern in ("21/[1001]", "FAC[0100]-B", "21_[0001]", "22/[1]", "21/%[1]"):
        async with in_transaction():
            allocated = await allocate_bill_id(parse_pattern(pattern))
        assert allocated == next_number(parse_pattern(pattern), existing), pattern
