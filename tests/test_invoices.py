"""Invoices over HTTP: totals (the seed's example), the company's billing, bad input
(clear payload errors, nothing half-written, the audit log naming who tried), lists and
their filters, totals per currency, statistics, related contracts, CSV export."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from crm_graphql.models.audit import AuditEntry
from crm_graphql.models.companies import Company, CompanyBilling
from crm_graphql.models.contracts import ContractInvoice
from crm_graphql.models.invoices import Invoice, InvoiceLine, InvoiceTax
from crm_graphql.models.setup import CrmSetup
from tests.factories import (
    Api,
    company_id,
    error_codes,
    make_company,
    make_contract,
    make_invoice,
    make_user,
)
from tests.invoices_api import (
    DELETE,
    GET,
    LIST,
    LOCK,
    UNLOCK,
    UPDATE,
    create,
    create_ok,
    seed_input,
    set_numbering,
)


async def test_the_seed_example_totals_over_http(demo: Api) -> None:
    # Given Customer #A, managed by user1 (IW)
    company = await company_id("Customer #A")
    # When user1 creates the seed's invoice
    invoice = await create_ok(demo, "user1", seed_input(company))
    # Then the totals are SPEC §6's
    assert invoice["base"] == "2400.00"
    assert invoice["discount"] == "240.00"
    assert invoice["subtotal"] == "2160.00"
    assert invoice["taxAmounts"] == [{"name": "VAT", "percent": "21", "amount": "453.60"}]
    assert invoice["taxTotal"] == "453.60"
    assert invoice["retention"] == "0.00"
    assert invoice["total"] == "2613.60"
    assert invoice["lines"] == [
        {"concept": "Pandora ITSM Enterprise, annual licence", "amount": "2400.00"}
    ]
    assert invoice["discountPercent"] == "10"
    # and they are stored for lists and statistics
    stored = await Invoice.get(id=int(invoice["id"]))
    assert (stored.base_cents, stored.total_cents) == (240000, 261360)
    # and read back the same way
    again = (await demo.data(GET, {"id": invoice["id"]}, as_user="manager1"))["invoice"]
    assert again["total"] == "2613.60" and again["subtotal"] == "2160.00"


async def test_every_field_round_trips(demo: Api) -> None:
    company = await company_id("Customer #B")
    invoice = await create_ok(
        demo,
        "manager1",
        seed_input(
            company,
            kind="RECEIVED",
            billId="SUP-77",
            reference="PO-2021-3",
            status="PAID",
            paidOn="2021-02-01",
            language="es",
            currency="usd",
            retentionConcept="IRPF",
            retentionPercent="15",
            description="Printed text",
            internalNote="Never printed",
            taxes=[{"name": "VAT", "percent": "21"}, {"name": "Surcharge", "percent": "5.2"}],
        ),
    )
    assert invoice["kind"] == "RECEIVED" and invoice["billId"] == "SUP-77"
    assert invoice["currency"] == "USD" and invoice["language"] == "es"
    assert invoice["status"] == "PAID" and invoice["paidOn"] == "2021-02-01"
    assert invoice["reference"] == "PO-2021-3"
    assert invoice["internalNote"] == "Never printed"
    assert invoice["retention"] == "324.00"  # 2160 x 15%
    assert [t["amount"] for t in invoice["taxAmounts"]] == ["453.60", "112.32"]
    assert invoice["total"] == "2401.92"  # 2160 + 565.92 - 324
    assert invoice["locked"] is False  # Received invoices are not locked on create
    assert invoice["company"] == {"name": "Customer #B"}


async def test_defaults_come_from_crm_setup(demo: Api) -> None:
    setup, _ = await CrmSetup.get_or_create(id=1)
    setup.default_currency, setup.tax_name, setup.default_tax_percent = "GBP", "IVA", 20
    await setup.save()
    invoice = await create_ok(
        demo,
        "user1",
        {"companyId": await company_id("Customer #A"), "lines": [{"concept": "x", "amount": "10"}]},
    )
    assert invoice["currency"] == "GBP"
    assert invoice["taxes"] == [{"name": "IVA", "percent": "20"}]
    assert invoice["issuedOn"] == date.today().isoformat()
    assert invoice["total"] == "12.00"


async def test_billing_follows_submitted_non_canceled_invoices(demo: Api) -> None:
    company = await company_id("Customer #B")
    billing = "query($id: ID!) { company(id: $id) { billing { currency amount } } }"

    async def current() -> str:
        data = await demo.data(billing, {"id": company}, as_user="manager1")
        amounts = data["company"]["billing"]
        assert all(a["currency"] == "EUR" for a in amounts)
        return amounts[0]["amount"] if amounts else "0.00"

    first = await create_ok(demo, "manager1", seed_input(company))
    await create_ok(demo, "manager1", seed_input(company, kind="RECEIVED", billId="S-1"))
    assert await current() == "2400.00"  # received invoices are not our billing
    second = await create_ok(
        demo, "manager1", seed_input(company, lines=[{"concept": "y", "amount": "100.50"}])
    )
    assert await current() == "2500.50"
    result = await demo.data(
        "mutation($id: ID!) { invoiceSetStatus(id: $id, status: CANCELED) { errors { code } } }",
        {"id": second["id"]},
        as_user="manager1",
    )
    assert result["invoiceSetStatus"]["errors"] == []
    assert await current() == "2400.00"
    await demo.data(
        UPDATE,
        {"input": {"id": first["id"], "lines": [{"concept": "z", "amount": "1000"}]}},
        as_user="manager1",
    )
    assert await current() == "1000.00"
    await demo.data(UNLOCK, {"id": first["id"]}, as_user="manager1")
    deleted = await demo.data(DELETE, {"id": first["id"]}, as_user="manager1")
    assert deleted["invoiceDelete"]["errors"] == []
    assert await current() == "0.00"


async def test_a_company_with_invoices_cannot_be_deleted(demo: Api) -> None:
    company = await company_id("Customer #B")
    await create_ok(demo, "manager1", seed_input(company))
    result = await demo.data(
        "mutation($id: ID!) { companyDelete(id: $id) { deletedId errors { field code message } } }",
        {"id": company},
        as_user="admin",
    )
    assert result["companyDelete"]["deletedId"] is None
    assert result["companyDelete"]["errors"][0]["code"] == "CONFLICT"
    assert "invoices" in result["companyDelete"]["errors"][0]["message"]


async def test_invoice_changes_write_company_activities(demo: Api) -> None:
    company = await company_id("Customer #A")
    invoice = await create_ok(demo, "user1", seed_input(company, kind="RECEIVED", billId="R-9"))
    await demo.data(UPDATE, {"input": {"id": invoice["id"], "reference": "PO"}}, as_user="user1")
    body = await demo.data(
        "query($id: ID!) { company(id: $id) { lastActivity activities(first: 5) { edges { node { text } } } } }",  # noqa: E501
        {"id": company},
        as_user="user1",
    )
    texts = [e["node"]["text"] for e in body["company"]["activities"]["edges"]]
    assert "Invoice R-9 created." in texts and "Invoice R-9 updated." in texts
    assert body["company"]["lastActivity"] is not None


BAD_INPUTS = [
    ({"expiresOn": "2021-01-01"}, "expiresOn", "INVALID"),
    ({"lines": [{"concept": "x", "amount": "-1"}]}, "lines.0.amount", "INVALID"),
    ({"lines": [{"concept": "x", "amount": "12abc"}]}, "lines.0.amount", "INVALID"),
    ({"lines": [{"concept": "x", "amount": "1.001"}]}, "lines.0.amount", "INVALID"),
    ({"lines": []}, "lines", "REQUIRED"),
    ({"lines": [{"concept": " ", "amount": "1"}]}, "lines.0.concept", "REQUIRED"),
    ({"taxes": [{"name": "VAT", "percent": "100.5"}]}, "taxes.0.percent", "INVALID"),
    ({"taxes": [{"name": "VAT", "percent": "-2"}]}, "taxes.0.percent", "INVALID"),
    ({"taxes": []}, "taxes", "REQUIRED"),
    ({"discountPercent": "150"}, "discountPercent", "INVALID"),
    ({"retentionPercent": "abc"}, "retentionPercent", "INVALID"),
    ({"currency": "EUX"}, "currency", "INVALID"),
    ({"kind": "RECEIVED"}, "billId", "REQUIRED"),
    ({"companyId": "999999"}, "companyId", "NOT_FOUND"),
]


async def test_bad_input_is_a_payload_error_and_writes_nothing(demo: Api) -> None:
    company = await company_id("Customer #A")
    for change, field, code in BAD_INPUTS:
        result = await create(demo, "user1", seed_input(company, **change))
        assert result["invoice"] is None, change
        assert {"field": field, "code": code} in [
            {"field": e["field"], "code": e["code"]} for e in result["errors"]
        ], (change, result["errors"])
        assert all(e["message"] for e in result["errors"])
    # nothing half-written
    assert await Invoice.all().count() == 0
    assert await InvoiceLine.all().count() == 0
    assert await InvoiceTax.all().count() == 0
    assert await CompanyBilling.filter(company_id=int(company)).count() == 0
    # and the audit log tells who tried
    rejected = await AuditEntry.filter(action="REJECTED", object_type="Invoice").all()
    assert len(rejected) == len(BAD_INPUTS)
    assert {r.username for r in rejected} == {"user1"}
    assert rejected[0].changes["operation"] == "invoiceCreate"


async def test_several_errors_at_once(demo: Api) -> None:
    result = await create(
        demo,
        "user1",
        seed_input(
            await company_id("Customer #A"),
            expiresOn="2020-01-01",
            currency="ZZZ",
            lines=[{"concept": "x", "amount": "-5"}],
        ),
    )
    assert {e["field"] for e in result["errors"]} == {"expiresOn", "currency", "lines.0.amount"}


async def test_duplicate_bill_id_names_bill_id(demo: Api) -> None:
    company = await company_id("Customer #A")
    await create_ok(demo, "user1", seed_input(company, kind="RECEIVED", billId="SUP-1"))
    result = await create(demo, "user1", seed_input(company, kind="RECEIVED", billId="SUP-1"))
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("billId", "UNIQUE")]
    other = await create_ok(demo, "user1", seed_input(company, kind="RECEIVED", billId="SUP-2"))
    result = (
        await demo.data(UPDATE, {"input": {"id": other["id"], "billId": "SUP-1"}}, as_user="user1")
    )["invoiceUpdate"]
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("billId", "UNIQUE")]
    assert await Invoice.filter(bill_id="SUP-1").count() == 1


async def test_update_errors_roll_back_everything(demo: Api) -> None:
    company = await company_id("Customer #B")
    invoice = await create_ok(demo, "manager1", seed_input(company))
    result = (
        await demo.data(
            UPDATE,
            {
                "input": {
                    "id": invoice["id"],
                    "reference": "changed",
                    "lines": [{"concept": "a", "amount": "1"}, {"concept": "b", "amount": "-1"}],
                }
            },
            as_user="manager1",
        )
    )["invoiceUpdate"]
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("lines.1.amount", "INVALID")]
    again = (await demo.data(GET, {"id": invoice["id"]}, as_user="manager1"))["invoice"]
    assert again["reference"] == "" and again["total"] == "2613.60"
    assert len(again["lines"]) == 1
    stale = (
        await demo.data(UPDATE, {"input": {"id": invoice["id"], "version": 99}}, as_user="manager1")
    )["invoiceUpdate"]
    assert stale["errors"][0]["code"] == "STALE"


async def test_editing_a_locked_invoice_is_refused_and_audited(demo: Api) -> None:
    # Given a Received invoice user1 locked
    company = await company_id("Customer #A")
    invoice = await create_ok(demo, "user1", seed_input(company, kind="RECEIVED", billId="L-1"))
    await demo.data(LOCK, {"id": invoice["id"]}, as_user="user1")
    # When another IW user who sees the company edits it
    from tests.factories import make_user

    await make_user(
        "writer2",
        bits=("CR", "CW", "IR", "IW"),
        company=await Company.get(name="My company"),
    )
    demo.tokens["writer2"] = await demo.login("writer2", "writer2-pass")
    result = (
        await demo.data(
            UPDATE, {"input": {"id": invoice["id"], "reference": "x"}}, as_user="writer2"
        )
    )["invoiceUpdate"]
    # Then a clear payload error, nothing written, and the audit log names writer2
    assert result["invoice"] is None
    assert result["errors"][0]["code"] == "CONFLICT"
    assert "locked" in result["errors"][0]["message"]
    assert (await Invoice.get(id=int(invoice["id"]))).reference == ""
    entry = await AuditEntry.filter(action="REJECTED").order_by("-id").first()
    assert entry is not None and entry.username == "writer2"
    assert entry.object_id == invoice["id"]
    assert entry.changes["operation"] == "invoiceUpdate"


async def test_set_status_paid_sets_the_payment_date(demo: Api) -> None:
    company = await company_id("Customer #B")
    invoice = await create_ok(demo, "manager1", seed_input(company, issuedOn="2021-01-20"))
    mutation = """mutation($id: ID!, $s: InvoiceStatus!, $d: Date) {
      invoiceSetStatus(id: $id, status: $s, paidOn: $d) {
        invoice { status paidOn locked lockedBy { username } } errors { field code } } }"""
    paid = (await demo.data(mutation, {"id": invoice["id"], "s": "PAID"}, as_user="manager1"))[
        "invoiceSetStatus"
    ]
    assert paid["invoice"]["status"] == "PAID"
    assert paid["invoice"]["paidOn"] == date.today().isoformat()
    pending = (
        await demo.data(mutation, {"id": invoice["id"], "s": "PENDING"}, as_user="manager1")
    )["invoiceSetStatus"]
    assert pending["invoice"]["paidOn"] is None
    dated = (
        await demo.data(
            mutation, {"id": invoice["id"], "s": "PAID", "d": "2021-03-01"}, as_user="manager1"
        )
    )["invoiceSetStatus"]
    assert dated["invoice"]["paidOn"] == "2021-03-01"
    early = (
        await demo.data(
            mutation, {"id": invoice["id"], "s": "PAID", "d": "2020-03-01"}, as_user="manager1"
        )
    )["invoiceSetStatus"]
    assert early["errors"] == [{"field": "paidOn", "code": "INVALID"}]


async def test_related_contracts_from_the_invoice_side(demo: Api) -> None:
    a = await Company.get(name="Customer #A")
    b = await Company.get(name="Customer #B")
    mine = await make_contract(
        a, "SAMPLE_CUSTOMER_2021", number="21/1001", date_begin=date(2021, 1, 1)
    )
    other = await make_contract(b, "B-2021", number="21/1002", date_begin=date(2021, 1, 1))
    # a private contract of a company user1 cannot see as an insider
    hidden_company = await make_company("Hidden Co", path="")
    hidden = await make_contract(hidden_company, "H", number="H-1", date_begin=date(2021, 1, 1))
    invoice = await create_ok(
        demo, "user1", seed_input(str(a.id), relatedContractIds=[str(mine.id), str(other.id)])
    )
    query = (
        "query($id: ID!) { invoice(id: $id) { relatedContracts(first: 5) "
        "{ totalCount edges { node { reference number } } } } }"
    )
    related = (await demo.data(query, {"id": invoice["id"]}, as_user="user1"))["invoice"][
        "relatedContracts"
    ]
    assert related["totalCount"] == 2
    assert [e["node"]["number"] for e in related["edges"]] == ["21/1001", "21/1002"]
    # a contract the viewer cannot see is NOT_FOUND
    result = await create(demo, "user1", seed_input(str(a.id), relatedContractIds=[str(hidden.id)]))
    assert result["errors"][0]["field"] == "relatedContractIds"
    assert result["errors"][0]["code"] == "NOT_FOUND"
    # the IM replaces the set; a link the viewer cannot see would be kept
    await ContractInvoice.create(contract=hidden, invoice_id=int(invoice["id"]))
    await demo.data(
        UPDATE,
        {"input": {"id": invoice["id"], "relatedContractIds": [str(other.id)]}},
        as_user="manager1",
    )
    links = await ContractInvoice.filter(invoice_id=int(invoice["id"])).values_list(
        "contract_id", flat=True
    )
    assert sorted(links) == sorted([other.id, hidden.id])
    # filter by contract number
    found = (
        await demo.data(LIST, {"filter": {"contractNumber": {"eq": "21/1002"}}}, as_user="manager1")
    )["invoices"]
    assert found["totalCount"] == 1


async def test_create_invoice_from_contract_service(demo: Api) -> None:
    from crm_graphql.services.auth import Viewer
    from crm_graphql.services.invoices import create_invoice_from_contract
    from crm_graphql.services.mutations import atomic

    await set_numbering("21/[1001]")
    a = await Company.get(name="Customer #A")
    contract = await make_contract(
        a, "SAMPLE_CUSTOMER_2021", number="21/1001", date_begin=date(2021, 1, 1)
    )
    from crm_graphql.models.auth import TokenKind, TokenScope
    from crm_graphql.models.users import User

    user = await User.get(username="user1")
    viewer = Viewer(
        user=user,
        bits=frozenset({"CR", "CW", "IR", "IW"}),
        token_id=0,
        token_kind=TokenKind.SESSION,
        scope=TokenScope.FULL,
    )
    invoice, errors = await atomic(lambda: create_invoice_from_contract(viewer, contract))
    assert errors == [] and invoice is not None
    assert invoice.bill_id == "21/1001" and invoice.company_id == a.id
    assert invoice.locked and invoice.locked_by_id == user.id
    assert await ContractInvoice.filter(contract=contract, invoice=invoice).exists()


async def test_lists_filters_and_totals_per_currency(demo: Api) -> None:
    a, b = await company_id("Customer #A"), await company_id("Customer #B")
    await set_numbering("F[001]")
    await create_ok(demo, "manager1", seed_input(a, description="Licences for Acme"))
    await create_ok(
        demo,
        "manager1",
        seed_input(
            b,
            currency="USD",
            issuedOn="2021-06-01",
            expiresOn=None,
            lines=[{"concept": "Support", "amount": "100"}],
        ),
    )
    await create_ok(
        demo,
        "manager1",
        seed_input(b, kind="RECEIVED", billId="SUP-9", status="PAID", reference="PO-7"),
    )

    async def bills(flt: dict[str, Any], **kw: Any) -> list[str]:
        body = await demo.data(LIST, {"filter": flt, **kw}, as_user="manager1")
        return [e["node"]["billId"] for e in body["invoices"]["edges"]]

    assert await bills({"search": "acme"}) == ["F001"]
    assert await bills({"search": "customer #b"}) == ["F002", "SUP-9"]
    assert await bills({"search": "sup-"}) == ["SUP-9"]
    assert await bills({"kind": {"eq": "RECEIVED"}}) == ["SUP-9"]
    assert await bills({"status": {"eq": "PAID"}}) == ["SUP-9"]
    assert await bills({"reference": {"eq": "PO-7"}}) == ["SUP-9"]
    assert await bills({"issuedOn": {"gte": "2021-05-01", "lte": "2021-12-31"}}) == ["F002"]
    assert await bills({"expiresOn": {"isNull": True}}) == ["F002"]
    assert await bills({"total": {"gte": "200", "lte": "3000"}}) == ["SUP-9", "F001"]
    assert await bills({"total": {"lt": "200"}}) == ["F002"]
    assert await bills({"companyManager": {"username": {"eq": "user1"}}}) == ["F001"]
    assert await bills({"companyRole": {"name": {"eq": "Customer"}}}) == ["F002", "SUP-9", "F001"]
    assert await bills({"currency": {"eq": "USD"}}) == ["F002"]
    assert await bills({}, orderBy=[{"field": "TOTAL", "direction": "ASC"}]) == [
        "F002",
        "F001",
        "SUP-9",
    ]
    totals = await demo.data(
        "query($f: InvoiceFilter) { invoiceTotals(filter: $f) { currency count base total } }",
        {"f": None},
        as_user="manager1",
    )
    assert totals["invoiceTotals"] == [
        {"currency": "EUR", "count": 2, "base": "4800.00", "total": "5227.20"},
        {"currency": "USD", "count": 1, "base": "100.00", "total": "108.90"},
    ]
    only_a = await demo.data(
        "query($f: InvoiceFilter) { invoiceTotals(filter: $f) { currency count } }",
        {"f": {"company": {"name": {"eq": "Customer #A"}}}},
        as_user="manager1",
    )
    assert only_a["invoiceTotals"] == [{"currency": "EUR", "count": 1}]
    # nested under companies, per company
    nested = await demo.data(
        "{ companies(first: 5) { edges { node { name invoices(first: 1) "
        "{ totalCount edges { node { billId } } } } } } }",
        as_user="manager1",
    )
    by_name = {e["node"]["name"]: e["node"]["invoices"] for e in nested["companies"]["edges"]}
    assert by_name["Customer #B"]["totalCount"] == 2
    assert len(by_name["Customer #B"]["edges"]) == 1


async def test_statistics_are_sql_aggregates_per_currency(demo: Api) -> None:
    a, b = await company_id("Customer #A"), await company_id("Customer #B")
    await create_ok(demo, "manager1", seed_input(a, issuedOn="2021-01-20"))
    await create_ok(demo, "manager1", seed_input(a, issuedOn="2021-01-25"))
    await create_ok(
        demo, "manager1", seed_input(b, issuedOn="2021-02-03", currency="USD", expiresOn=None)
    )
    await create_ok(demo, "manager1", seed_input(b, kind="RECEIVED", billId="S-1"))
    body = await demo.data(
        """{ invoiceStatistics {
          totalsPerCurrency { currency count base total }
          billingPerMonth { month amounts { currency count base } }
          billingPerCompany { company { name } amounts { currency base } }
          billingPerManager { manager { username } amounts { currency base } } } }""",
        as_user="manager1",
    )
    stats = body["invoiceStatistics"]
    assert stats["totalsPerCurrency"] == [
        {"currency": "EUR", "count": 3, "base": "7200.00", "total": "7840.80"},
        {"currency": "USD", "count": 1, "base": "2400.00", "total": "2613.60"},
    ]
    assert stats["billingPerMonth"] == [
        {"month": "2021-01", "amounts": {"currency": "EUR", "count": 2, "base": "4800.00"}},
        {"month": "2021-02", "amounts": {"currency": "USD", "count": 1, "base": "2400.00"}},
    ]
    assert stats["billingPerCompany"] == [
        {"company": {"name": "Customer #A"}, "amounts": {"currency": "EUR", "base": "4800.00"}},
        {"company": {"name": "Customer #B"}, "amounts": {"currency": "USD", "base": "2400.00"}},
    ]
    assert stats["billingPerManager"] == [
        {"manager": {"username": "user1"}, "amounts": {"currency": "EUR", "base": "4800.00"}},
        {"manager": {"username": "manager1"}, "amounts": {"currency": "USD", "base": "2400.00"}},
    ]


async def test_csv_export_flattens_lines_taxes_and_totals(demo: Api) -> None:
    company = await company_id("Customer #A")
    await create_ok(
        demo,
        "user1",
        seed_input(
            company,
            kind="RECEIVED",
            billId="=cmd",
            lines=[{"concept": "A", "amount": "2000"}, {"concept": "B", "amount": "400"}],
        ),
    )
    response = await demo.client.get(
        "/export/invoices.csv", headers={"Authorization": f"Bearer {demo.tokens['user1']}"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 1
    row = rows[0]
    assert row["bill_id"] == "'=cmd"  # formula neutralised
    assert row["company"] == "Customer #A"
    assert row["lines"] == "A: 2000.00 | B: 400.00"
    assert row["taxes"] == "VAT 21%"
    assert (row["base"], row["subtotal"], row["tax_total"], row["total"]) == (
        "2400.00",
        "2160.00",
        "453.60",
        "2613.60",
    )
    filtered = await demo.client.get(
        "/export/invoices.csv",
        params={"filter": '{"kind": {"eq": "SUBMITTED"}}'},
        headers={"Authorization": f"Bearer {demo.tokens['user1']}"},
    )
    assert len(list(csv.DictReader(io.StringIO(filtered.text)))) == 0
    denied = await demo.client.get(
        "/export/invoices.csv", headers={"Authorization": f"Bearer {demo.tokens['user2']}"}
    )
    assert denied.status_code == 403


async def test_hidden_invoice_ids_reveal_nothing(demo: Api) -> None:
    hidden = await make_company("Root Co", path="")
    invoice = await make_invoice(hidden, kind="RECEIVED", bill_id="X-1", issued_on=date.today())
    body = await demo.gql(GET, {"id": str(invoice.id)}, as_user="user1")
    assert error_codes(body) == ["NOT_FOUND"]
    result = (
        await demo.data(
            UPDATE, {"input": {"id": str(invoice.id), "reference": "x"}}, as_user="user1"
        )
    )["invoiceUpdate"]
    assert result["errors"][0]["code"] == "NOT_FOUND"
    assert (await demo.data(LIST, as_user="user1"))["invoices"]["totalCount"] == 0


async def test_create_reminder_adds_a_calendar_event(demo: Api) -> None:
    from crm_graphql.models.calendar import CalendarEvent

    company = await company_id("Customer #A")
    invoice = await create_ok(demo, "user1", seed_input(company, createReminder=True))
    event = await CalendarEvent.get(object_type="Invoice", object_id=int(invoice["id"]))
    assert event.starts_on == date(2021, 2, 20)
    assert invoice["billId"] in event.title
    # without an expiration date there is nothing to remind: a payload error, nothing written
    result = await create(demo, "user1", seed_input(company, createReminder=True, expiresOn=None))
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("expiresOn", "REQUIRED")]
    assert await Invoice.all().count() == 1
    # changing the expiration date or bill ID moves and renames the reminder
    await demo.data(
        UPDATE,
        {"input": {"id": invoice["id"], "expiresOn": "2021-03-31", "billId": "MOVED-1"}},
        as_user="manager1",
    )
    event = await CalendarEvent.get(object_type="Invoice", object_id=int(invoice["id"]))
    assert event.starts_on == date(2021, 3, 31) and "MOVED-1" in event.title
    assert await CalendarEvent.filter(object_type="Invoice").count() == 1
    # deleting the invoice removes its reminders
    await demo.data(UNLOCK, {"id": invoice["id"]}, as_user="manager1")
    deleted = await demo.data(DELETE, {"id": invoice["id"]}, as_user="manager1")
    assert deleted["invoiceDelete"]["errors"] == []
    assert not await CalendarEvent.filter(object_type="Invoice").exists()


async def test_list_statements_do_not_grow_with_rows(demo: Api) -> None:
    from crm_graphql.services.sqlcount import count_statements

    a, b = await company_id("Customer #A"), await company_id("Customer #B")
    contract = await make_contract(
        await Company.get(id=int(a)), "C", number="N-1", date_begin=date(2021, 1, 1)
    )
    query = """{ invoices(first: 50) { totalCount edges { node {
        billId total subtotal taxAmounts { amount } lines { concept amount } taxes { name }
        company { name } lockedBy { username } files(first: 2) { totalCount }
        relatedContracts(first: 3) { totalCount edges { node { number } } } } } } }"""

    async def populate(n: int) -> None:
        for i in range(n):
            await create_ok(
                demo,
                "manager1",
                seed_input(
                    a if i % 2 else b,
                    lines=[{"concept": f"l{j}", "amount": "10"} for j in range(3)],
                    relatedContractIds=[str(contract.id)] if i % 2 else [],
                ),
            )

    async def statements() -> int:
        await demo.data("{ __typename }", as_user="manager1")
        with count_statements() as seen:
            data = await demo.data(query, as_user="manager1")
        assert data["invoices"]["edges"]
        return len(seen)

    await populate(2)
    small = await statements()
    await populate(20)
    assert await statements() == small


async def test_pages_follow_keyset_cursors(demo: Api) -> None:
    company = await company_id("Customer #B")
    await set_numbering("P[01]")
    for day in (5, 1, 3, 3, 2):
        await create_ok(demo, "manager1", seed_input(company, issuedOn=f"2021-01-0{day}"))
    query = """query($after: String, $order: [InvoiceOrder!]) {
      invoices(first: 2, after: $after, orderBy: $order) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { billId issuedOn } } } }"""

    async def walk(order: Any = None) -> list[str]:
        seen: list[str] = []
        after = None
        while True:
            page = (await demo.data(query, {"after": after, "order": order}, as_user="manager1"))[
                "invoices"
            ]
            assert page["totalCount"] == 5
            seen += [e["node"]["billId"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                return seen
            after = page["pageInfo"]["endCursor"]

    # newest creation date first, then the latest recorded
    assert await walk() == ["P01", "P04", "P03", "P05", "P02"]
    assert await walk([{"field": "BILL_ID", "direction": "DESC"}]) == [
        "P05",
        "P04",
        "P03",
        "P02",
        "P01",
    ]
    excluded = await demo.data(
        LIST, {"filter": {"not": {"billId": {"in": ["P01", "P02"]}}}}, as_user="manager1"
    )
    assert excluded["invoices"]["totalCount"] == 3


async def test_attachments_follow_the_invoice_rules(demo: Api) -> None:
    from tests.files_api import download, upload, uploaded

    a = await company_id("Customer #A")
    received = await create_ok(demo, "user1", seed_input(a, kind="RECEIVED", billId="SUP-77"))
    # IW attaches to a Received invoice it may edit; the file is listed and downloads.
    file = await uploaded(demo, "user1", received["id"], kind="INVOICE")
    assert (await download(demo, "user1", file["downloadUrl"])).status_code == 200
    # A Submitted invoice is read-only for IW: no attachments either.
    submitted = await create_ok(demo, "manager1", seed_input(a))
    body = await upload(demo, "user1", submitted["id"], kind="INVOICE")
    assert error_codes(body) == ["FORBIDDEN"]
    # IM may attach to it.
    assert await uploaded(demo, "manager1", submitted["id"], kind="INVOICE")
    # Without IR, invoice files are invisible even on a visible company.
    await make_user(
        "crm_only",
        password="crm-only-pass",
        bits=("CR", "CW"),
        company=await Company.get(name="My company"),
    )
    demo.tokens["crm_only"] = await demo.login("crm_only", "crm-only-pass")
    assert (await download(demo, "crm_only", file["downloadUrl"])).status_code == 404
