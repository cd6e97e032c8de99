"""Invoices. Reads filter through the invoice access rule in SQL (IR on top of the
company rule); writes check the object rule of SPEC §6 on the loaded invoice
(permissions/invoices.py), then call the service in one transaction. A refused change
is a payload error (and an audit entry naming who tried); a forbidden one a FORBIDDEN
error (and a DENIED audit entry)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import strawberry

from crm_graphql.context import Info
from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.models.invoices import Invoice, InvoiceStatus
from crm_graphql.permissions import editable
from crm_graphql.permissions.base import auth
from crm_graphql.permissions.companies import visible_companies_q
from crm_graphql.permissions.contracts import visible_contracts_q
from crm_graphql.permissions.invoices import (
    can_create_invoice,
    can_delete_invoice,
    can_lock_invoice,
    can_unlock_invoice,
    visible_invoices_q,
)
from crm_graphql.resolvers.common import connection, editable_invoice, get_or_404, input_fields
from crm_graphql.resolvers.filtering import filtered_invoices
from crm_graphql.schema.common import Connection, DeletePayload, model_enum, user_errors
from crm_graphql.schema.invoice_filters import (
    INVOICE_DEFAULT_ORDER,
    INVOICE_FILTER_SPEC,
    InvoiceFilter,
    InvoiceOrder,
)
from crm_graphql.schema.invoice_inputs import (
    InvoiceCreateInput,
    InvoiceCurrencyTotals,
    InvoicePayload,
    InvoiceUpdateInput,
)
from crm_graphql.schema.invoices import InvoiceStatusEnum, InvoiceType
from crm_graphql.services import invoices as service
from crm_graphql.services.auth import Viewer
from crm_graphql.services.invoice_statistics import totals_per_currency
from crm_graphql.services.mutations import atomic, refuse_nulls

DEFAULT_ORDER = INVOICE_DEFAULT_ORDER
Described = strawberry.argument
WRITERS = ("IW", "IM")


def visible_invoices(info: Info) -> Any:
    viewer = info.context.require_viewer()
    return Invoice.filter(visible_invoices_q(viewer))


async def _invoice(info: Info, invoice_id: Any) -> Invoice:
    """The invoice when the viewer can see it, read for update (permissions/editable.py)."""
    return await editable.visible_invoice(info.context.require_viewer(), invoice_id)


def _check_edit(info: Info, viewer: Viewer, invoice: Invoice) -> None:
    """FORBIDDEN or CONFLICT when the viewer may not change the invoice."""
    editable.check_edit_invoice(viewer, info.context.deny, invoice)


async def _finish(
    info: Info, operation: str, object_id: Any, result: Any, errors: list[FieldError]
) -> None:
    if errors:
        viewer = info.context.require_viewer()
        await service.record_rejection(
            viewer, operation, object_id, errors, info.context.request_id
        )


@strawberry.type
class InvoicesQuery:
    @strawberry.field(
        description="Invoices you can see (IR, on companies you can see), filtered and "
        "sorted, a page at a time.",
        extensions=auth("IR"),
    )
    async def invoices(
        self,
        info: Info,
        filter: Annotated[InvoiceFilter | None, Described(description="Conditions.")] = None,
        order_by: Annotated[
            list[InvoiceOrder] | None,
            Described(description="Sort keys (default: newest creation date first)."),
        ] = None,
        first: Annotated[
            int | None, Described(description="Page size (default 20, at most 100).")
        ] = None,
        after: Annotated[
            str | None, Described(description="Cursor of the row before the page.")
        ] = None,
    ) -> Connection[InvoiceType]:
        return await connection(
            info,
            visible_invoices(info),
            flt=filter,
            spec=INVOICE_FILTER_SPEC,
            order_by=order_by,
            default_order=DEFAULT_ORDER,
            first=first,
            after=after,
        )

    @strawberry.field(
        description="One invoice you can see (NOT_FOUND otherwise).", extensions=auth("IR")
    )
    async def invoice(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="Its id.")]
    ) -> InvoiceType:
        return await get_or_404(Invoice, visible_invoices(info), id)

    @strawberry.field(
        description="Count, base and total of the invoices you can see that match the "
        "filter, per currency (one SQL aggregate).",
        extensions=auth("IR"),
    )
    async def invoice_totals(
        self,
        info: Info,
        filter: Annotated[
            InvoiceFilter | None, Described(description="Conditions, as for `invoices`.")
        ] = None,
    ) -> list[InvoiceCurrencyTotals]:
        return await currency_totals(filtered_invoices(info, filter))


async def currency_totals(queryset: Any) -> list[InvoiceCurrencyTotals]:
    """The statistics' totals per currency (one aggregate machinery for both)."""
    return [
        InvoiceCurrencyTotals(currency=a.currency, count=a.count, base=a.base, total=a.total)
        for a in await totals_per_currency(queryset)
    ]


@strawberry.type
class InvoicesMutation:
    @strawberry.mutation(
        description="Create an invoice for a company you can see (IW or IM). A Submitted "
        "invoice is locked by you and numbered from CRM setup unless you give a bill ID.",
        extensions=auth(*WRITERS),
    )
    async def invoice_create(
        self,
        info: Info,
        input: Annotated[InvoiceCreateInput, Described(description="The values.")],
    ) -> InvoicePayload:
        viewer = info.context.require_viewer()
        if not can_create_invoice(viewer):
            raise info.context.deny("invoiceCreate", "needs IW or IM")
        data = input_fields(input)
        for name in ("taxes", "issued_on", "currency"):
            if data.get(name, ...) is None:
                data.pop(name)
        data["lines"] = [input_fields(line) for line in input.lines]
        if data.get("taxes") is not None:
            data["taxes"] = [input_fields(t) for t in data["taxes"]]
        invoice, errors = await atomic(
            lambda: service.create_invoice(
                viewer,
                data,
                visible_companies_q(viewer),
                visible_contracts_q(viewer),
                info.context.request_id,
            )
        )
        await _finish(info, "invoiceCreate", "", invoice, errors)
        return InvoicePayload(invoice=invoice, errors=user_errors(errors))

    @strawberry.mutation(
        description="Change an invoice: IM any; IW a Received one while it is unlocked or "
        "locked by you. A Submitted invoice is locked again, by you.",
        extensions=auth(*WRITERS),
    )
    async def invoice_update(
        self,
        info: Info,
        input: Annotated[InvoiceUpdateInput, Described(description="The changes.")],
    ) -> InvoicePayload:
        viewer = info.context.require_viewer()
        data = input_fields(input)
        invoice_id = data.pop("id")
        if data.get("lines") is not None:
            data["lines"] = [input_fields(line) for line in data["lines"]]
        if data.get("taxes") is not None:
            data["taxes"] = [input_fields(t) for t in data["taxes"]]
        for name in ("related_contract_ids", "lines", "taxes"):
            if name in data and data[name] is None:
                data[name] = []

        async def work() -> Invoice:
            invoice = await _invoice(info, invoice_id)
            _check_edit(info, viewer, invoice)
            refuse_nulls(Invoice, data)
            return await service.update_invoice(
                viewer,
                invoice,
                data,
                visible_companies_q(viewer),
                visible_contracts_q(viewer),
                info.context.request_id,
            )

        invoice, errors = await atomic(work)
        await _finish(info, "invoiceUpdate", invoice_id, invoice, errors)
        return InvoicePayload(invoice=invoice, errors=user_errors(errors))

    @strawberry.mutation(
        description="Set the status (whoever may edit the invoice). PAID sets the payment "
        "date (default today); PENDING and CANCELED clear it.",
        extensions=auth(*WRITERS),
    )
    async def invoice_set_status(
        self,
        info: Info,
        id: Annotated[strawberry.ID, Described(description="The invoice.")],
        status: Annotated[InvoiceStatusEnum, Described(description="The new status.")],
        paid_on: Annotated[
            date | None, Described(description="Payment date, with PAID (default today).")
        ] = None,
    ) -> InvoicePayload:
        viewer = info.context.require_viewer()

        async def work() -> Invoice:
            invoice = await _invoice(info, id)
            _check_edit(info, viewer, invoice)
            return await service.set_status(
                viewer, invoice, model_enum(InvoiceStatus, status), paid_on, info.context.request_id
            )

        invoice, errors = await atomic(work)
        await _finish(info, "invoiceSetStatus", id, invoice, errors)
        return InvoicePayload(invoice=invoice, errors=user_errors(errors))

    @strawberry.mutation(
        description="Lock an unlocked invoice (IW or IM): then only you or IM may change it.",
        extensions=auth(*WRITERS),
    )
    async def invoice_lock(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="The invoice.")]
    ) -> InvoicePayload:
        viewer = info.context.require_viewer()

        async def work() -> Invoice:
            invoice = await _invoice(info, id)
            if invoice.locked:
                raise FieldError("id", ErrorCode.CONFLICT, "The invoice is already locked.")
            if not can_lock_invoice(viewer, invoice):
                raise info.context.deny(f"Invoice {invoice.id}", "cannot lock")
            return await service.set_lock(viewer, invoice, True, info.context.request_id)

        invoice, errors = await atomic(work)
        await _finish(info, "invoiceLock", id, invoice, errors)
        return InvoicePayload(invoice=invoice, errors=user_errors(errors))

    @strawberry.mutation(
        description="Render a Submitted invoice's PDF again (e.g. after CRM setup's layout "
        "changed), replacing the previous one (`pdfReplaced`); the invoice itself does not "
        "change. Follows the invoice's edit rule (IM, or whoever holds its lock).",
        extensions=auth(*WRITERS),
    )
    async def invoice_regenerate_pdf(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="The invoice.")]
    ) -> InvoicePayload:
        viewer = info.context.require_viewer()

        async def work() -> Invoice:
            invoice = await editable_invoice(info, id)
            return await service.regenerate_pdf(viewer, invoice, info.context.request_id)

        invoice, errors = await atomic(work)
        await _finish(info, "invoiceRegeneratePdf", id, invoice, errors)
        return InvoicePayload(invoice=invoice, errors=user_errors(errors))

    @strawberry.mutation(
        description="Unlock an invoice. Only invoice managers (IM) unlock.",
        extensions=auth("IM"),
    )
    async def invoice_unlock(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="The invoice.")]
    ) -> InvoicePayload:
        viewer = info.context.require_viewer()

        async def work() -> Invoice:
            invoice = await _invoice(info, id)
            if not invoice.locked:
                raise FieldError("id", ErrorCode.CONFLICT, "The invoice is not locked.")
            if not can_unlock_invoice(viewer, invoice):
                raise info.context.deny(f"Invoice {invoice.id}", "cannot unlock")
            return await service.set_lock(viewer, invoice, False, info.context.request_id)

        invoice, errors = await atomic(work)
        await _finish(info, "invoiceUnlock", id, invoice, errors)
        return InvoicePayload(invoice=invoice, errors=user_errors(errors))

    @strawberry.mutation(
        description="Delete an invoice: IM or superadmins only, and never a locked one.",
        extensions=auth("IM"),
    )
    async def invoice_delete(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="The invoice.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            invoice = await _invoice(info, id)
            if invoice.locked:
                raise FieldError(
                    "id", ErrorCode.CONFLICT, "The invoice is locked: unlock it first."
                )
            if not can_delete_invoice(viewer, invoice):
                raise info.context.deny(f"Invoice {invoice.id}", "not deletable")
            await service.delete_invoice(viewer, invoice, info.context.request_id)

        _, errors = await atomic(work)
        await _finish(info, "invoiceDelete", id, None, errors)
        return DeletePayload(deleted_id=None if errors else id, errors=user_errors(errors))
