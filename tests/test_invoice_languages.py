"""Invoice PDFs in their language, regenerated on request, and invoices by last change
(issue 12, item 11), with a real Chromium and pdftotext."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from crm_graphql.models.companies import Company
from crm_graphql.models.contracts import ContractStatus
from crm_graphql.models.files import FileOwner, StoredFile
from crm_graphql.models.invoices import Invoice
from crm_graphql.models.setup import CrmSetup
from tests.documents_api import CREATE, TEMPLATE_CREATE, file_bytes, invoice_pdfs, pdf_text
from tests.factories import Api, company_id, error_codes, make_contract
from tests.invoices_api import seed_input

REGENERATE = """mutation($id: ID!) { invoiceRegeneratePdf(id: $id) {
  invoice { id version } pdfReplaced errors { field code message } } }"""
GENERATE = """mutation($c: ID!, $t: ID!, $l: String!) {
  contractGeneratePdf(contractId: $c, templateId: $t, language: $l) {
  file { id } errors { field code message } } }"""
UPDATE = """mutation($input: InvoiceUpdateInput!) { invoiceUpdate(input: $input) {
  invoice { id } errors { field code message } } }"""


async def _create(demo: Api, **extra: str) -> dict:
    payload = seed_input(await company_id("Customer #A"), **extra)
    return (await demo.data(CREATE, {"input": payload}, as_user="manager1"))["invoiceCreate"]


async def test_language_is_validated(demo: Api) -> None:
    refused = await _create(demo, language="xx")
    assert refused["invoice"] is None
    error = refused["errors"][0]
    assert (error["field"], error["code"]) == ("language", "INVALID")
    assert "de, en, es, fr, it, pt" in error["message"]
    assert await Invoice.all().count() == 0
    made = await _create(demo, language="FR-fr")
    assert made["errors"] == []
    updated = await demo.data(
        UPDATE, {"input": {"id": made["invoice"]["id"], "language": "klingon"}}, as_user="manager1"
    )
    assert [(e["field"], e["code"]) for e in updated["invoiceUpdate"]["errors"]] == [
        ("language", "INVALID")
    ]
    assert (await Invoice.get(id=int(made["invoice"]["id"]))).language == "fr"


async def test_pdfs_are_printed_in_their_language(demo: Api) -> None:
    expected = {
        "fr": ("Facture", "Montant total"),
        "de": ("Rechnung", "Gesamtbetrag"),
        "it": ("Fattura", "Importo totale"),
        "pt": ("Fatura", "Valor total"),
    }
    for language, words in expected.items():
        made = await _create(demo, language=language)
        assert made["errors"] == [], made
        text = pdf_text(file_bytes((await invoice_pdfs(made["invoice"]["id"]))[0]))
        assert all(word in text for word in words), (language, text)
        assert "Total amount" not in text


async def test_contract_date_macros_in_a_language(demo: Api) -> None:
    company = await Company.get(name="Customer #A")
    contract = await make_contract(
        company=company,
        reference="R",
        date_begin=date(2021, 1, 20),
        date_end=date(2022, 1, 20),
        status=ContractStatus.ACTIVE,
    )
    created = await demo.data(
        TEMPLATE_CREATE,
        {"input": {"name": "Dates", "html": "<p>LONG=_format_long_time_</p>"}},
        as_user="admin",
    )
    template = created["contractTemplateCreate"]["template"]["id"]
    months_fr = (
        "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"
    )
    today = date.today()
    result = await demo.data(
        GENERATE, {"c": str(contract.id), "t": template, "l": "fr"}, as_user="user1"
    )
    assert result["contractGeneratePdf"]["errors"] == []
    row = await StoredFile.get(id=int(result["contractGeneratePdf"]["file"]["id"]))
    text = " ".join(pdf_text(file_bytes(row)).split())
    weekday = ("lun", "mar", "mer", "jeu", "ven", "sam", "dim")[today.weekday()]
    month = months_fr.split()[today.month - 1]
    assert f"LONG={today.day} {weekday} {month} {today.year}" in text, text
    refused = await demo.data(
        GENERATE, {"c": str(contract.id), "t": template, "l": "xx"}, as_user="user1"
    )
    errors = refused["contractGeneratePdf"]["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [("language", "INVALID")]


async def test_regenerate_pdf(demo: Api) -> None:
    made = (await _create(demo, language="es"))["invoice"]
    first = (await invoice_pdfs(made["id"]))[0]
    # Given CRM setup's footer changed after the invoice was printed
    await CrmSetup.filter(id=1).update(invoice_footer="Registrada en Nuuk")
    assert "Registrada en Nuuk" not in pdf_text(file_bytes(first))
    # When manager1 (IM) regenerates it
    result = (await demo.data(REGENERATE, {"id": made["id"]}, as_user="manager1"))[
        "invoiceRegeneratePdf"
    ]
    assert result["errors"] == [] and result["pdfReplaced"] is True
    assert result["invoice"]["version"] == made["version"]  # the invoice did not change
    rows = await invoice_pdfs(made["id"])
    assert len(rows) == 1 and rows[0].id != first.id
    assert "Registrada en Nuuk" in pdf_text(file_bytes(rows[0]))
    # user1 (IW) sees Submitted invoices read-only: refused
    body = await demo.gql(REGENERATE, {"id": made["id"]}, as_user="user1")
    assert error_codes(body) == ["FORBIDDEN"]
    # a Received invoice has no PDF to regenerate
    received = await _create(demo, kind="RECEIVED", billId="R-1")
    result = (await demo.data(REGENERATE, {"id": received["invoice"]["id"]}, as_user="manager1"))[
        "invoiceRegeneratePdf"
    ]
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("id", "INVALID")]
    # an invisible or unknown invoice is NOT_FOUND
    result = (await demo.data(REGENERATE, {"id": "999999"}, as_user="manager1"))[
        "invoiceRegeneratePdf"
    ]
    assert [e["code"] for e in result["errors"]] == ["NOT_FOUND"]


async def test_updated_at_filter_and_order(demo: Api) -> None:
    first = (await _create(demo, kind="RECEIVED", billId="R-1"))["invoice"]
    second = (await _create(demo, kind="RECEIVED", billId="R-2"))["invoice"]
    await Invoice.filter(id=int(first["id"])).update(updated_at=datetime(2030, 1, 1, tzinfo=UTC))
    query = """query($f: InvoiceFilter, $o: [InvoiceOrder!]) {
      invoices(filter: $f, orderBy: $o) { edges { node { billId updatedAt } } } }"""
    data = await demo.data(
        query, {"o": [{"field": "UPDATED_AT", "direction": "DESC"}]}, as_user="manager1"
    )
    assert [e["node"]["billId"] for e in data["invoices"]["edges"]] == ["R-1", "R-2"]
    assert data["invoices"]["edges"][0]["node"]["updatedAt"].startswith("2030-01-01")
    data = await demo.data(
        query, {"f": {"updatedAt": {"lt": "2029-01-01T00:00:00Z"}}}, as_user="manager1"
    )
    assert [e["node"]["billId"] for e in data["invoices"]["edges"]] == [second["billId"]]


async def test_the_demo_submitted_invoice_has_its_pdf(tmp_path: Path) -> None:
    from tests.uvicorn_servers import run

    result = run("demo", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    submitted = await Invoice.get(bill_id="21/1001")
    rows = await StoredFile.filter(
        owner_kind=FileOwner.INVOICE, owner_id=submitted.id, generated=True
    )
    assert len(rows) == 1 and rows[0].size > 1000
