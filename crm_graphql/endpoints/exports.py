"""GET /export/{companies,contacts,contracts,invoices,leads}.csv: the rows the viewer
can see.

Authenticated by the bearer token (the request middleware has resolved it to
`scope["state"]["viewer"]`): no token is a 401, a viewer without CR (leads: without LR,
LW or LM) or a token of a narrower scope a 403, both as JSON errors like /graphql's.
The optional `filter` query parameter holds a CompanyFilter / ContactFilter / ...
written as in a GraphQL variable (JSON, camelCase): it is validated and converted by
the schema itself, so it accepts exactly what the matching query accepts; a bad one is
a 400 naming the problem.

The body is streamed: keyset pages of `EXPORT_PAGE` rows, each turned into CSV
(services/csvio.py: UTF-8, header, RFC 4180 quoting, formulas neutralised). `bom=1`
starts the file with a UTF-8 byte order mark, for spreadsheets that need one."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from tortoise.expressions import Q

from crm_graphql.errors import ErrorCode, QueryTimeout
from crm_graphql.ids import id_number, shown
from crm_graphql.models.auth import TokenScope
from crm_graphql.models.companies import Company
from crm_graphql.models.contacts import Contact
from crm_graphql.models.contracts import Contract
from crm_graphql.models.leads import Lead
from crm_graphql.permissions.companies import belongs_to_visible_company_q, visible_companies_q
from crm_graphql.permissions.contracts import visible_contracts_q
from crm_graphql.permissions.invoices import can_see_invoice_sums, invoice_sums_used
from crm_graphql.permissions.leads import LEAD_BITS, visible_leads_q
from crm_graphql.schema.companies import COMPANY_FILTER_SPEC, CompanyFilter
from crm_graphql.schema.contacts import CONTACT_FILTER_SPEC, ContactFilter
from crm_graphql.schema.contracts import CONTRACT_FILTER_SPEC, ContractFilter, default_status_q
from crm_graphql.schema.filterjson import BadFilter, parse_filter
from crm_graphql.schema.leads import LEAD_FILTER_SPEC, LeadFilter, default_open_q
from crm_graphql.services import audit
from crm_graphql.services.csvio import CsvEncoder
from crm_graphql.services.exports.companies import CompanyExport
from crm_graphql.services.exports.contacts import ContactExport
from crm_graphql.services.exports.contracts import ContractExport
from crm_graphql.services.exports.leads import LeadExport
from crm_graphql.services.listing import FilterSpec, ListError, filter_q

log = logging.getLogger("crm_graphql.exports")

BOM = b"\xef\xbb\xbf"


def _error(
    status: int, message: str, code: ErrorCode, headers: dict[str, str] | None = None
) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status, headers=headers)


async def _deny(viewer: Any, what: str, reason: str, request_id: str) -> None:
    await audit.record(viewer.user, audit.DENIED, "Export", what, {"reason": reason}, request_id)


async def _export(
    request: Request,
    what: str,
    exporter: Any,
    visible: Any,
    filter_type: tuple[str, type, FilterSpec, Any],
    extra: Any = None,
    needs: tuple[str, ...] = ("CR",),
) -> Response:
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
    if viewer.scope != TokenScope.FULL:
        await _deny(viewer, what, f"token scope {viewer.scope.value}", request_id)
        return _error(403, "This API token's scope does not allow exports.", ErrorCode.FORBIDDEN)
    if not any(viewer.has(bit) for bit in needs):
        wanted = " or ".join(needs)
        await _deny(viewer, what, f"needs {wanted}", request_id)
        return _error(403, f"Exporting {what} needs the {wanted} permission.", ErrorCode.FORBIDDEN)
    type_name, python_type, spec, model = filter_type
    try:
        flt = parse_filter(
            request.app.state.schema,
            request.query_params.get("filter"),
            type_name,
            python_type,
            request.app.state.config.limits,
        )
        where: Q = visible(viewer)
        if flt is not None:
            where &= filter_q(flt, spec, model=model, viewer=viewer)
        if extra is not None:
            where &= extra(request, flt)
    except (BadFilter, ListError) as exc:
        return _error(400, str(exc), ErrorCode.BAD_USER_INPUT)
    if model is Company and invoice_sums_used(flt) and not can_see_invoice_sums(viewer):
        await _deny(viewer, what, "billing filter needs IR", request_id)
        return _error(403, "Filtering on billing needs the IR permission.", ErrorCode.FORBIDDEN)

    try:
        export = await exporter.load(request)
        if isinstance(export, CompanyExport):
            export.show_billing = can_see_invoice_sums(viewer)
        pages = export.pages(where)
        # The first page is read before the response starts, so a failing query is
        # still a proper error status rather than a truncated file.
        first = await anext(pages, None)
    except QueryTimeout as exc:
        # The export's deadline (CRM_EXPORT_TIMEOUT_SECONDS) passed on the first page.
        return _error(503, exc.message, ErrorCode.TIMEOUT)
    encoder = CsvEncoder()

    async def body() -> AsyncIterator[bytes]:
        start = BOM if request.query_params.get("bom") in ("1", "true") else b""
        yield start + encoder.encode([export.header(), *(first or [])])
        if first is None:
            return
        try:
            async for page in pages:
                yield encoder.encode(page)
        except Exception:
            log.exception("request %s: export of %s failed mid-stream", request_id, what)
            raise

    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{what}.csv"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


def _loader(exporter: Any) -> Any:
    """An exporter whose columns do not depend on the request."""
    return SimpleNamespace(load=lambda request: exporter.load())


async def export_companies(request: Request) -> Response:
    return await _export(
        request,
        "companies",
        _loader(CompanyExport),
        visible_companies_q,
        ("CompanyFilter", CompanyFilter, COMPANY_FILTER_SPEC, Company),
    )


async def export_contacts(request: Request) -> Response:
    return await _export(
        request,
        "contacts",
        _loader(ContactExport),
        belongs_to_visible_company_q,
        ("ContactFilter", ContactFilter, CONTACT_FILTER_SPEC, Contact),
    )


def _id_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or not raw.strip():
        return None
    number = id_number(raw)
    if number is None:
        raise BadFilter(f"{name}: '{shown(raw)}' is not a valid id.")
    return number


def _contract_type_param(request: Request) -> int | None:
    return _id_param(request, "contractType")


def _contract_conditions(request: Request, flt: Any) -> Q:
    """As the contracts query: ACTIVE only unless the filter names a status; with
    `contractType`, only that type's contracts (and its custom fields as columns)."""
    where = default_status_q(flt)
    type_id = _contract_type_param(request)
    if type_id is not None:
        where &= Q(contract_type_id=type_id)
    return where


class _ContractExporter:
    @staticmethod
    async def load(request: Request) -> ContractExport:
        try:
            type_id = _contract_type_param(request)
        except BadFilter:
            type_id = None
        viewer = request.scope.get("state", {}).get("viewer")
        return await ContractExport.load(type_id, visible_contracts_q(viewer))


async def export_contracts(request: Request) -> Response:
    """GET /export/contracts.csv: the columns of SPEC §5, then custom fields. Filters as
    the `contracts` query (ACTIVE only unless the filter has a status condition);
    `contractType=<id>` exports one type with its custom fields named in the header."""
    return await _export(
        request,
        "contracts",
        _ContractExporter,
        visible_contracts_q,
        ("ContractFilter", ContractFilter, CONTRACT_FILTER_SPEC, Contract),
        _contract_conditions,
    )


async def export_invoices(request: Request) -> Response:
    """GET /export/invoices.csv: the invoices the viewer can see (IR on top of the
    company rule), lines, taxes and totals flattened; `filter` is an InvoiceFilter."""
    from crm_graphql.models.invoices import Invoice
    from crm_graphql.permissions.invoices import visible_invoices_q
    from crm_graphql.schema.invoice_filters import INVOICE_FILTER_SPEC, InvoiceFilter
    from crm_graphql.services.invoice_export import InvoiceExport

    viewer = request.scope.get("state", {}).get("viewer")
    if viewer is not None and viewer.scope == TokenScope.FULL and not viewer.has("IR"):
        await _deny(viewer, "invoices", "needs IR", request.scope["state"].get("request_id", ""))
        return _error(403, "Exporting invoices needs the IR permission.", ErrorCode.FORBIDDEN)
    return await _export(
        request,
        "invoices",
        _loader(InvoiceExport),
        visible_invoices_q,
        ("InvoiceFilter", InvoiceFilter, INVOICE_FILTER_SPEC, Invoice),
    )


def _lead_conditions(request: Request, flt: Any) -> Q:
    """As the leads query: open leads only unless the filter asks for closed ones; with
    `leadType`, only that type's leads (and its custom fields as columns)."""
    where = default_open_q(flt)
    type_id = _id_param(request, "leadType")
    if type_id is not None:
        where &= Q(lead_type_id=type_id)
    return where


class _LeadExporter:
    @staticmethod
    async def load(request: Request) -> LeadExport:
        try:
            type_id = _id_param(request, "leadType")
        except BadFilter:
            type_id = None
        viewer = request.scope.get("state", {}).get("viewer")
        return await LeadExport.load(type_id, visible_companies_q(viewer))


async def export_leads(request: Request) -> Response:
    """GET /export/leads.csv: the leads the viewer can see (LR, LW or LM; no CR needed),
    filtered as the `leads` query (`filter` is a LeadFilter; open leads only unless it
    has `showFinished` or a progress condition); `leadType=<id>` exports one type with
    its custom fields as named columns."""
    return await _export(
        request,
        "leads",
        _LeadExporter,
        visible_leads_q,
        ("LeadFilter", LeadFilter, LEAD_FILTER_SPEC, Lead),
        _lead_conditions,
        needs=LEAD_BITS,
    )
