"""Who may write and change activities: writing needs edit access to the company;
changing or deleting one needs to be its author (still with edit access) or CM."""

from __future__ import annotations

from tortoise.expressions import Q

from crm_graphql.models.activities import Activity
from crm_graphql.models.companies import Company
from crm_graphql.permissions.companies import (
    can_edit_company,
    can_manage_company,
    company_columns_via,
    editable_companies_q,
)
from crm_graphql.services.auth import Viewer


def can_write_activity(viewer: Viewer, company: Company) -> bool:
    return can_edit_company(viewer, company)


def can_change_activity(viewer: Viewer, company: Company, activity: Activity) -> bool:
    if viewer.is_superadmin:
        return True
    if can_manage_company(viewer, company) and can_edit_company(viewer, company):
        return True
    return activity.author_id == viewer.user.id and can_edit_company(viewer, company)


def changeable_activities_q(viewer: Viewer) -> Q:
    """Activities whose (visible) company allows `can_change_activity`, in SQL: the
    company rule read through the row's `company` relation (a join per row)."""
    if viewer.is_superadmin:
        return Q()
    editable = editable_companies_q(viewer, company_columns_via("company"))
    # can_manage_company reads only the viewer (its company is visible already).
    if can_manage_company(viewer, Company()):
        return editable
    return editable & Q(author_id=viewer.user.id)
