"""GET /invoices/{id}/document: the invoice's PDF alone, or a ZIP with the PDF and the
invoice's attachments when it has any. Same access as the invoice (`visible_invoices_q`,
in SQL): a hidden invoice is a 404 exactly like a missing one, and the denial goes to
the audit log. Bearer token as for /graphql and /files. An invoice without a PDF
(Received) serves its attachments as a ZIP, or 404 when it has none. While the PDF is
PENDING: 503 PDF_PENDING with Retry-After; when it FAILED: 409 PDF_FAILED with the
reason. The ZIP is written to a temporary file in a worker thread, then streamed and
removed."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import zipfile
from pathlib import PurePosixPath

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from crm_graphql.endpoints.files import (
    _deny,
    _error,
    _file_id,
    bytes_response,
    content_disposition,
)
from crm_graphql.errors import ErrorCode
from crm_graphql.models.auth import TokenScope
from crm_graphql.models.files import FileOwner, StoredFile
from crm_graphql.models.invoices import Invoice, InvoicePdfStatus
from crm_graphql.permissions.invoices import visible_invoices_q
from crm_graphql.services import files as file_store
from crm_graphql.services.documents import PDF
from crm_graphql.settings import Settings, settings

log = logging.getLogger("crm_graphql.documents")

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-cache",
}


def _not_found() -> Response:
    return _error(404, "No such invoice document.", ErrorCode.NOT_FOUND)


def _unique(name: str, taken: set[str]) -> str:
    path = PurePosixPath(name)
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{path.stem} ({n}){path.suffix}"
    taken.add(candidate.lower())
    return candidate


def _write_zip(target: str, entries: list[tuple[str, str | bytes]]) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, source in entries:
            if isinstance(source, bytes):
                archive.writestr(name, source)
            else:
                archive.write(source, name)


def _pdf_not_ready(invoice: Invoice) -> Response:
    """The PDF is being rendered (503, retry shortly) or could not be (409)."""
    if invoice.pdf_status == InvoicePdfStatus.PENDING:
        return _error(
            503,
            "The invoice's PDF is being rendered; try again shortly.",
            ErrorCode.PDF_PENDING,
            {"Retry-After": "2"},
        )
    return _error(
        409,
        f"The invoice's PDF could not be rendered: {invoice.pdf_error or 'unknown error'}",
        ErrorCode.PDF_FAILED,
    )


async def invoice_document(request: Request) -> Response:
    state = request.scope.get("state", {})
    viewer = state.get("viewer")
    request_id = state.get("request_id", "")
    if viewer is None:
        return _error(
            401,
            "Authentication required.",
            ErrorCode.UNAUTHENTICATED,
            {"WWW-Authenticate": "Bearer"},
        )
    config: Settings = getattr(request.app.state, "config", settings)
    raw_id = request.path_params.get("invoice_id", "")
    if viewer.scope != TokenScope.FULL:
        await _deny(viewer, raw_id[:40], f"token scope {viewer.scope.value}", request_id)
        return _error(403, "This API token's scope does not allow downloads.", ErrorCode.FORBIDDEN)
    invoice_id = _file_id(raw_id)
    if invoice_id is None:
        return _not_found()
    invoice = await Invoice.filter(visible_invoices_q(viewer), id=invoice_id).first()
    if invoice is None:
        if await Invoice.filter(id=invoice_id).exists():
            await _deny(viewer, f"invoice {invoice_id}", "not visible", request_id)
        return _not_found()
    if invoice.pdf_status in (InvoicePdfStatus.PENDING, InvoicePdfStatus.FAILED):
        return _pdf_not_ready(invoice)
    rows = await StoredFile.filter(owner_kind=FileOwner.INVOICE, owner_id=invoice.id).order_by("id")
    pdfs = [r for r in rows if r.generated]
    pdf = pdfs[-1] if pdfs else None
    attachments = [r for r in rows if r is not pdf and r not in pdfs]
    try:
        if pdf is not None and not attachments:
            return bytes_response(
                await file_store.open_bytes(pdf, config),
                pdf,
                PDF,
                {"Content-Disposition": content_disposition(pdf.original_name), **HEADERS},
            )
        if pdf is None and not attachments:
            return _not_found()
        taken: set[str] = set()
        entries: list[tuple[str, str | bytes]] = []
        for row in ([pdf] if pdf else []) + attachments:
            opened = await file_store.open_bytes(row, config)
            source = str(opened.path) if opened.path is not None else await opened.read()
            entries.append((_unique(row.original_name, taken), source))
    except (FileNotFoundError, ValueError):
        log.error("request %s: bytes of a file of invoice %s are missing", request_id, invoice.id)
        return _not_found()
    handle, target = tempfile.mkstemp(prefix="invoice-", suffix=".zip")
    os.close(handle)
    try:
        await asyncio.to_thread(_write_zip, target, entries)
    except BaseException:
        os.unlink(target)
        raise
    name = pdf.original_name.removesuffix(".pdf") if pdf else f"invoice_{invoice.id}"
    return FileResponse(
        target,
        media_type="application/zip",
        headers={"Content-Disposition": content_disposition(f"{name}.zip"), **HEADERS},
        background=BackgroundTask(os.unlink, target),
    )
