"""Who may see, attach and delete files.

A file is visible when its owner is: the rule is written per owner kind as "owner id
in (the owners this viewer can see)", one SQL condition, so it follows the owner's
current company (a contact moved to another company takes its files along) and a file
whose owner is gone is visible to nobody. Kinds without a rule here are invisible; lead
files follow the lead rule, which does not need CR. The invoice logo of CRM setup is
printed on every invoice, so every CRM user may download it.

Attaching needs edit access to the owner's company; deleting needs to be the
uploader (still with edit access), CM over the (visible) company, or a superadmin.
An invoice's files follow the invoice edit rule instead (SPEC §2, §6): attaching is
editing the invoice; deleting is editing it as the uploader or with IM."""

from __future__ import annotations

from collections.abc import Callable

from tortoise.expressions import Q, Subquery

from crm_graphql.models.companies import Company
from crm_graphql.models.contacts import Contact
from crm_graphql.models.contracts import Contract
from crm_graphql.models.files import FileOwner, StoredFile
from crm_graphql.models.invoices import Invoice
from crm_graphql.models.leads import Lead
from crm_graphql.models.setup import CrmSetup
from crm_graphql.permissions.companies import (
    NOTHING,
    can_edit_company,
    can_manage_company,
    editable_companies_q,
    visible_companies_q,
)
from crm_graphql.permissions.contracts import visible_contracts_q
from crm_graphql.permissions.invoices import (
    can_edit_invoice,
    editable_invoices_q,
    visible_invoices_q,
)
from crm_graphql.permissions.leads import can_edit_lead, visible_leads_q
from crm_graphql.services.auth import Viewer


def _companies(viewer: Viewer) -> Subquery:
    return Subquery(Company.filter(visible_companies_q(viewer)).values("id"))


def _contacts(viewer: Viewer) -> Subquery:
    return Subquery(Contact.filter(company_id__in=_companies(viewer)).values("id"))


def _contracts(viewer: Viewer) -> Subquery:
    return Subquery(Contract.filter(visible_contracts_q(viewer)).values("id"))


def _invoices(viewer: Viewer) -> Subquery:
    return Subquery(Invoice.filter(visible_invoices_q(viewer)).values("id"))


def _setup(viewer: Viewer) -> Subquery:
    if not (viewer.is_superadmin or viewer.has("CR")):
        return Subquery(CrmSetup.filter(NOTHING).values("id"))
    return Subquery(CrmSetup.all().values("id"))


def _leads(viewer: Viewer) -> Subquery:
    return Subquery(Lead.filter(visible_leads_q(viewer)).values("id"))


# Per owner kind: the ids of the owners the viewer can see, as a subquery.
VISIBLE_OWNERS: dict[FileOwner, Callable[[Viewer], Subquery]] = {
    FileOwner.COMPANY: _companies,
    FileOwner.CONTACT: _contacts,
    FileOwner.CONTRACT: _contracts,
    FileOwner.INVOICE: _invoices,
    FileOwner.SETUP: _setup,
    FileOwner.LEAD: _leads,
}


def visible_files_q(viewer: Viewer | None, kinds: tuple[FileOwner, ...] | None = None) -> Q:
    """Files whose owner the viewer can see (optionally only of some owner kinds)."""
    if viewer is None:
        return NOTHING
    parts = [
        Q(owner_kind=kind, owner_id__in=owners(viewer))
        for kind, owners in VISIBLE_OWNERS.items()
        if kinds is None or kind in kinds
    ]
    return Q(*parts, join_type="OR") if parts else NOTHING


def can_delete_file(viewer: Viewer, company: Company | None, file: StoredFile) -> bool:
    """`company` is the owner's company, already known to be visible (None: unknown)."""
    if viewer.is_superadmin:
        return True
    if company is None or not can_edit_company(viewer, company):
        return False
    return can_manage_company(viewer, company) or file.uploader_id == viewer.user.id


def can_delete_lead_file(viewer: Viewer, lead: Lead, file: StoredFile) -> bool:
    """For a visible lead: its editors who uploaded the file, LM, or superadmins."""
    if viewer.is_superadmin or viewer.has("LM"):
        return True
    return can_edit_lead(viewer, lead) and file.uploader_id == viewer.user.id


def can_delete_invoice_file(viewer: Viewer, invoice: Invoice, file: StoredFile) -> bool:
    """For a visible invoice: who may edit it, as the file's uploader or with IM."""
    if viewer.is_superadmin:
        return True
    if not can_edit_invoice(viewer, invoice):
        return False
    return viewer.has("IM") or file.uploader_id == viewer.user.id


# The delete rules in SQL, for files the viewer can already see (the compiled read
# path's viewerCan): per owner kind, the files whose owner allows it, as the functions
# above decide it over the owner the resolver loads.


def _uploaded(viewer: Viewer) -> Q:
    return Q(uploader_id=viewer.user.id)


def _company_files_deletable(viewer: Viewer, kind: FileOwner) -> Q:
    """can_delete_file over the owner's company (visible, as the file is)."""
    editable = Subquery(Company.filter(editable_companies_q(viewer)).values("id"))
    if kind == FileOwner.CONTACT:
        editable = Subquery(Contact.filter(company_id__in=editable).values("id"))
    elif kind == FileOwner.CONTRACT:
        editable = Subquery(Contract.filter(company_id__in=editable).values("id"))
    owned = Q(owner_kind=kind, owner_id__in=editable)
    # can_manage_company reads only the viewer.
    return owned if can_manage_company(viewer, Company()) else owned & _uploaded(viewer)


def _lead_files_deletable(viewer: Viewer) -> Q:
    """can_delete_lead_file: LM, else editing the lead (LW, its owner) as the uploader."""
    if viewer.has("LM"):
        return Q(owner_kind=FileOwner.LEAD)
    if not viewer.has("LW"):
        return NOTHING
    owned = Subquery(Lead.filter(owner_id=viewer.user.id).values("id"))
    return Q(owner_kind=FileOwner.LEAD, owner_id__in=owned) & _uploaded(viewer)


def _invoice_files_deletable(viewer: Viewer) -> Q:
    """can_delete_invoice_file: editing the invoice, with IM or as the uploader."""
    if viewer.has("IM"):  # can_edit_invoice holds with IM
        return Q(owner_kind=FileOwner.INVOICE)
    editable = Subquery(Invoice.filter(editable_invoices_q(viewer)).values("id"))
    return Q(owner_kind=FileOwner.INVOICE, owner_id__in=editable) & _uploaded(viewer)


def deletable_files_q(viewer: Viewer) -> Q:
    """The visible files the viewer may delete (`viewerCan { delete }`), in SQL."""
    if viewer.is_superadmin:
        return Q()
    parts = [_lead_files_deletable(viewer), _invoice_files_deletable(viewer)]
    parts += [
        _company_files_deletable(viewer, kind)
        for kind in (FileOwner.COMPANY, FileOwner.CONTACT, FileOwner.CONTRACT)
    ]
    return Q(*parts, join_type="OR")
