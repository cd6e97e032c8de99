"""Who sees a trash entry, and so may restore or purge it: who could delete the record
now (SPEC's delete rules), as a SQL filter on `trash_entries`.

An entry keeps the record's access columns under the record's own names (`company_id`,
`owner_id`, `private`), so the domains' filters apply to it unchanged:

- a contact: the viewer can edit its company (`editable_companies_q`), as for
  `contactDelete`;
- a contract: the same, and it passes the contract visibility rule (private contracts);
- a lead: LM (or superadmin) and the lead visibility rule (`visible_leads_q`);
- a company: CM and CW over the company as it was (`editable_companies_q` on the
  entry's copy of its id, manager, parent and path), as for `companyDelete`, or the
  viewer deleted it.

Superadmins see every entry."""

from __future__ import annotations

from functools import reduce
from operator import or_

from tortoise.expressions import Q, Subquery

from crm_graphql.models.companies import Company
from crm_graphql.models.trash import TrashType
from crm_graphql.models.users import UserMode
from crm_graphql.permissions.companies import NOTHING, CompanyColumns, editable_companies_q
from crm_graphql.permissions.contracts import visible_contracts_q
from crm_graphql.permissions.leads import visible_leads_q
from crm_graphql.services.auth import Viewer

# A deleted company's entry: its id, manager and parent under the entry's names.
TRASHED_COMPANY = CompanyColumns(id="object_id", manager="owner_id", parent="company_id")

# The bits that may delete something that goes to the trash.
TRASH_BITS = ("CW", "CM", "LM")


def visible_trash_q(viewer: Viewer) -> Q:
    """The trash entries the viewer may list, restore and purge."""
    if viewer.is_superadmin:
        return Q()
    user = viewer.user
    parts: list[Q] = []
    if viewer.has("CW"):
        editable = Subquery(Company.filter(editable_companies_q(viewer)).values("id"))
        parts.append(Q(object_type=TrashType.CONTACT, company_id__in=editable))
        parts.append(
            Q(object_type=TrashType.CONTRACT, company_id__in=editable) & visible_contracts_q(viewer)
        )
        if viewer.has("CM") and user.mode != UserMode.STANDALONE:
            could_delete = editable_companies_q(viewer, TRASHED_COMPANY)
            parts.append(
                Q(object_type=TrashType.COMPANY) & (Q(deleted_by_id=user.id) | could_delete)
            )
    if viewer.has("LM"):
        parts.append(Q(object_type=TrashType.LEAD) & visible_leads_q(viewer))
    return reduce(or_, parts) if parts else NOTHING
