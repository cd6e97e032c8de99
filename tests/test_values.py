"""The value parsers (crm_graphql/values.py): their edges, tested once here, and one
HTTP test showing that invoices, leads and CRM setup accept the same currencies."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from crm_graphql.errors import FieldError
from crm_graphql.models.companies import Company
from crm_graphql.values import (
    CURRENCY_CODES,
    cents_to_decimal,
    currency_code,
    decimal_to_cents,
    is_email,
    is_language_tag,
    parse_amount,
    parse_percent,
    primary_language,
)
from tests.factories import Api


def refused(parse: Any, raw: Any) -> tuple[str, str]:
    with pytest.raises(FieldError) as caught:
        parse(raw, "x")
    return caught.value.field, caught.value.code


@pytest.mark.parametrize(
    ("raw", "cents"),
    [("0", 0), ("2400", 240000), (" 12.5 ", 1250), ("0.01", 1), ("2400.000", 240000),
     (Decimal("10000000000"), 1_000_000_000_000), (7, 700)],
)  # fmt: skip
def test_amounts_in_cents(raw: Any, cents: int) -> None:
    assert parse_amount(raw, "x") == cents


@pytest.mark.parametrize(
    ("raw", "code"),
    [("", "INVALID"), ("abc", "INVALID"), ("NaN", "INVALID"), ("Infinity", "INVALID"),
     ("-0.01", "INVALID"), ("1.005", "INVALID"), (None, "INVALID"),
     ("10000000000.01", "TOO_LARGE"), ("1E+40", "TOO_LARGE")],
)  # fmt: skip
def test_bad_amounts(raw: Any, code: str) -> None:
    assert refused(parse_amount, raw) == ("x", code)


def test_cents_round_trip() -> None:
    assert decimal_to_cents(Decimal("0.005")) == 1  # half up
    assert cents_to_decimal(123) == Decimal("1.23")
    assert str(cents_to_decimal(decimal_to_cents(Decimal("19.99")))) == "19.99"


@pytest.mark.parametrize("raw", ["0", "100", "21", "10.5", "0.0001", "21.00000", Decimal("7.25")])
def test_percentages(raw: Any) -> None:
    assert parse_percent(raw, "x") == Decimal(str(raw).strip())


@pytest.mark.parametrize(
    "raw", ["", "x", "NaN", "-Infinity", "-1", "100.0001", "1.23456", "1E+30", None]
)
def test_bad_percentages(raw: Any) -> None:
    assert refused(parse_percent, raw) == ("x", "INVALID")


@pytest.mark.parametrize(
    ("text", "ok"),
    [("a@b.co", True), ("first.last+tag@mail.example.org", True), ("", False), (None, False),
     ("a@b", False), ("a b@c.de", False), ("@c.de", False), ("a@@c.de", False)],
)  # fmt: skip
def test_email(text: str | None, ok: bool) -> None:
    assert is_email(text) is ok


def test_currency_codes_come_from_iso_4217() -> None:
    # Circulating currencies and fund codes are money; metals, units and test codes not.
    assert {"EUR", "USD", "JPY", "XOF", "XCG", "VED", "ZWG", "BOV", "CHE"} <= CURRENCY_CODES
    assert not {"XAU", "XAG", "XDR", "XTS", "XXX", "XBA"} & CURRENCY_CODES
    # Withdrawn codes are gone (ANG became XCG, SLL became SLE).
    assert not {"ANG", "SLL", "HRK"} & CURRENCY_CODES
    assert currency_code(" usd ", "x") == "USD"
    for raw in ("", None, "EURO", "XYZ", "XAU", "E U"):
        assert refused(currency_code, raw) == ("x", "INVALID")


@pytest.mark.parametrize(
    ("text", "ok"),
    [("en", True), ("es_ES", True), ("pt-BR", True), ("", False), (None, False),
     ("english!", False), ("EN", False), ("zz", False), ("eng", False)],
)  # fmt: skip
def test_language_tags(text: str | None, ok: bool) -> None:
    assert is_language_tag(text) is ok


def test_primary_language() -> None:
    assert [primary_language(t) for t in ("fr-FR", " ES_es ", "de", None)] == ["fr", "es", "de", ""]


INVOICE = """mutation($input: InvoiceCreateInput!) {
  invoiceCreate(input: $input) { invoice { currency } errors { field code } } }"""
LEAD = """mutation($i: LeadCreateInput!) {
  leadCreate(input: $i) { lead { currency } errors { field code } } }"""
SETUP = """mutation($input: CrmSetupUpdateInput!) {
  crmSetupUpdate(input: $input) { setup { defaultCurrency version } errors { field code } } }"""


async def test_invoices_leads_and_setup_accept_the_same_currencies(demo: Api) -> None:
    """BOV (a fund code) was accepted by invoices only; XAU (gold) by none."""
    company = str((await Company.get(name="Customer #A")).id)

    async def invoice(code: str) -> dict[str, Any]:
        given = {
            "companyId": company,
            "currency": code,
            "lines": [{"concept": "Licence", "amount": "100"}],
            "taxes": [{"name": "VAT", "percent": "21"}],
            "issuedOn": "2021-01-20",
        }
        data = await demo.data(INVOICE, {"input": given}, as_user="manager1")
        return data["invoiceCreate"]

    async def lead(code: str) -> dict[str, Any]:
        given = {"fullName": f"Lead in {code}", "estimatedSale": "10", "currency": code}
        return (await demo.data(LEAD, {"i": given}, as_user="user1"))["leadCreate"]

    async def setup(code: str, version: int) -> dict[str, Any]:
        given = {"version": version, "defaultCurrency": code}
        return (await demo.data(SETUP, {"input": given}, as_user="admin"))["crmSetupUpdate"]

    # Accepted by all three, in any case
    assert (await invoice("bov"))["invoice"] == {"currency": "BOV"}
    assert (await lead("bov"))["lead"] == {"currency": "BOV"}
    assert (await setup("bov", 1))["setup"] == {"defaultCurrency": "BOV", "version": 2}

    # Refused by all three with a payload error naming the field, nothing written
    refused_invoice, refused_lead = await invoice("XAU"), await lead("XAU")
    refused_setup = await setup("XAU", 2)
    assert refused_invoice == {
        "invoice": None,
        "errors": [{"field": "currency", "code": "INVALID"}],
    }
    assert refused_lead == {"lead": None, "errors": [{"field": "currency", "code": "INVALID"}]}
    assert refused_setup == {
        "setup": None,
        "errors": [{"field": "defaultCurrency", "code": "INVALID"}],
    }
