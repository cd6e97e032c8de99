"""Who sees CRM templates and outgoing mail.

- A CRM template (SPEC §7) is used by the users of its managing company; its creator,
  superadmins and CM holders who can edit the managing company manage it (and so see
  it too). Creating one needs CM.
- An outgoing message is seen by its sender, and by FM users and superadmins (the
  people who run the mail setup)."""

from __future__ import annotations

from tortoise.expressions import Q, Subquery

from crm_graphql.models.companies import Company
from crm_graphql.permissions.companies import editable_companies_q
from crm_graphql.services.auth import Viewer


def manageable_templates_q(viewer: Viewer) -> Q:
    """Templates the viewer may change and delete."""
    if viewer.is_superadmin:
        return Q()
    created = Q(creator_id=viewer.user.id)
    if not viewer.has("CM"):
        return created
    editable = Subquery(Company.filter(editable_companies_q(viewer)).values("id"))
    return created | Q(company_id__in=editable)


def visible_templates_q(viewer: Viewer) -> Q:
    """Templates the viewer may see and use: their company's, and those they manage."""
    if viewer.is_superadmin:
        return Q()
    if viewer.user.company_id is None:
        return manageable_templates_q(viewer)
    return Q(company_id=viewer.user.company_id) | manageable_templates_q(viewer)


def visible_outgoing_q(viewer: Viewer) -> Q:
    if viewer.is_superadmin or viewer.has("FM"):
        return Q()
    return Q(sender_id=viewer.user.id)
