"""Access rules for CSV imports: what a viewer (or the command line) may write row by row.

Lives here, not in resolvers/, because both the GraphQL mutation and `crm-graphql import`
need it, and the command line must not reach into the resolver layer."""

from __future__ import annotations

from tortoise.expressions import Q

from crm_graphql.permissions.companies import (
    can_create_company,
    can_edit_company,
    visible_companies_q,
)
from crm_graphql.services.auth import Viewer
from crm_graphql.services.imports.results import Access


def viewer_access(viewer: Viewer) -> Access:
    """What `viewer` may do in an import: the company rule of SPEC §2."""
    return Access(
        user=viewer.user,
        visible=visible_companies_q(viewer),
        can_edit=lambda company: can_edit_company(viewer, company),
        can_create=can_create_company(viewer),
        can_change_manager=viewer.is_superadmin or viewer.has("CM"),
    )


def system_access() -> Access:
    """The command line without --as: every company visible and editable."""
    return Access(
        user=None,
        visible=Q(),
        can_edit=lambda company: True,
        can_create=True,
        can_change_manager=True,
    )
