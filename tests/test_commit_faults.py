"""Connection faults during invoice creation (issue 13, item 2), on PostgreSQL against a
real uvicorn: a separate connection terminates the server's backends
(`pg_terminate_backend`) again and again while clients create invoices. Afterwards
every invoice a client was told about exists, every reported failure left nothing
behind (no invoice, no file row, no blob), and every committed invoice has its PDF,
bytes included, once the render queue has caught up."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from crm_graphql.models.files import FileBlob, FileOwner, StoredFile
from crm_graphql.models.invoices import Invoice, InvoicePdfStatus
from crm_graphql.services import files
from crm_graphql.services.files import maintenance as file_maintenance
from tests.conftest import DATABASE_URL, IS_POSTGRES
from tests.factories import company_id
from tests.invoices_api import seed_input
from tests.uvicorn_servers import Client, load_demo, server_env, serving

pytestmark = pytest.mark.skipif(not IS_POSTGRES, reason="terminates PostgreSQL backends")

APP_NAME = "crm_fault_test_server"
CREATE = """mutation($input: InvoiceCreateInput!) { invoiceCreate(input: $input) {
  invoice { id billId } errors { code } } }"""
CLIENTS = 4
PER_CLIENT = 8
KILL_EVERY = 0.7  # seconds between rounds of terminations


async def _killer(stop: asyncio.Event, killed: list[int]) -> None:
    dsn = DATABASE_URL.replace("asyncpg://", "postgres://")
    connection = await asyncpg.connect(dsn)
    try:
        while not stop.is_set():
            rows = await connection.fetch(
                "SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity "
                "WHERE application_name = $1 AND pid <> pg_backend_pid()",
                APP_NAME,
            )
            killed.append(sum(1 for row in rows if row["done"]))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), KILL_EVERY)
    finally:
        await connection.close()


async def _create(http: httpx.AsyncClient, token: str, reference: str, company: str) -> str:
    """'ok', or the error code the client was given."""
    payload = seed_input(company, reference=reference)
    try:
        response = await http.post(
            "/graphql",
            json={"query": CREATE, "variables": {"input": payload}},
            headers={"Authorization": f"Bearer {token}"},
        )
    except httpx.TransportError as exc:
        return f"transport:{type(exc).__name__}"
    if response.status_code != 200:
        return f"http:{response.status_code}"
    body = response.json()
    if body.get("errors"):
        return str(body["errors"][0]["extensions"]["code"])
    result = body["data"]["invoiceCreate"]
    if result["errors"]:
        return str(result["errors"][0]["code"])
    return "ok"


async def test_terminated_backends_during_invoice_creation(tmp_path: Path) -> None:
    env = server_env(
        tmp_path,
        CRM_DATABASE_URL=f"{DATABASE_URL}?application_name={APP_NAME}",
        CRM_FILE_STORE="",  # the database store, the PostgreSQL default
        CRM_PDF_WAIT_SECONDS="0",
        CRM_PDF_RETRY_SECONDS="0.2",
        CRM_PDF_POLL_SECONDS="1",
        CRM_PDF_TIMEOUT_SECONDS="3",  # claims last 6 x 3 + 10 s: a lost claim is retried soon
    )
    load_demo(env)
    company = await company_id("Customer #A")
    outcomes: dict[str, str] = {}
    with serving(env) as (base, _):
        login = await Client(base).login("user1")
        token = login.token
        await login.close()
        stop = asyncio.Event()
        killed: list[int] = []
        killer = asyncio.create_task(_killer(stop, killed))
        try:
            async with httpx.AsyncClient(base_url=base, timeout=30) as http:

                async def worker(n: int) -> None:
                    # On, within a bound, until the faults have bitten: on a quiet machine
                    # the first invoices can all be made before the killer's second round.
                    i = 0
                    while i < PER_CLIENT or (sum(killed) < 5 and i < PER_CLIENT * 8):
                        reference = f"fault-{n}-{i}"
                        outcomes[reference] = await _create(http, token, reference, company)
                        i += 1

                await asyncio.gather(*(worker(n) for n in range(CLIENTS)))
        finally:
            stop.set()
            await killer
        # The faults happened, and both kinds of outcome were seen
        assert sum(killed) >= 5, killed
        failures = {ref: code for ref, code in outcomes.items() if code != "ok"}
        assert failures, "no request failed: the fault did not bite"
        assert len(failures) < len(outcomes), outcomes
        # Once the render queue has caught up (the server keeps running)...
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not await Invoice.filter(pdf_status=InvoicePdfStatus.PENDING).exists():
                break
            await asyncio.sleep(0.2)
    # Unknown to the client: the server said so, or the connection broke under the answer.
    unknown = {
        ref
        for ref, code in failures.items()
        if code == "OUTCOME_UNKNOWN" or code.startswith("transport:")
    }
    invoices = {i.reference: i for i in await Invoice.filter(reference__startswith="fault-")}
    # ...every success is an invoice, every reported failure left nothing behind
    for reference, code in outcomes.items():
        if code == "ok":
            assert reference in invoices, reference
        elif reference not in unknown:
            assert reference not in invoices, (reference, code)
    # every committed invoice has its PDF, with its bytes
    for invoice in invoices.values():
        assert invoice.pdf_status == InvoicePdfStatus.READY, (invoice.reference, invoice.pdf_error)
        pdf = await StoredFile.get(
            owner_kind=FileOwner.INVOICE, owner_id=invoice.id, generated=True
        )
        data = await files.read_bytes(pdf)
        assert data.startswith(b"%PDF-")
        assert hashlib.sha256(data).hexdigest() == pdf.sha256
    # and no file row lacks bytes, no bytes lack a row
    report = await file_maintenance.sweep(dry_run=True, grace_seconds=0)
    assert report.missing_file_ids == [] and report.blobs_removed == []
    # (the demo's Submitted invoice has its PDF too: count per invoice)
    owners = await StoredFile.filter(owner_kind=FileOwner.INVOICE).values_list(
        "owner_id", flat=True
    )
    assert set(owners) <= set(await Invoice.all().values_list("id", flat=True))
    fault_ids = {i.id for i in invoices.values()}
    assert sum(1 for owner in owners if owner in fault_ids) == len(invoices)
    assert await FileBlob.filter(seq=0).count() == len(owners)
