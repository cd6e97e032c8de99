"""Several machines (issue 13, item 5): two real uvicorn instances on one PostgreSQL
database, each with its own data directory, serve each other's uploaded files and
invoice PDFs, and put the logo uploaded on one into PDFs rendered on the other: the
bytes live in the database (`CRM_FILE_STORE` defaults to `database` on PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import tempfile
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.conftest import IS_POSTGRES
from tests.documents_api import PNG_1X1
from tests.factories import company_id
from tests.files_api import PDF, multipart
from tests.invoices_api import seed_input
from tests.setup_api import LOGO
from tests.uvicorn_servers import Client, load_demo, server_env, serving

pytestmark = pytest.mark.skipif(not IS_POSTGRES, reason="several instances share PostgreSQL")

CREATE = """mutation($input: InvoiceCreateInput!) { invoiceCreate(input: $input) {
  invoice { id pdfStatus } errors { code } } }"""


def images_in(pdf: bytes) -> int:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(pdf)
        handle.flush()
        listing = subprocess.run(
            ["pdfimages", "-list", handle.name], capture_output=True, text=True, check=True
        ).stdout
    # Two header lines, then one line per image (its alpha channel is an "smask").
    return sum(1 for line in listing.splitlines()[2:] if line.split()[2] == "image")


async def test_two_instances_serve_each_others_files_pdfs_and_logo(tmp_path: Path) -> None:
    env = {
        "CRM_FILE_STORE": "",  # the default: the database, on PostgreSQL
        "CRM_PDF_WAIT_SECONDS": "30",
    }
    first_env = server_env(tmp_path / "a", **env)
    second_env = server_env(tmp_path / "b", **env)
    load_demo(first_env)
    customer_a = await company_id("Customer #A")
    with ExitStack() as stack:
        a_base, _ = stack.enter_context(serving(first_env))
        b_base, _ = stack.enter_context(serving(second_env))
        a = await Client(a_base).login("user1")
        b = await Client(b_base).login("user1")
        admin_a = await Client(a_base).login("admin")
        try:
            # A file uploaded on A is served by B
            variables = {"input": {"ownerKind": "COMPANY", "ownerId": customer_a, "file": None}}
            uploaded = await a.http.post(
                "/graphql",
                headers={"Authorization": f"Bearer {a.token}"},
                **multipart(variables, PDF, "offer.pdf", "application/pdf"),
            )
            file = uploaded.json()["data"]["fileUpload"]["file"]
            from_b = await b.get(file["downloadUrl"])
            assert from_b.status_code == 200, from_b.text
            assert from_b.content == PDF
            # The logo uploaded on A...
            operations = {"query": LOGO, "operationName": "Logo", "variables": {"file": None}}
            logo = await admin_a.http.post(
                "/graphql",
                headers={"Authorization": f"Bearer {admin_a.token}"},
                data={
                    "operations": json.dumps(operations),
                    "map": json.dumps({"0": ["variables.file"]}),
                },
                files={"0": ("logo.png", PNG_1X1, "image/png")},
            )
            assert "errors" not in logo.json(), logo.text
            # ...is in the PDF of an invoice created on B, which A serves too
            for creator, other in ((b, a), (a, b)):
                body = await creator.gql(CREATE, {"input": seed_input(customer_a)})
                invoice = body["data"]["invoiceCreate"]["invoice"]
                assert invoice["pdfStatus"] == "READY", body
                mine = await creator.get(f"/invoices/{invoice['id']}/document")
                theirs = await other.get(f"/invoices/{invoice['id']}/document")
                assert mine.status_code == theirs.status_code == 200, theirs.text
                assert mine.content == theirs.content
                assert mine.content.startswith(b"%PDF-")
                assert await asyncio.to_thread(images_in, theirs.content) == 1
            # Nothing went to either data directory
            for directory in (tmp_path / "a" / "files", tmp_path / "b" / "files"):
                assert not directory.exists() or not any(p.is_file() for p in directory.rglob("*"))
        finally:
            for client in (a, b, admin_a):
                await client.close()
