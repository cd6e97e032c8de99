"""The file stores (issue 13, items 2 and 5): bytes in the database (`file_blobs`, in
chunks, in the file row's transaction), reads from either store, `crm-graphql files
move` both ways while files stay downloadable, `crm-graphql files sweep` reconciling
rows and bytes, and a commit that happened reported as a success even when releasing
the connection fails afterwards."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import subprocess
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from crm_graphql.app import create_app
from crm_graphql.models.files import FileBlob, FileOwner, StoredFile
from crm_graphql.models.invoices import Invoice, InvoicePdfStatus
from crm_graphql.services import files as store
from crm_graphql.services import pdf_queue
from crm_graphql.services.files import maintenance as file_maintenance
from crm_graphql.services.files import transactions
from crm_graphql.settings import settings
from tests.factories import Api, company_id
from tests.files_api import download, upload, uploaded
from tests.invoices_api import seed_input
from tests.uvicorn_servers import CLI

DATABASE = dataclasses.replace(settings, file_store="database")
BIG = os.urandom(store.BLOB_CHUNK * 2 + 12_345)
CREATE = """mutation($input: InvoiceCreateInput!) { invoiceCreate(input: $input) {
  invoice { id pdfStatus } errors { code } } }"""


@pytest.fixture
async def db_store(demo: Api) -> AsyncIterator[Api]:
    """The API of an app whose file store is the database (same database, same users)."""
    app = create_app(DATABASE)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("10.0.0.4", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://db") as http:
            api = Api(http)
            api.tokens = dict(demo.tokens)
            yield api


def on_disk(stored_name: str) -> bool:
    return store.path_of(stored_name).is_file()


async def test_database_store_keeps_bytes_in_chunks_and_serves_them(
    db_store: Api, demo: Api
) -> None:
    customer_a = await company_id("Customer #A")
    # When a file of two and a bit chunks is uploaded to the database store
    file = await uploaded(db_store, "user1", customer_a, content=BIG, name="big.bin")
    row = await StoredFile.get(id=int(file["id"]))
    # Then its bytes are three blob rows, nothing on disk
    sizes = [
        len(r["data"])
        for r in await FileBlob.filter(stored_name=row.stored_name).order_by("seq").values("data")
    ]
    assert sizes == [store.BLOB_CHUNK, store.BLOB_CHUNK, 12_345]
    assert not on_disk(row.stored_name)
    assert file["sha256"] == hashlib.sha256(BIG).hexdigest()
    # and both apps (whatever their own store) serve them whole
    for api in (db_store, demo):
        response = await download(api, "user1", file["downloadUrl"])
        assert response.status_code == 200
        assert response.content == BIG
        assert response.headers["content-length"] == str(len(BIG))
    # When it is deleted, the blobs go in the same transaction
    body = await db_store.data(
        "mutation($id: ID!) { fileDelete(id: $id) { deletedId } }",
        {"id": file["id"]},
        as_user="user1",
    )
    assert body["fileDelete"]["deletedId"] == file["id"]
    assert await FileBlob.filter(stored_name=row.stored_name).count() == 0


async def test_database_store_refuses_too_large_files_and_keeps_no_blob(demo: Api) -> None:
    limits = dataclasses.replace(settings.limits, max_upload_bytes=store.BLOB_CHUNK * 2 + 10)
    app = create_app(dataclasses.replace(DATABASE, limits=limits))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("10.0.0.5", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://db") as http:
            api = Api(http)
            api.tokens = dict(demo.tokens)
            body = await upload(api, "user1", await company_id("Customer #A"), BIG)
    assert body["data"]["fileUpload"]["errors"][0]["code"] == "TOO_LARGE"
    assert await FileBlob.all().count() == 0
    assert await StoredFile.all().count() == 0


async def test_the_logo_and_invoice_pdf_from_the_database_store(db_store: Api) -> None:
    from crm_graphql.services import documents
    from tests.documents_api import PNG_1X1
    from tests.setup_api import upload_logo

    body = await upload_logo(db_store, "admin", PNG_1X1)
    assert "errors" not in body, body
    logo = await StoredFile.get(owner_kind=FileOwner.SETUP)
    assert await FileBlob.filter(stored_name=logo.stored_name).exists()
    assert not on_disk(logo.stored_name)
    body = await db_store.data(
        CREATE, {"input": seed_input(await company_id("Customer #A"))}, as_user="user1"
    )
    invoice = await Invoice.get(id=int(body["invoiceCreate"]["invoice"]["id"]))
    assert 'src="data:image/png;base64,' in await documents.invoice_html(invoice)


async def test_move_to_the_database_and_back_while_files_stay_downloadable(demo: Api) -> None:
    customer_a = await company_id("Customer #A")
    small = await uploaded(demo, "user1", customer_a, content=b"hello", name="a.txt")
    big = await uploaded(demo, "user1", customer_a, content=BIG, name="b.bin")
    names = [(await StoredFile.get(id=int(f["id"]))).stored_name for f in (small, big)]
    assert all(on_disk(n) for n in names)
    # When the files are moved to the database (the command as operators run it)
    env = {**os.environ, "CRM_FILE_STORE": "filesystem"}
    done = await asyncio.to_thread(
        subprocess.run,
        [*CLI, "files", "move", "--to", "database"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Moved 2 file(s) to the database store; 0 were there already." in done.stdout
    # Then the bytes are in the database only, and still downloadable
    assert not any(on_disk(n) for n in names)
    assert await FileBlob.filter(stored_name__in=names, seq=0).count() == 2
    assert (await download(demo, "user1", big["downloadUrl"])).content == BIG
    # Moving again changes nothing
    again = await file_maintenance.move("database", DATABASE)
    assert (again.moved, again.already) == (0, 2)
    # And back to the filesystem
    back = await file_maintenance.move("filesystem", settings)
    assert (back.moved, back.missing_file_ids) == (2, [])
    assert all(on_disk(n) for n in names)
    assert await FileBlob.all().count() == 0
    assert (await download(demo, "user1", small["downloadUrl"])).content == b"hello"
    assert (await download(demo, "user1", big["downloadUrl"])).content == BIG


async def test_sweep_removes_orphans_both_ways_and_renders_lost_pdfs(demo: Api) -> None:
    customer_a = await company_id("Customer #A")
    kept = await uploaded(demo, "user1", customer_a, content=b"kept", name="k.txt")
    lost = await uploaded(demo, "user1", customer_a, content=b"lost", name="l.txt")
    body = await demo.data(CREATE, {"input": seed_input(customer_a)}, as_user="user1")
    invoice_id = int(body["invoiceCreate"]["invoice"]["id"])
    pdf_row = await StoredFile.get(owner_id=invoice_id, generated=True)
    # Given bytes without rows (old and new on disk, a blob, an upload's temporary)...
    old_orphan = store.path_of(store.new_stored_name())
    new_orphan = store.path_of(store.new_stored_name())
    temporary = old_orphan.parent / ".upload-abc.part"
    for path in (old_orphan, new_orphan, temporary):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"orphan")
    an_hour_ago = time.time() - 3700
    os.utime(old_orphan, (an_hour_ago, an_hour_ago))
    os.utime(temporary, (an_hour_ago, an_hour_ago))
    orphan_blob = store.new_stored_name()
    await FileBlob.create(stored_name=orphan_blob, seq=0, data=b"orphan")
    # ...and rows without bytes (an upload, an invoice PDF)
    lost_name = (await StoredFile.get(id=int(lost["id"]))).stored_name
    store.path_of(lost_name).unlink()
    store.path_of(pdf_row.stored_name).unlink()
    # A dry run reports and changes nothing
    dry = await asyncio.to_thread(
        subprocess.run,
        [*CLI, "files", "sweep", "--dry-run"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dry.returncode == 0, dry.stderr
    assert "Would remove 1 unreferenced file(s) on disk, 1 unreferenced database blob(s)" in (
        dry.stdout
    )
    assert f"Rows without bytes: 2 (file ids {lost['id']}, {pdf_row.id})" in dry.stdout
    assert old_orphan.exists() and await FileBlob.filter(stored_name=orphan_blob).exists()
    # When the sweeper runs
    report = await file_maintenance.sweep(settings)
    # Then the old orphans go, the young one (maybe an open upload) stays
    assert report.files_on_disk_removed == [old_orphan.name]
    assert not old_orphan.exists() and new_orphan.exists() and not temporary.exists()
    assert report.blobs_removed == [orphan_blob]
    assert not await FileBlob.filter(stored_name=orphan_blob).exists()
    # the missing bytes are reported; the invoice's PDF is rendered again
    assert report.missing_file_ids == [int(lost["id"]), pdf_row.id]
    assert report.pdfs_requeued == [invoice_id]
    await pdf_queue.settle(await Invoice.get(id=invoice_id), 30)
    invoice = await Invoice.get(id=invoice_id)
    assert invoice.pdf_status == InvoicePdfStatus.READY
    new_pdf = await StoredFile.get(owner_id=invoice_id, generated=True)
    assert on_disk(new_pdf.stored_name)
    assert (await download(demo, "user1", kept["downloadUrl"])).content == b"kept"
    assert (await download(demo, "user1", lost["downloadUrl"])).status_code == 404


async def test_an_error_after_commit_is_still_a_success(demo: Api, monkeypatch: Any) -> None:
    """Releasing the connection fails after COMMIT returned (a terminated backend):
    the client is told the upload worked, and its bytes stay."""
    real = transactions.in_transaction

    class ReleaseFails:
        def __init__(self) -> None:
            self.inner = real()
            self.outermost = not transactions._in_db_transaction()

        async def __aenter__(self) -> Any:
            self.tx = await self.inner.__aenter__()
            return self.tx

        async def __aexit__(self, *exc: Any) -> None:
            await self.inner.__aexit__(*exc)
            if exc[0] is None and self.outermost:
                raise ConnectionResetError("connection lost while releasing")

    monkeypatch.setattr(transactions, "in_transaction", ReleaseFails)
    body = await upload(demo, "user1", await company_id("Customer #A"), b"committed")
    assert "errors" not in body, body
    file = body["data"]["fileUpload"]["file"]
    row = await StoredFile.get(id=int(file["id"]))
    assert store.path_of(row.stored_name).read_bytes() == b"committed"


async def test_a_commit_that_failed_removes_the_new_bytes(demo: Api, monkeypatch: Any) -> None:
    """COMMIT itself fails (nothing committed): the error is reported and the bytes
    written before it are removed."""
    real = transactions.in_transaction
    before = {p for p in store.files_root().rglob("*") if p.is_file()}

    class CommitFails:
        def __init__(self) -> None:
            self.inner = real()
            self.outermost = not transactions._in_db_transaction()

        async def __aenter__(self) -> Any:
            self.tx = await self.inner.__aenter__()
            return self.tx

        async def __aexit__(self, *exc: Any) -> None:
            if exc[0] is None and self.outermost:
                # Nothing is committed; the client is left as after a COMMIT that raised.
                await self.inner.__aexit__(RuntimeError, RuntimeError("x"), None)
                self.tx._finalized = False
                raise ConnectionResetError("connection lost during COMMIT")
            await self.inner.__aexit__(*exc)

    monkeypatch.setattr(transactions, "in_transaction", CommitFails)
    monkeypatch.setattr(transactions, "_commit_status", _aborted)
    body = await upload(demo, "user1", await company_id("Customer #A"), b"rolled back")
    assert body["data"] is None or body["data"]["fileUpload"] is None
    code = body["errors"][0]["extensions"]["code"]
    assert code in ("INTERNAL_SERVER_ERROR", "DATABASE_UNAVAILABLE")
    assert await StoredFile.all().count() == 0
    assert {p for p in store.files_root().rglob("*") if p.is_file()} == before


async def _aborted(xid: int) -> str:
    return "aborted"


async def test_a_cancellation_after_commit_goes_through_and_keeps_the_bytes(
    demo: Api, monkeypatch: Any
) -> None:
    """A task cancelled while its connection is released (after COMMIT returned) is
    cancelled (never swallowed, or a worker could not stop), and its bytes stay."""
    from crm_graphql.models.companies import Company

    real = transactions.in_transaction

    class CancelledOnRelease:
        def __init__(self) -> None:
            self.inner = real()
            self.outermost = not transactions._in_db_transaction()

        async def __aenter__(self) -> Any:
            return await self.inner.__aenter__()

        async def __aexit__(self, *exc: Any) -> None:
            await self.inner.__aexit__(*exc)
            if exc[0] is None and self.outermost:
                raise asyncio.CancelledError

    monkeypatch.setattr(transactions, "in_transaction", CancelledOnRelease)
    company = await Company.get(name="Customer #A")
    made: list[StoredFile] = []
    with pytest.raises(asyncio.CancelledError):
        async with store.file_transaction():
            made.append(
                await store.store(
                    FileOwner.COMPANY, company.id, company.id, b"kept", "k.txt", None, "", None
                )
            )
    assert await StoredFile.filter(id=made[0].id).exists()
    assert store.path_of(made[0].stored_name).read_bytes() == b"kept"
