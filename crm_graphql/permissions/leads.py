"""Lead access (SPEC §7), decided once here.

- Without any of LR, LW or LM a user sees no lead (superadmins see all).
- With one of them, a lead is visible to its owner, to users who can view its managing
  company (the company rule, which itself needs CR), to LM holders who belong to the
  owner's company (colleagues; not STANDALONE users), and, while it has neither owner
  nor managing company (the pool web forms fill), to every lead user.
- The owner edits, closes and takes notes with LW; LM edits any lead it can see.
- An unowned visible lead can be taken by anyone with LW (or LM).
- Deleting needs LM (or superadmin).
- Mail is sent from a lead by its owner, LM or a superadmin."""

from __future__ import annotations

from tortoise.expressions import Q, Subquery

from crm_graphql.models.leads import Lead
from crm_graphql.models.users import User, UserMode
from crm_graphql.permissions.companies import NOTHING, visible_company_ids
from crm_graphql.services.auth import Viewer
from crm_graphql.services.orm import lookup_q

LEAD_BITS = ("LR", "LW", "LM")


def is_lead_user(viewer: Viewer) -> bool:
    return viewer.is_superadmin or any(viewer.has(bit) for bit in LEAD_BITS)


def visible_leads_q(viewer: Viewer, prefix: str = "") -> Q:
    """Leads the viewer can see; `prefix` reaches them through a relation."""
    if viewer.is_superadmin:
        return Q()
    if not is_lead_user(viewer):
        return NOTHING
    user = viewer.user
    seen = lookup_q({f"{prefix}owner_id": user.id}) | lookup_q(
        {f"{prefix}owner_id__isnull": True, f"{prefix}company_id__isnull": True}
    )
    if viewer.has("LM") and user.company_id is not None and user.mode != UserMode.STANDALONE:
        # LM colleagues: leads owned by users of the viewer's company (SPEC §7). A
        # standalone user has no colleagues (the stricter reading where SPEC is silent).
        colleagues = Subquery(User.filter(company_id=user.company_id).values("id"))
        seen |= lookup_q({f"{prefix}owner_id__in": colleagues})
    if viewer.has("CR"):
        seen |= lookup_q({f"{prefix}company_id__in": visible_company_ids(viewer)})
    return seen


def can_edit_lead(viewer: Viewer, lead: Lead) -> bool:
    """For a lead the viewer can already see."""
    if viewer.is_superadmin or viewer.has("LM"):
        return True
    return viewer.has("LW") and lead.owner_id == viewer.user.id


# The same rules in SQL, for leads the viewer can already see (the compiled read path's
# viewerCan): a constant when the viewer alone decides, else the leads it holds for.


def editable_leads(viewer: Viewer) -> Q | bool:
    """can_edit_lead."""
    if viewer.is_superadmin or viewer.has("LM"):
        return True
    return viewer.has("LW") and Q(owner_id=viewer.user.id)


def takeable_leads(viewer: Viewer) -> Q | bool:
    """can_take_lead."""
    if not (viewer.is_superadmin or viewer.has("LW") or viewer.has("LM")):
        return False
    return Q(owner_id__isnull=True)


def deletable_leads(viewer: Viewer) -> Q | bool:
    """can_delete_lead (the viewer alone decides)."""
    return viewer.is_superadmin or viewer.has("LM")


def mailable_leads(viewer: Viewer) -> Q | bool:
    """can_mail_from_lead."""
    if viewer.is_superadmin or viewer.has("LM"):
        return True
    return Q(owner_id=viewer.user.id)


def can_take_lead(viewer: Viewer, lead: Lead) -> bool:
    return lead.owner_id is None and (viewer.is_superadmin or viewer.has("LW") or viewer.has("LM"))


def can_delete_lead(viewer: Viewer, lead: Lead) -> bool:
    return viewer.is_superadmin or viewer.has("LM")


def can_mail_from_lead(viewer: Viewer, lead: Lead) -> bool:
    return viewer.is_superadmin or viewer.has("LM") or lead.owner_id == viewer.user.id


def can_create_lead(viewer: Viewer) -> bool:
    return viewer.is_superadmin or viewer.has("LW") or viewer.has("LM")
