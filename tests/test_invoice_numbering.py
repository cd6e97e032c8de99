"""Bill ID numbering over HTTP (SPEC §6): the first number of a pattern is START, then
the highest existing number compared numerically plus one with START's padding; a new
pattern starts a new sequence; manual bill IDs are allowed when unique; on PostgreSQL,
20 concurrent creations get 20 distinct consecutive numbers."""

from __future__ import annotations

import asyncio

import pytest

from crm_graphql.models.invoices import Invoice
from tests.conftest import IS_POSTGRES
from tests.factories import Api, company_id
from tests.invoices_api import create, create_ok, seed_input, set_numbering


async def submitted(api: Api, **extra: object) -> dict:
    return await create(api, "manager1", seed_input(await company_id("Customer #B"), **extra))


async def bill(api: Api, **extra: object) -> str:
    result = await submitted(api, **extra)
    assert result["errors"] == [], result
    return result["invoice"]["billId"]


async def test_first_start_then_highest_plus_one_with_padding(demo: Api) -> None:
    await set_numbering("FAC[0100]-B")
    assert await bill(demo) == "FAC0100-B"
    assert await bill(demo) == "FAC0101-B"
    # a manual bill ID of the pattern counts, compared numerically
    assert await bill(demo, billId="FAC0150-B") == "FAC0150-B"
    assert await bill(demo) == "FAC0151-B"
    # IDs of other shapes do not
    assert await bill(demo, billId="FAC9x-B") == "FAC9x-B"
    assert await bill(demo, billId="FAC0999-A") == "FAC0999-A"
    assert await bill(demo) == "FAC0152-B"


async def test_numbers_compare_numerically_not_as_text(demo: Api) -> None:
    await set_numbering("21/[1001]")
    assert await bill(demo, billId="21/999") == "21/999"
    assert await bill(demo) == "21/1000"  # numbering continues from the highest number
    assert await bill(demo, billId="21/9999") == "21/9999"
    assert await bill(demo) == "21/10000"
    assert await bill(demo) == "21/10001"  # "21/10000" < "21/9999" as text, not as numbers


async def test_a_new_pattern_starts_a_new_sequence(demo: Api) -> None:
    await set_numbering("21/[1001]")
    assert [await bill(demo) for _ in range(2)] == ["21/1001", "21/1002"]
    await set_numbering("22/[0001]")
    assert await bill(demo) == "22/0001"
    await set_numbering("21/[1001]")
    assert await bill(demo) == "21/1003"


async def test_manual_bill_ids_must_be_unique(demo: Api) -> None:
    await set_numbering("21/[1001]")
    assert await bill(demo) == "21/1001"
    clash = await submitted(demo, billId="21/1001")
    assert [(e["field"], e["code"]) for e in clash["errors"]] == [("billId", "UNIQUE")]
    assert await bill(demo, billId="EXC-1") == "EXC-1"
    # received invoices carry the supplier's bill ID, which must be unique too
    received = await submitted(demo, kind="RECEIVED", billId="EXC-1")
    assert [(e["field"], e["code"]) for e in received["errors"]] == [("billId", "UNIQUE")]
    missing = await submitted(demo, kind="RECEIVED")
    assert [(e["field"], e["code"]) for e in missing["errors"]] == [("billId", "REQUIRED")]
    assert await Invoice.all().count() == 2


async def test_with_auto_numbering_off_a_bill_id_is_required(demo: Api) -> None:
    await set_numbering("21/[1001]", auto=False)
    result = await submitted(demo)
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("billId", "REQUIRED")]
    assert await bill(demo, billId="MANUAL-1") == "MANUAL-1"


async def test_refused_creations_do_not_use_a_number(demo: Api) -> None:
    await set_numbering("[1]")
    assert await bill(demo) == "1"
    bad = await submitted(demo, currency="XXZ")
    assert bad["invoice"] is None
    assert await bill(demo) == "2"


@pytest.mark.skipif(not IS_POSTGRES, reason="concurrent numbering is tested on PostgreSQL")
async def test_twenty_concurrent_creations_get_consecutive_numbers(demo: Api) -> None:
    await set_numbering("C[0001]")
    company = await company_id("Customer #B")
    results = await asyncio.gather(
        *(create(demo, "manager1", seed_input(company)) for _ in range(20))
    )
    assert [r["errors"] for r in results] == [[]] * 20
    bills = sorted(r["invoice"]["billId"] for r in results)
    assert bills == [f"C{n:04d}" for n in range(1, 21)]
    assert len(set(bills)) == 20
    # the company's billing saw every one of them
    await create_ok(demo, "manager1", seed_input(company))
    billing = await demo.data(
        "query($id: ID!) { company(id: $id) { billing { currency amount } } }",
        {"id": company},
        as_user="manager1",
    )
    assert billing["company"]["billing"] == [{"currency": "EUR", "amount": "50400.00"}]
