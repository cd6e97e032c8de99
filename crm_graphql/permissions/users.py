"""Who may see and change users, profiles, groups and tokens."""

from __future__ import annotations

from tortoise.expressions import Q

from crm_graphql.models.users import User
from crm_graphql.services.auth import Viewer


def visible_users_q(viewer: Viewer) -> Q:
    """Users a viewer may list: everyone with UM (or superadmin), else only themselves."""
    if viewer.has("UM"):
        return Q()
    return Q(id=viewer.user.id)


def can_manage_user(viewer: Viewer, target: User) -> bool:
    """UM manages users, but only a superadmin touches a superadmin account."""
    if not viewer.has("UM"):
        return False
    return viewer.is_superadmin or not target.is_superadmin


def can_grant_superadmin(viewer: Viewer) -> bool:
    return viewer.is_superadmin
