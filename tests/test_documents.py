"""Printed documents with a real Chromium: invoice PDFs (created on save, replaced on
edit, none for Received), the download endpoint (PDF or ZIP, the invoice's access rule)
and contract templates with every macro of SPEC §5."""

from __future__ import annotations

import asyncio
import io
import zipfile
from datetime import date
from typing import Any

from crm_graphql.models.companies import Company
from crm_graphql.models.files import FileOwner, StoredFile
from crm_graphql.models.invoices import Invoice
from crm_graphql.models.users import User
from crm_graphql.services import files
from crm_graphql.services.documents import INVOICE_PDF_DESCRIPTION
from tests.documents_api import (
    CREATE,
    GENERATE,
    PNG_1X1,
    TEMPLATE_CREATE,
    file_bytes,
    invoice_pdfs,
    pdf_text,
)
from tests.factories import (
    Api,
    company_id,
    make_contract,
    make_custom_field,
    make_custom_value,
    make_payment_method,
)
from tests.invoices_api import seed_input

UPDATE = """mutation($input: InvoiceUpdateInput!) { invoiceUpdate(input: $input) {
  invoice { id billId version } pdfReplaced errors { field code message } } }"""


async def create(api: Api, user: str, payload: dict[str, Any]) -> dict[str, Any]:
    result = (await api.data(CREATE, {"input": payload}, as_user=user))["invoiceCreate"]
    assert result["errors"] == [], result
    return result


async def download(api: Api, user: str, invoice_id: Any) -> Any:
    return await api.client.get(
        f"/invoices/{invoice_id}/document",
        headers={"Authorization": f"Bearer {api.tokens[user]}"},
    )


async def test_the_seed_invoice_renders_with_its_totals(demo: Api) -> None:
    # Given Customer #A with a fiscal id and the seed's invoice, in Spanish
    await Company.filter(name="Customer #A").update(fiscal_id="DEB018309434", country="Germany")
    result = await create(
        demo,
        "user1",
        seed_input(
            await company_id("Customer #A"),
            reference="PO-34873847",
            language="es",
            description="El pago vence a 30 días.",
        ),
    )
    invoice = result["invoice"]
    # Then it has exactly one generated PDF, and nothing was replaced
    assert result["pdfReplaced"] is False
    rows = await invoice_pdfs(invoice["id"])
    assert len(rows) == 1
    text = pdf_text(file_bytes(rows[0]))
    # And the PDF shows the bill ID, the customer and SPEC §6's amounts, Spanish labels
    assert invoice["billId"] in text
    assert "Customer #A" in text and "DEB018309434" in text
    assert "2160.00" in text or "2,160.00" in text
    assert "453.60" in text and "2613.60" in text
    assert "Factura" in text and "PO-34873847" in text and "30 días" in text
    assert "PAGADA" not in text


async def test_edit_replaces_the_pdf_and_paid_is_marked(demo: Api) -> None:
    invoice = (await create(demo, "user1", seed_input(await company_id("Customer #A"))))["invoice"]
    first = (await invoice_pdfs(invoice["id"]))[0]
    # When manager1 (IM) edits it and marks it paid
    result = (
        await demo.data(
            UPDATE,
            {
                "input": {
                    "id": invoice["id"],
                    "status": "PAID",
                    "lines": [{"concept": "Licence", "amount": "1000"}],
                }
            },
            as_user="manager1",
        )
    )["invoiceUpdate"]
    assert result["errors"] == [], result
    # Then the payload says the PDF was replaced, and exactly one PDF remains, the new one
    assert result["pdfReplaced"] is True
    rows = await invoice_pdfs(invoice["id"])
    assert len(rows) == 1 and rows[0].id != first.id
    # the old bytes go once the render queue's transaction has committed (a moment after
    # the new row is visible)
    for _ in range(50):
        if not files.path_of(first.stored_name).exists():
            break
        await asyncio.sleep(0.05)
    assert not files.path_of(first.stored_name).exists()
    text = pdf_text(file_bytes(rows[0]))
    assert "PAID" in text and "1000.00" in text and "2400.00" not in text


async def test_received_invoices_get_no_pdf(demo: Api) -> None:
    result = await create(
        demo, "user1", seed_input(await company_id("Customer #A"), kind="RECEIVED", billId="R-1")
    )
    assert await invoice_pdfs(result["invoice"]["id"]) == []
    # And the download has nothing to serve
    assert (await download(demo, "user1", result["invoice"]["id"])).status_code == 404


async def test_download_pdf_zip_and_access(demo: Api) -> None:
    invoice = (await create(demo, "user1", seed_input(await company_id("Customer #A"))))["invoice"]
    # The PDF alone while there are no attachments
    response = await download(demo, "user1", invoice["id"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert invoice["billId"] in pdf_text(response.content)
    # Given two attachments (the same name twice)
    row = await Invoice.get(id=int(invoice["id"]))
    async with files.file_transaction():
        for body in (b"purchase order", b"offer"):
            await files.store(
                FileOwner.INVOICE, row.id, row.company_id, body, "po.txt", "text/plain", "", None
            )
    # Then the download is a ZIP with the PDF and each attachment
    response = await download(demo, "manager1", invoice["id"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = archive.namelist()
    assert len(names) == 3 and names[0].endswith(".pdf")
    assert sorted(archive.read(n) for n in names[1:]) == [b"offer", b"purchase order"]
    # user2 cannot see the invoice: 404, like a missing one
    assert (await download(demo, "user2", invoice["id"])).status_code == 404
    assert (await download(demo, "user1", 999999)).status_code == 404
    assert (await demo.client.get(f"/invoices/{invoice['id']}/document")).status_code == 401


TEMPLATE_UPDATE = """mutation($input: ContractTemplateUpdateInput!) {
  contractTemplateUpdate(input: $input) { template { id name html version }
  errors { field code } } }"""
TEMPLATE_DELETE = """mutation($id: ID!) { contractTemplateDelete(id: $id) { deletedId
  errors { field code } } }"""
MACROS = [
    "_id_contract_",
    "_name_contract_",
    "_contract_number_",
    "_contract_description_",
    "_date_begin_",
    "_date_end_",
    "_id_company_",
    "_private_",
    "_id_status_",
    "_name_status_",
    "_company_name_",
    "_company_address_",
    "_company_fiscal_id_",
    "_company_country_",
    "_company_website_",
    "_company_comments_",
    "_company_manager_",
    "_company_last_update_",
    "_company_payment_conditions_",
    "_contract_type_id_",
    "_contract_type_name_",
    "_contract_type_description_",
    "_template_id_",
    "_template_name_",
    "_template_description_",
    "_format_long_time_",
    "_format_short_time_",
    "_format_annual_date_",
]


async def test_contract_template_with_every_macro(demo: Api) -> None:
    from crm_graphql.models.contracts import ContractStatus, ContractType
    from crm_graphql.models.customfields import (
        CustomFieldEntity,
        CustomFieldKind,
    )

    # Given a Services contract of Customer #A with a custom "Release" value
    company = await Company.get(name="Customer #A")
    await Company.filter(id=company.id).update(
        address="Frankfurter Allee 85",
        fiscal_id="DEB018309434",
        country="Germany",
        website="https://customer-a.example",
        comments="Key <account>",
        payment_conditions=45,
    )
    kind, _ = await ContractType.get_or_create(name="Services contract")
    kind.description = "Support services"
    await kind.save()
    field = await make_custom_field(
        entity=CustomFieldEntity.CONTRACT,
        owner_id=kind.id,
        name="Release",
        kind=CustomFieldKind.TEXT,
    )
    contract = await make_contract(
        company=company,
        reference="SAMPLE CUSTOMER 2021",
        number="21/1001",
        description="Sample & contract",
        date_begin=date(2021, 1, 20),
        date_end=date(2022, 1, 20),
        status=ContractStatus.ACTIVE,
        contract_type=kind,
    )
    await make_custom_value(field, contract.id, "Beta <1>")
    # And a template using every macro (each on its own line, labelled), an unknown one
    # and HTML in a value
    body = "".join(f"<p>{m.strip('_').upper()}={m}</p>" for m in MACROS)
    body += f"<p>CUSTOM=_custom_{field.id}_</p><p>UNKNOWN=_no_such_macro_</p>"
    created = (
        await demo.data(
            TEMPLATE_CREATE,
            {"input": {"name": "Renewal", "description": "Yearly <renewal>", "html": body}},
            as_user="admin",
        )
    )["contractTemplateCreate"]
    assert created["errors"] == [], created
    template = created["template"]
    # When user1 (CW, manages Customer #A) generates the PDF
    result = (
        await demo.data(GENERATE, {"c": str(contract.id), "t": template["id"]}, as_user="user1")
    )["contractGeneratePdf"]
    assert result["errors"] == [], result
    assert result["file"]["contentType"] == "application/pdf"
    # Then the PDF is one of the contract's files and shows every value
    row = await StoredFile.get(id=int(result["file"]["id"]))
    assert (row.owner_kind, row.owner_id) == (FileOwner.CONTRACT, contract.id)
    text = " ".join(pdf_text(file_bytes(row)).split())
    today = date.today()
    weekday = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[today.weekday()]
    company = await Company.get(id=company.id)
    expected = {
        "ID_CONTRACT": str(contract.id),
        "NAME_CONTRACT": "SAMPLE CUSTOMER 2021",
        "CONTRACT_NUMBER": "21/1001",
        "CONTRACT_DESCRIPTION": "Sample & contract",
        "DATE_BEGIN": "2021-01-20",
        "DATE_END": "2022-01-20",
        "ID_COMPANY": str(company.id),
        "PRIVATE": "0",
        "ID_STATUS": "1",
        "NAME_STATUS": "Active",
        "COMPANY_NAME": "Customer #A",
        "COMPANY_ADDRESS": "Frankfurter Allee 85",
        "COMPANY_FISCAL_ID": "DEB018309434",
        "COMPANY_COUNTRY": "Germany",
        "COMPANY_WEBSITE": "https://customer-a.example",
        "COMPANY_COMMENTS": "Key <account>",
        "COMPANY_MANAGER": "user1",
        "COMPANY_LAST_UPDATE": company.last_update.strftime("%Y-%m-%d"),
        "COMPANY_PAYMENT_CONDITIONS": "45",
        "CONTRACT_TYPE_ID": str(kind.id),
        "CONTRACT_TYPE_NAME": "Services contract",
        "CONTRACT_TYPE_DESCRIPTION": "Support services",
        "TEMPLATE_ID": template["id"],
        "TEMPLATE_NAME": "Renewal",
        "TEMPLATE_DESCRIPTION": "Yearly <renewal>",
        "FORMAT_LONG_TIME": f"{today.day} {weekday} {today.strftime('%B')} {today.year}",
        "FORMAT_SHORT_TIME": today.strftime("%d/%m/%Y"),
        "FORMAT_ANNUAL_DATE": str(today.year),
        "CUSTOM": "Beta <1>",
        "UNKNOWN": "_no_such_macro_",
    }
    for label, value in expected.items():
        assert f"{label}={value}" in text, (label, value, text)


async def test_contract_templates_crud_needs_cm(demo: Api) -> None:
    created = (
        await demo.data(
            TEMPLATE_CREATE, {"input": {"name": "T1", "html": "<p>x</p>"}}, as_user="admin"
        )
    )["contractTemplateCreate"]
    template = created["template"]
    # user2 (no CM) is refused
    body = await demo.gql(TEMPLATE_CREATE, {"input": {"name": "T2"}}, as_user="user2")
    assert body.get("errors"), body
    # A duplicate name and a stale version are payload errors
    dup = await demo.data(TEMPLATE_CREATE, {"input": {"name": "T1"}}, as_user="admin")
    assert [e["code"] for e in dup["contractTemplateCreate"]["errors"]] == ["UNIQUE"]
    updated = (
        await demo.data(
            TEMPLATE_UPDATE,
            {"input": {"id": template["id"], "html": "<p>y</p>", "version": 1}},
            as_user="admin",
        )
    )["contractTemplateUpdate"]
    assert updated["errors"] == [] and updated["template"]["version"] == 2
    stale = (
        await demo.data(
            TEMPLATE_UPDATE, {"input": {"id": template["id"], "version": 1}}, as_user="admin"
        )
    )["contractTemplateUpdate"]
    assert [e["code"] for e in stale["errors"]] == ["STALE"]
    deleted = await demo.data(TEMPLATE_DELETE, {"id": template["id"]}, as_user="admin")
    assert deleted["contractTemplateDelete"]["deletedId"] == template["id"]


async def test_setup_header_logo_footer_and_payment_methods(demo: Api) -> None:
    from crm_graphql.models.setup import CrmSetup
    from crm_graphql.services import documents
    from crm_graphql.services import setup as setup_service
    from crm_graphql.services.mutations import atomic

    # Given CRM setup with a header, a footer, a logo and a payment method
    await setup_service.get_setup()
    await CrmSetup.filter(id=1).update(
        invoice_header="My company LLC <issuer>", invoice_footer="Registered in Nuuk"
    )
    await make_payment_method("Bank transfer", "GLERE4710001000206")
    admin = await User.get(username="admin")
    _, errors = await atomic(lambda: setup_service.set_logo(admin, PNG_1X1))
    assert errors == []
    # When an invoice in English is created (French has its own labels: issue 12)
    result = await create(demo, "user1", seed_input(await company_id("Customer #A"), language="en"))
    invoice = await Invoice.get(id=int(result["invoice"]["id"]))
    # Then its HTML embeds the logo as a data: URI and escapes the header
    page = await documents.invoice_html(invoice)
    assert 'src="data:image/png;base64,' in page
    assert "My company LLC &lt;issuer&gt;" in page
    # And the PDF has the English labels, the header, footer and payment method
    text = pdf_text(file_bytes((await invoice_pdfs(invoice.id))[0]))
    for expected in (
        "Invoice ID",
        "Tax base",
        "Total amount",
        "My company LLC <issuer>",
        "Registered in Nuuk",
        "Bank transfer",
        "GLERE4710001000206",
        "Promotion (10%)",
        "VAT (21%)",
    ):
        assert expected in text, (expected, text)


async def test_an_attachment_looking_like_the_pdf_is_never_replaced(demo: Api) -> None:
    from tests.files_api import uploaded

    invoice = (await create(demo, "manager1", seed_input(await company_id("Customer #B"))))[
        "invoice"
    ]
    # An attachment with the generated PDF's description and type...
    mine = await uploaded(
        demo, "manager1", invoice["id"], kind="INVOICE", description=INVOICE_PDF_DESCRIPTION
    )
    await demo.data(
        UPDATE,
        {"input": {"id": invoice["id"], "reference": "PO-9"}},
        as_user="manager1",
    )
    # ...survives the edit; only the generated PDF is replaced.
    assert await StoredFile.filter(id=int(mine["id"])).exists()
    assert len(await invoice_pdfs(invoice["id"])) == 1
