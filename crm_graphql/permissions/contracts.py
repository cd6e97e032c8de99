"""Contract access: the company rule (SPEC §2) plus the private flag. A private contract
is visible only to the manager of its company and to users who belong to the same
company as that manager. Editing follows the company's edit rule."""

from __future__ import annotations

from tortoise.expressions import Q, Subquery

from crm_graphql.models.companies import Company
from crm_graphql.models.contracts import Contract
from crm_graphql.models.users import User
from crm_graphql.permissions.companies import (
    NOTHING,
    belongs_to_visible_company_q,
    can_edit_company,
)
from crm_graphql.services.auth import Viewer
from crm_graphql.services.orm import lookup_q


def visible_contracts_q(viewer: Viewer, via: str | None = None) -> Q:
    """Visible contracts; with `via` ("company"), the same rule read through each row's
    company (a join per row, see `company_columns_via`)."""
    if viewer.is_superadmin:
        return Q()
    if not viewer.has("CR"):
        return NOTHING
    user = viewer.user
    # Companies whose manager is the viewer or a user of the viewer's company.
    colleagues = (
        Subquery(User.filter(company_id=user.company_id).values("id"))
        if user.company_id is not None
        else None
    )
    if via is not None:
        manager = f"{via}__manager_id"
        insider = lookup_q({manager: user.id})
        if colleagues is not None:
            insider |= lookup_q({f"{manager}__in": colleagues})
        return belongs_to_visible_company_q(viewer, via=via) & (Q(private=False) | insider)
    insiders = Company.filter(manager_id=user.id)
    if colleagues is not None:
        insiders = Company.filter(Q(manager_id=user.id) | Q(manager_id__in=colleagues))
    not_private = Q(private=False) | Q(company_id__in=Subquery(insiders.values("id")))
    return belongs_to_visible_company_q(viewer) & not_private


def can_edit_contract(viewer: Viewer, company: Company, contract: Contract) -> bool:
    return can_edit_company(viewer, company)


def contract_ids_seen_by(viewer: Viewer | None) -> Subquery | None:
    """For filters through a relation to contracts: the ids the viewer may see (private
    ones included only where allowed); None for a superadmin; none without a viewer."""
    if viewer is None:
        return Subquery(Contract.filter(NOTHING).values("id"))
    if viewer.is_superadmin:
        return None
    return Subquery(Contract.filter(visible_contracts_q(viewer)).values("id"))
