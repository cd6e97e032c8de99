"""Who sees CRM templates and outgoing mail.

- A CRM template is seen and used only by users of its managing company (superadmins:
  all); creating, changing and deleting one also needs CM.
- An outgoing message is seen by its sender, and by FM users and superadmins (the
  people who run the mail setup)."""

from __future__ import annotations

from tortoise.expressions import Q

from crm_graphql.models.mail import MailTemplate
from crm_graphql.permissions.companies import NOTHING
from crm_graphql.services.auth import Viewer


def visible_templates_q(viewer: Viewer) -> Q:
    if viewer.is_superadmin:
        return Q()
    if viewer.user.company_id is None:
        return NOTHING
    return Q(company_id=viewer.user.company_id)


def can_manage_template(viewer: Viewer, template: MailTemplate | None = None) -> bool:
    return viewer.is_superadmin or viewer.has("CM")


def visible_outgoing_q(viewer: Viewer) -> Q:
    if viewer.is_superadmin or viewer.has("FM"):
        return Q()
    return Q(sender_id=viewer.user.id)
