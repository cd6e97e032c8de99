"""Invoice PDFs render after the invoice commits (issue 13, item 4): the PDF state is
visible (`pdfStatus`, `pdfError`), a failed render is retried and then FAILED, a
download of a PDF not ready yet is a 503/409 with a reason, and a frozen Chromium
(SIGSTOP, real uvicorn) slows neither reads nor company updates nor /readyz."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crm_graphql.models.files import FileOwner, StoredFile
from crm_graphql.models.invoices import Invoice, InvoicePdfStatus
from crm_graphql.services import pdf_queue
from crm_graphql.services.pdf import RenderError
from tests.factories import Api, company_id
from tests.invoices_api import seed_input
from tests.uvicorn_servers import Client, chromium_pids, load_demo, server_env, serving

CREATE = """mutation($input: InvoiceCreateInput!) { invoiceCreate(input: $input) {
  invoice { id billId pdfStatus pdfError } errors { field code message } } }"""
STATE = "query($id: ID!) { invoice(id: $id) { pdfStatus pdfError } }"


async def wait_status(api: Api, invoice_id: str, wanted: str, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        state = (await api.data(STATE, {"id": invoice_id}, as_user="user1"))["invoice"]
        if state["pdfStatus"] == wanted or time.monotonic() > deadline:
            return state
        await asyncio.sleep(0.1)


async def document(api: Api, invoice_id: str) -> Any:
    return await api.client.get(
        f"/invoices/{invoice_id}/document",
        headers={"Authorization": f"Bearer {api.tokens['user1']}"},
    )


async def test_a_failed_render_keeps_the_invoice_and_is_retried(
    demo: Api, monkeypatch: Any
) -> None:
    from crm_graphql.services import pdf

    real = pdf.render_pdf

    async def no_browser(html: str) -> bytes:
        raise RenderError("NO_BROWSER", "No Chromium browser found (test).")

    monkeypatch.setattr(pdf, "render_pdf", no_browser)
    # When an invoice is created while the renderer fails
    body = await demo.data(
        CREATE, {"input": seed_input(await company_id("Customer #A"))}, as_user="user1"
    )
    result = body["invoiceCreate"]
    # Then the invoice is saved (its bill ID taken), its PDF PENDING with the reason
    assert result["errors"] == []
    invoice = result["invoice"]
    assert invoice["pdfStatus"] == "PENDING"
    assert "No Chromium" in invoice["pdfError"]
    assert await StoredFile.filter(owner_kind=FileOwner.INVOICE).count() == 0
    # and its document is a clear "not yet", not a 404
    response = await document(demo, invoice["id"])
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.json()["errors"][0]["extensions"]["code"] == "PDF_PENDING"
    # When the renderer works again and the retry is due, the PDF is made
    monkeypatch.setattr(pdf, "render_pdf", real)
    await Invoice.filter(id=int(invoice["id"])).update(pdf_due_at=datetime.now(UTC))
    pdf_queue.wake()
    assert await wait_status(demo, invoice["id"], "READY") == {
        "pdfStatus": "READY",
        "pdfError": None,
    }
    response = await document(demo, invoice["id"])
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")


async def test_the_last_failed_attempt_marks_the_pdf_failed(demo: Api, monkeypatch: Any) -> None:
    from crm_graphql.services import pdf

    async def broken(html: str) -> bytes:
        raise RenderError("RENDER_FAILED", "The PDF could not be rendered.")

    monkeypatch.setattr(pdf, "render_pdf", broken)
    body = await demo.data(
        CREATE, {"input": seed_input(await company_id("Customer #A"))}, as_user="user1"
    )
    invoice_id = body["invoiceCreate"]["invoice"]["id"]
    # Given the attempts before the last one failed
    attempts = pdf_queue.settings.pdf_max_attempts
    await Invoice.filter(id=int(invoice_id)).update(
        pdf_attempts=attempts - 1, pdf_due_at=datetime.now(UTC)
    )
    pdf_queue.wake()
    state = await wait_status(demo, invoice_id, "FAILED")
    assert state == {"pdfStatus": "FAILED", "pdfError": "The PDF could not be rendered."}
    row = await Invoice.get(id=int(invoice_id))
    assert row.pdf_attempts == attempts and row.pdf_due_at is None
    response = await document(demo, invoice_id)
    assert response.status_code == 409
    assert response.json()["errors"][0]["extensions"]["code"] == "PDF_FAILED"


async def test_a_held_process_leaves_due_renders_to_another(demo: Api) -> None:
    # A process whose loop is held (a test's own server renders into its own store)
    # claims nothing: before `held`, the session's loop took the other server's jobs.
    body = await demo.data(
        CREATE, {"input": seed_input(await company_id("Customer #A"))}, as_user="user1"
    )
    invoice_id = body["invoiceCreate"]["invoice"]["id"]
    assert body["invoiceCreate"]["invoice"]["pdfStatus"] == "READY"
    due = {"pdf_status": InvoicePdfStatus.PENDING, "pdf_due_at": datetime.now(UTC)}
    with pdf_queue.held():
        await Invoice.filter(id=int(invoice_id)).update(**due)
        pdf_queue.wake()
        await asyncio.sleep(1.5)
        assert (await Invoice.get(id=int(invoice_id))).pdf_status == InvoicePdfStatus.PENDING
    # Released, the loop renders it at once
    assert (await wait_status(demo, invoice_id, "READY"))["pdfStatus"] == "READY"


async def test_received_invoices_have_no_pdf_status(demo: Api) -> None:
    payload = seed_input(await company_id("Customer #A"), kind="RECEIVED", billId="SUP-1")
    body = await demo.data(CREATE, {"input": payload}, as_user="user1")
    assert body["invoiceCreate"]["invoice"]["pdfStatus"] is None
    assert (await Invoice.get(bill_id="SUP-1")).pdf_status is None


async def test_a_newer_save_wins_over_an_older_render(demo: Api) -> None:
    # An invoice saved again while its first render runs stores only the newer PDF.
    body = await demo.data(
        CREATE, {"input": seed_input(await company_id("Customer #A"))}, as_user="user1"
    )
    invoice = await Invoice.get(id=int(body["invoiceCreate"]["invoice"]["id"]))
    assert invoice.pdf_status == InvoicePdfStatus.READY
    await Invoice.filter(id=invoice.id).update(
        pdf_status=InvoicePdfStatus.PENDING, pdf_due_at=datetime.now(UTC)
    )
    seq = invoice.pdf_seq

    from crm_graphql.services import pdf

    real = pdf.render_pdf

    async def slow_then_saved(html: str) -> bytes:
        # Another save arrives while this render runs.
        await Invoice.filter(id=invoice.id).update(pdf_seq=seq + 1)
        return await real(html)

    pdf.render_pdf = slow_then_saved  # type: ignore[assignment]
    try:
        stored = await pdf_queue.render_one(invoice.id)
    finally:
        pdf.render_pdf = real  # type: ignore[assignment]
    assert stored is False
    assert (await Invoice.get(id=invoice.id)).pdf_status == InvoicePdfStatus.PENDING
    assert await StoredFile.filter(owner_id=invoice.id, generated=True).count() == 1


# ---------------------------------------------------------------------------------------
# A frozen Chromium under real uvicorn

COMPANY = """query($id: ID!) { company(id: $id) { id name version } }"""
UPDATE_COMPANY = """mutation($input: CompanyUpdateInput!) { companyUpdate(input: $input) {
  company { version } errors { code } } }"""


async def test_a_frozen_renderer_slows_no_read_no_update_and_not_readyz(
    tmp_path: Path,
) -> None:
    env = server_env(
        tmp_path,
        CRM_PDF_WAIT_SECONDS="0",
        CRM_PDF_TIMEOUT_SECONDS="2",
        CRM_PDF_RETRY_SECONDS="1",
        CRM_PDF_POLL_SECONDS="1",
        CRM_FILE_STORE="",
    )
    load_demo(env)
    customer_a = await company_id("Customer #A")
    with serving(env) as (base, process):
        client = await Client(base).login("user1")
        try:
            # Given a first invoice rendered (Chromium is running)
            first = await client.gql(CREATE, {"input": seed_input(customer_a)})
            first_id = first["data"]["invoiceCreate"]["invoice"]["id"]
            for _ in range(300):
                state = await client.gql(STATE, {"id": first_id})
                if state["data"]["invoice"]["pdfStatus"] == "READY":
                    break
                await asyncio.sleep(0.1)
            assert state["data"]["invoice"]["pdfStatus"] == "READY", state
            pids = chromium_pids(process.pid)
            assert pids, "no Chromium process under the server"
            # When Chromium is frozen
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            try:
                started = time.monotonic()
                second = await client.gql(CREATE, {"input": seed_input(customer_a)})
                assert time.monotonic() - started < 2
                second_invoice = second["data"]["invoiceCreate"]["invoice"]
                assert second_invoice["pdfStatus"] == "PENDING"
                # Then for longer than a render may take, reads and company updates stay fast
                slowest = 0.0
                version = None
                end = time.monotonic() + 5
                while time.monotonic() < end:
                    t0 = time.monotonic()
                    read = await client.gql(COMPANY, {"id": customer_a})
                    version = read["data"]["company"]["version"]
                    update = await client.gql(
                        UPDATE_COMPANY,
                        {"input": {"id": customer_a, "version": version, "comments": str(t0)}},
                    )
                    assert update["data"]["companyUpdate"]["errors"] == []
                    t1 = time.monotonic()
                    ready = await client.http.get("/readyz")
                    slowest = max(slowest, t1 - t0, time.monotonic() - t1)
                    assert ready.status_code == 200
                assert slowest < 1.5, slowest
                # /readyz reports the stuck renderer separately
                renderer = ready.json()["renderer"]
                assert renderer["status"] in ("stalled", "failing"), renderer
                response = await client.get(f"/invoices/{second_invoice['id']}/document")
                assert response.status_code == 503
            finally:
                for pid in pids:
                    os.kill(pid, signal.SIGCONT)
            # And once Chromium runs again the PDF is made
            for _ in range(400):
                state = await client.gql(STATE, {"id": second_invoice["id"]})
                if state["data"]["invoice"]["pdfStatus"] == "READY":
                    break
                await asyncio.sleep(0.1)
            assert state["data"]["invoice"]["pdfStatus"] == "READY", state
        finally:
            await client.close()
