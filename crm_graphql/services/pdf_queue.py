"""Invoice PDFs, rendered after the invoice commits (SPEC §6; issue 13).

A save marks the invoice's PDF PENDING (`queue_invoice_pdf`, in the save's transaction,
bumping `pdf_seq`); once it commits, the process's render queue is woken. The queue
(started by the app's lifespan) takes due PENDING invoices, claims each for a lease
with a conditional UPDATE (so several workers and machines never render the same one
at once), renders with Chromium outside any transaction or lock, then stores the PDF in
a short transaction that checks `pdf_seq` is unchanged (a newer save's render wins) and
sets READY. A failed render is retried with a doubling delay (`CRM_PDF_RETRY_SECONDS`)
up to `CRM_PDF_MAX_ATTEMPTS`, then FAILED with `pdf_error`. A process that dies while
rendering leaves the claim to expire. The queue also rescans every
`CRM_PDF_POLL_SECONDS` for due renders (other machines' saves, CLI imports, retries).

So the bill-numbering lock is held only for the save, and a hung Chromium delays only
PDFs. `CRM_PDF_WAIT_SECONDS` makes a mutation wait that long for its PDF before
answering (tests; clients that want the PDF in the payload)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.expressions import F

from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.models.files import FileOwner, StoredFile
from crm_graphql.models.invoices import Invoice, InvoiceKind, InvoicePdfStatus
from crm_graphql.models.users import User
from crm_graphql.services.deadline import deadline_scope
from crm_graphql.services.orm import column_values
from crm_graphql.settings import Settings, settings

log = logging.getLogger("crm_graphql.pdf_queue")

# A claim outlives the longest render (a page wait, a new page, the print) with room.
BATCH = 20


@dataclass
class QueueState:
    """What /readyz reports about the renderer of this process."""

    started: int = 0  # queues running in this process
    held: int = 0  # `held()` scopes open: the loops of this process claim nothing
    rendering: dict[int, float] = field(default_factory=dict)  # invoice id -> start
    rendered: int = 0
    failures: int = 0
    last_ok_at: float | None = None
    last_error: str = ""
    last_error_at: float | None = None


state = QueueState()
# Made on first use (the server's one event loop); shared by every queue of the process.
_wake: asyncio.Event | None = None
_progress: asyncio.Event | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _event(name: str) -> asyncio.Event:
    global _wake, _progress
    if name == "wake":
        if _wake is None:
            _wake = asyncio.Event()
        return _wake
    if _progress is None:
        _progress = asyncio.Event()
    return _progress


def wake() -> None:
    """Make the queue look for due renders now."""
    _event("wake").set()


def _progressed() -> None:
    event = _event("progress")
    event.set()
    event.clear()


async def queue_invoice_pdf(invoice: Invoice, config: Settings | None = None) -> None:
    """Ask for the invoice's PDF to be (re)rendered: PENDING now, rendered by the queue
    once the caller's transaction commits. Received invoices have no PDF. Sets
    `invoice.pdf_replaced` (an earlier PDF will be replaced) for the mutation payload."""
    from crm_graphql.services import files

    config = config or settings
    invoice.pdf_replaced = False
    if invoice.kind != InvoiceKind.SUBMITTED:
        if invoice.pdf_status is not None:
            await Invoice.filter(id=invoice.id).update(pdf_status=None, pdf_due_at=None)
            invoice.pdf_status = None
        return
    invoice.pdf_replaced = await StoredFile.filter(
        owner_kind=FileOwner.INVOICE, owner_id=invoice.id, generated=True
    ).exists()
    now = _now()
    await Invoice.filter(id=invoice.id).update(
        pdf_status=InvoicePdfStatus.PENDING,
        pdf_error="",
        pdf_attempts=0,
        pdf_due_at=now,
        pdf_seq=F("pdf_seq") + 1,
    )
    invoice.pdf_status = InvoicePdfStatus.PENDING
    invoice.pdf_error = ""
    invoice.pdf_attempts = 0
    invoice.pdf_due_at = now
    files.on_commit(wake)
    if config.pdf_wait_seconds > 0:
        files.on_commit_async(lambda: settle(invoice, config.pdf_wait_seconds))


async def settle(invoice: Invoice, seconds: float) -> None:
    """Wait up to `seconds` for the invoice's PDF to be READY or FAILED, or for its
    first attempt to fail, and copy its PDF state onto `invoice`."""
    deadline = time.monotonic() + seconds
    while True:
        # Its own deadline: the wait is bounded by `seconds`, not by the request's.
        with deadline_scope(seconds + 5, inherit=False):
            row = await Invoice.filter(id=invoice.id).first().values("pdf_status", "pdf_error")
        if row is None:
            return
        invoice.pdf_status = row["pdf_status"]
        invoice.pdf_error = row["pdf_error"]
        left = deadline - time.monotonic()
        # Settled: READY, FAILED, or a first attempt failed (retried later).
        if row["pdf_status"] != InvoicePdfStatus.PENDING or row["pdf_error"] or left <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_event("progress").wait(), min(left, 0.25))


# ---------------------------------------------------------------------------------------
# Rendering


def _lease(config: Settings) -> timedelta:
    # The longest render: waiting for a page (4 timeouts), a new page, the print.
    return timedelta(seconds=config.pdf_timeout_seconds * 6 + 10)


def _db_scope(config: Settings) -> Any:
    # Background work has no request deadline: bound its statements all the same.
    return deadline_scope(config.query_timeout_seconds or 30, inherit=False)


async def _claim(invoice_id: int, config: Settings) -> bool:
    now = _now()
    claimed = await Invoice.filter(
        id=invoice_id, pdf_status=InvoicePdfStatus.PENDING, pdf_due_at__lte=now
    ).update(pdf_due_at=now + _lease(config))
    return bool(claimed)


async def _record_failure(
    invoice: Invoice, seq: int, message: str, permanent: bool, config: Settings
) -> None:
    attempts = invoice.pdf_attempts + 1
    final = permanent or attempts >= config.pdf_max_attempts
    delay = config.pdf_retry_seconds * 2 ** (attempts - 1)
    await Invoice.filter(id=invoice.id, pdf_seq=seq, pdf_status=InvoicePdfStatus.PENDING).update(
        pdf_status=InvoicePdfStatus.FAILED if final else InvoicePdfStatus.PENDING,
        pdf_error=message[:500],
        pdf_attempts=attempts,
        pdf_due_at=None if final else _now() + timedelta(seconds=delay),
    )


async def render_one(invoice_id: int, config: Settings | None = None) -> bool:
    """Render and store one due invoice PDF if this process can claim it; True when a
    PDF was stored."""
    from crm_graphql.services import documents
    from crm_graphql.services.pdf import RenderError, render_pdf

    config = config or settings
    with _db_scope(config):
        if not await _claim(invoice_id, config):
            return False
        invoice = await Invoice.filter(id=invoice_id).first()
    if invoice is None:
        return False
    seq = invoice.pdf_seq
    state.rendering[invoice_id] = time.monotonic()
    try:
        try:
            data = await render_pdf(await documents.invoice_html(invoice))
        except RenderError as exc:
            state.failures += 1
            state.last_error, state.last_error_at = exc.message, time.monotonic()
            log.warning("invoice %s: PDF render failed: %s", invoice_id, exc.message)
            with _db_scope(config):
                await _record_failure(
                    invoice, seq, exc.message, exc.code == ErrorCode.TOO_LARGE, config
                )
            return False
    finally:
        state.rendering.pop(invoice_id, None)
    state.rendered += 1
    state.last_ok_at = time.monotonic()
    with _db_scope(config):
        return await _store(invoice_id, seq, data, config)


async def _store(invoice_id: int, seq: int, data: bytes, config: Settings) -> bool:
    """Replace the invoice's PDF with `data` if no newer save asked for another."""
    from crm_graphql.services import documents, files

    async with files.file_transaction():
        current = await Invoice.filter(id=invoice_id).select_for_update().first()
        if current is None or current.pdf_seq != seq:
            return False  # deleted, or saved again: that save's render will store
        actor = await User.filter(id=current.locked_by_id).first() if current.locked_by_id else None
        for row in await StoredFile.filter(
            owner_kind=FileOwner.INVOICE, owner_id=invoice_id, generated=True
        ):
            await files.delete(row, actor, config=config)
        try:
            await files.store(
                FileOwner.INVOICE,
                invoice_id,
                current.company_id,
                data,
                documents.invoice_file_name(current.bill_id),
                documents.PDF,
                documents.INVOICE_PDF_DESCRIPTION,
                actor,
                generated=True,
                config=config,
            )
        except FieldError as exc:  # over the upload limit
            await _record_failure(current, seq, exc.message, True, config)
            return False
        await Invoice.filter(id=invoice_id).update(
            pdf_status=InvoicePdfStatus.READY, pdf_error="", pdf_due_at=None
        )
    return True


async def _release_claim(invoice_id: int, config: Settings) -> None:
    """After an error that may have left this process's claim in place: make the
    render due again soon. If even this fails, the claim expires on its own."""
    now = _now()
    try:
        await Invoice.filter(
            id=invoice_id, pdf_status=InvoicePdfStatus.PENDING, pdf_due_at__gt=now
        ).update(pdf_due_at=now + timedelta(seconds=config.pdf_retry_seconds))
    except Exception:
        log.warning("invoice %s: could not release its render claim", invoice_id)


async def _due_ids() -> list[int]:
    return await column_values(
        Invoice.filter(pdf_status=InvoicePdfStatus.PENDING, pdf_due_at__lte=_now())
        .order_by("pdf_due_at", "id")
        .limit(BATCH),
        "id",
    )


async def run_due(config: Settings | None = None) -> int:
    """One pass: render every due PDF (as many at once as the renderer has pages);
    how many were stored."""
    config = config or settings
    slots = asyncio.Semaphore(max(1, config.pdf_pool_size))
    stored = 0

    async def one(invoice_id: int) -> None:
        nonlocal stored
        async with slots:
            try:
                async with asyncio.timeout(_lease(config).total_seconds() - 5):
                    if await render_one(invoice_id, config):
                        stored += 1
            except Exception:  # the database went away: give the claim back for a retry
                log.exception("invoice %s: storing its PDF failed", invoice_id)
                await _release_claim(invoice_id, config)
            finally:
                _progressed()

    while ids := await _due_ids():
        await asyncio.gather(*(one(i) for i in ids))
        if len(ids) < BATCH:
            break
    return stored


async def _next_due_in(config: Settings) -> float:
    row = (
        await Invoice.filter(pdf_status=InvoicePdfStatus.PENDING, pdf_due_at__not_isnull=True)
        .order_by("pdf_due_at")
        .first()
        .values("pdf_due_at")
    )
    if row is None:
        return config.pdf_poll_seconds
    seconds = (row["pdf_due_at"] - _now()).total_seconds()
    return min(max(seconds, 0.05), config.pdf_poll_seconds)


async def _loop(config: Settings) -> None:
    event = _event("wake")
    while True:
        event.clear()
        try:
            if state.held:
                interval = config.pdf_poll_seconds
            else:
                await run_due(config)
                interval = await _next_due_in(config)
        except Exception:  # keep the loop alive; the next pass retries
            log.exception("PDF queue pass failed")
            interval = min(5.0, config.pdf_poll_seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), interval)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """While open, this process's render loops claim nothing, so another process on the
    same database (with its own file store, say) renders every PDF queued meanwhile."""
    state.held += 1
    try:
        yield
    finally:
        state.held -= 1
        wake()


@contextlib.asynccontextmanager
async def running(config: Settings) -> AsyncIterator[None]:
    """Run the render queue while the app runs."""
    task = asyncio.create_task(_loop(config), name="pdf-queue")
    state.started += 1
    try:
        yield
    finally:
        state.started -= 1
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def renderer_report(config: Settings | None = None) -> dict[str, Any]:
    """The renderer's health as this process sees it, without touching Chromium (so
    a frozen browser cannot stall /readyz): `ok`, `idle`, `failing` (the last render
    failed) or `stalled` (a render has run past its timeout)."""
    config = config or settings
    now = time.monotonic()
    oldest = min(state.rendering.values(), default=None)
    if oldest is not None and now - oldest > config.pdf_timeout_seconds:
        status = "stalled"
    elif state.last_error_at is not None and (
        state.last_ok_at is None or state.last_error_at > state.last_ok_at
    ):
        status = "failing"
    elif state.last_ok_at is None:
        status = "idle"
    else:
        status = "ok"
    report: dict[str, Any] = {
        "status": status,
        "queue": "running" if state.started > 0 else "stopped",
        "rendering": len(state.rendering),
        "rendered": state.rendered,
        "failures": state.failures,
    }
    if status == "failing":
        report["lastError"] = state.last_error
    return report
