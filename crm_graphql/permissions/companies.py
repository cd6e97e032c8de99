"""The company-based access rule (SPEC §2), written once as SQL filters.

Every list, nested relation, count, statistic, export and download of companies, or of
anything that belongs to a company, filters through `visible_companies_q` (or
`visible_company_ids` for related tables), so counts and pages are right in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.expressions import Q, Subquery

from crm_graphql.models.companies import Company
from crm_graphql.models.users import User, UserMode
from crm_graphql.services.auth import Viewer
from crm_graphql.services.orm import lookup_q

NOTHING = Q(id__in=[])


@dataclass(frozen=True)
class CompanyColumns:
    """Where a table keeps what the company rule reads: the companies table itself, or
    a trash entry that keeps a deleted company's columns under other names."""

    id: str = "id"
    manager: str = "manager_id"
    parent: str = "parent_id"
    path: str = "path"


COMPANY_COLUMNS = CompanyColumns()


def visible_companies_q(viewer: Viewer, columns: CompanyColumns = COMPANY_COLUMNS) -> Q:
    """Companies the viewer can see.

    Superadmins: all. Without CR: none. Otherwise a company is visible to its manager,
    and, when it has a parent, to users who belong to it, to colleagues of its manager
    (users of the same company) and to users of any of its ancestors. A STANDALONE
    user sees at most their own company (none when they have no company)."""
    if viewer.is_superadmin:
        return Q()
    if not viewer.has("CR"):
        return NOTHING
    c = columns
    user = viewer.user
    managed = lookup_q({c.manager: user.id})
    own = user.company if user.company_id is not None else None
    has_parent = lookup_q({f"{c.parent}__isnull": False})
    # Standalone first: one with no company sees none, not even companies it manages.
    if user.mode == UserMode.STANDALONE:
        return NOTHING if own is None else lookup_q({c.id: own.id}) & (has_parent | managed)
    if own is None:
        return managed
    colleagues = Subquery(User.filter(company_id=own.id).values("id"))
    descendant = (
        lookup_q({f"{c.path}__startswith": own.path}) & ~lookup_q({c.id: own.id})
        if own.path
        else NOTHING
    )
    return managed | (
        has_parent
        & (lookup_q({c.id: own.id}) | lookup_q({f"{c.manager}__in": colleagues}) | descendant)
    )


def visible_company_ids(viewer: Viewer) -> Subquery:
    """The visible company ids as a subquery, for tables that hold a company_id."""
    return Subquery(Company.filter(visible_companies_q(viewer)).values("id"))


def company_ids_seen_by(viewer: Viewer | None) -> Subquery | None:
    """For filters through a relation to companies (`Relation.visible`): the ids the
    viewer may see; None for a superadmin (all); none without a viewer."""
    if viewer is None:
        return Subquery(Company.filter(NOTHING).values("id"))
    if viewer.is_superadmin:
        return None
    return visible_company_ids(viewer)


def company_columns_via(relation: str, column: str = "company_id") -> CompanyColumns:
    """The company rule's columns read through a row's relation to its company (a join
    per row) instead of the set of every visible id: for rows read a few at a time under
    a parent (the compiled nested reads), where building that set would cost more."""
    return CompanyColumns(
        id=column,
        manager=f"{relation}__manager_id",
        parent=f"{relation}__parent_id",
        path=f"{relation}__path",
    )


def belongs_to_visible_company_q(
    viewer: Viewer, column: str = "company_id", via: str | None = None
) -> Q:
    """Rows whose `column` is a visible company: by the set of visible ids, or, with
    `via` (the relation to the company), by the company rule over the joined row."""
    if viewer.is_superadmin:
        return Q()
    if not viewer.has("CR"):
        return NOTHING
    if via is not None:
        return visible_companies_q(viewer, company_columns_via(via, column))
    return lookup_q({f"{column}__in": visible_company_ids(viewer)})


def editable_companies_q(viewer: Viewer, columns: CompanyColumns = COMPANY_COLUMNS) -> Q:
    """Companies the viewer can edit, in SQL: `can_edit_company` over the visible ones."""
    if viewer.is_superadmin:
        return Q()
    if not viewer.has("CW"):
        return NOTHING
    user = viewer.user
    visible = visible_companies_q(viewer, columns)
    managed = lookup_q({columns.manager: user.id})
    if user.mode == UserMode.STANDALONE:
        return visible & lookup_q({columns.id: user.company_id}) & managed
    if viewer.has("CM"):
        return visible
    return visible & managed


def can_edit_company(viewer: Viewer, company: Company) -> bool:
    """For a company the viewer can already see: CW, and its manager or CM.
    A STANDALONE user edits only their own company, and only as its manager."""
    if viewer.is_superadmin:
        return True
    if not viewer.has("CW"):
        return False
    user = viewer.user
    if user.mode == UserMode.STANDALONE:
        return company.id == user.company_id and company.manager_id == user.id
    return company.manager_id == user.id or viewer.has("CM")


def can_manage_company(viewer: Viewer, company: Company) -> bool:
    """CM over a visible company: manage colleagues' data (files, activities)."""
    return viewer.is_superadmin or (viewer.has("CM") and viewer.user.mode != UserMode.STANDALONE)


def can_delete_company(viewer: Viewer, company: Company) -> bool:
    """CM and edit access; the invoice check is the service's (it needs a query)."""
    return can_edit_company(viewer, company) and (viewer.is_superadmin or viewer.has("CM"))


def can_create_company(viewer: Viewer) -> bool:
    return viewer.is_superadmin or (viewer.has("CW") and viewer.user.mode != UserMode.STANDALONE)


def own_or_visible_companies(viewer: Viewer) -> Any:
    """The companies the viewer can see, and their own (which a company without parent
    hides from its users): what a new lead or template may belong to."""
    if viewer.is_superadmin:
        # A superadmin may set any managing company (SPEC §7); never OR an empty Q().
        return Company.all()
    own = Q(id=viewer.user.company_id) if viewer.user.company_id else NOTHING
    return Company.filter(visible_companies_q(viewer) | own)
