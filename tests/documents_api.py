"""Printed documents for tests: invoice PDFs and their text, contract templates and
the PDFs made from them, a tiny image."""

from __future__ import annotations

import base64
import subprocess
import tempfile
from typing import Any

from crm_graphql.models.files import FileOwner, StoredFile
from crm_graphql.services import files

CREATE = """mutation($input: InvoiceCreateInput!) { invoiceCreate(input: $input) {
  invoice { id billId version } pdfReplaced errors { field code message } } }"""
TEMPLATE_CREATE = """mutation($input: ContractTemplateCreateInput!) {
  contractTemplateCreate(input: $input) { template { id name version } errors { field code } } }"""
GENERATE = """mutation($c: ID!, $t: ID!) { contractGeneratePdf(contractId: $c, templateId: $t) {
  file { id originalName contentType size } errors { field code message } } }"""

PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-"), data[:20]
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(data)
        handle.flush()
        out = subprocess.run(
            ["pdftotext", "-layout", handle.name, "-"], capture_output=True, check=True
        )
    return out.stdout.decode()


async def invoice_pdfs(invoice_id: Any) -> list[StoredFile]:
    return await StoredFile.filter(
        owner_kind=FileOwner.INVOICE, owner_id=int(invoice_id), generated=True
    )


def file_bytes(row: StoredFile) -> bytes:
    return files.open_for_download(row).read_bytes()
