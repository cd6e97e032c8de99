"""Invoice access (SPEC §6), on top of view access to the invoice's company.

- IR views and downloads; IR and IW see Submitted invoices read-only.
- IW creates invoices and locks them, and edits Received invoices while they are
  unlocked (or locked by themselves: a locked invoice is changed only by its locker).
- Submitted invoices lock on create and on every edit; only IM unlocks; IM edits any.
- Only IM or superadmins delete, and never a locked invoice.
- Sums of invoices shown outside invoices (company billing, its filter and sort, the
  invoicing statistics of companies) need IR too: `can_see_invoice_sums`."""

from __future__ import annotations

from typing import Any

from strawberry.extensions import FieldExtension
from tortoise.expressions import Q

from crm_graphql.models.invoices import Invoice, InvoiceKind
from crm_graphql.permissions.base import auth
from crm_graphql.permissions.companies import NOTHING, belongs_to_visible_company_q
from crm_graphql.services.auth import Viewer
from crm_graphql.services.listing import has_condition


def visible_invoices_q(viewer: Viewer, via: str | None = None) -> Q:
    """Visible invoices; with `via` ("company"), the company rule read through each
    row's company (see `company_columns_via`)."""
    if viewer.is_superadmin:
        return Q()
    if not viewer.has("IR"):
        return NOTHING
    return belongs_to_visible_company_q(viewer, via=via)


def can_create_invoice(viewer: Viewer) -> bool:
    return viewer.is_superadmin or viewer.has("IW") or viewer.has("IM")


def can_edit_invoice(viewer: Viewer, invoice: Invoice) -> bool:
    if viewer.is_superadmin or viewer.has("IM"):
        return True
    if not viewer.has("IW") or invoice.kind == InvoiceKind.SUBMITTED:
        return False
    return not invoice.locked or invoice.locked_by_id == viewer.user.id


def editable_invoices_q(viewer: Viewer) -> Q:
    """`can_edit_invoice` in SQL, over the invoices' own columns (for visible ones)."""
    if viewer.is_superadmin or viewer.has("IM"):
        return Q()
    if not viewer.has("IW"):
        return NOTHING
    return ~Q(kind=InvoiceKind.SUBMITTED) & (Q(locked=False) | Q(locked_by_id=viewer.user.id))


def can_lock_invoice(viewer: Viewer, invoice: Invoice) -> bool:
    return not invoice.locked and (viewer.is_superadmin or viewer.has("IW") or viewer.has("IM"))


def lockable_invoices_q(viewer: Viewer) -> Q:
    """`can_lock_invoice` in SQL."""
    if not (viewer.is_superadmin or viewer.has("IW") or viewer.has("IM")):
        return NOTHING
    return Q(locked=False)


def can_unlock_invoice(viewer: Viewer, invoice: Invoice) -> bool:
    return invoice.locked and (viewer.is_superadmin or viewer.has("IM"))


def unlockable_invoices_q(viewer: Viewer) -> Q:
    """`can_unlock_invoice` in SQL."""
    return Q(locked=True) if viewer.is_superadmin or viewer.has("IM") else NOTHING


def can_delete_invoice(viewer: Viewer, invoice: Invoice) -> bool:
    return not invoice.locked and (viewer.is_superadmin or viewer.has("IM"))


def deletable_invoices_q(viewer: Viewer) -> Q:
    """`can_delete_invoice` in SQL."""
    return Q(locked=False) if viewer.is_superadmin or viewer.has("IM") else NOTHING


# The bits that show sums of invoices (SPEC §3: billing needs IR). The one place to
# change when the rule or the shape of billing changes.
INVOICE_SUM_BITS = ("IR",)


def can_see_invoice_sums(viewer: Viewer | None) -> bool:
    """Company billing, its filter and sort, and companies' invoicing statistics."""
    if viewer is None:
        return False
    return viewer.is_superadmin or any(viewer.has(bit) for bit in INVOICE_SUM_BITS)


def invoice_sums_field() -> list[FieldExtension]:
    """Extensions of a field that shows invoice sums: null with a FORBIDDEN field error
    without IR (the same rule as `can_see_invoice_sums`, printed as `@auth`)."""
    return auth(*INVOICE_SUM_BITS)


def invoice_sums_used(flt: Any, order_by: Any = None, column: str = "billing_key") -> bool:
    """Whether a company filter or order reveals invoice sums (billing)."""
    ordered = any(getattr(o.field, "value", None) == column for o in order_by or [])
    return ordered or has_condition(flt, "billing")
