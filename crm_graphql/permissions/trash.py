"""Who sees a trash entry, and so may restore or purge it: who could delete the record
now (SPEC's delete rules), as a SQL filter on `trash_entries`.

An entry keeps the record's access columns under the record's own names (`company_id`,
`owner_id`, `private`), so the domains' filters apply to it unchanged:

- a contact: the viewer can edit its company (`editable_companies_q`), as for
  `contactDelete`;
- a contract: the same, and it passes the contract visibility rule (private contracts);
- a lead: LM (or superadmin) and the lead visibility rule (`visible_leads_q`);
- a company: CM and CW, and the viewer deleted it or was its manager. The company
  visibility rule reads the company's own row (its id, parent path, members), which is
  gone: the stricter reading, since a deleted company cannot be seen any more.

Superadmins see every entry."""

from __future__ import annotations

from functools import reduce
from operator import or_

from tortoise.expressions import Q, Subquery

from crm_graphql.models.companies import Company
from crm_graphql.models.trash import TrashType
from crm_graphql.models.users import UserMode
from crm_graphql.permissions.companies import NOTHING, editable_companies_q
from crm_graphql.permissions.contracts import visible_contracts_q
from crm_graphql.permissions.leads import visible_leads_q
from crm_graphql.services.auth import Viewer

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
            parts.append(
                Q(object_type=TrashType.COMPANY) & (Q(deleted_by_id=user.id) | Q(owner_id=user.id))
            )
    if viewer.has("LM"):
        parts.append(Q(object_type=TrashType.LEAD) & visible_leads_q(viewer))
    return reduce(or_, parts) if parts else NOTHING
