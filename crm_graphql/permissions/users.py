"""Who may see and change users, profiles, groups and tokens."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from tortoise.expressions import Q

from crm_graphql.errors import Unauthenticated
from crm_graphql.models.users import User
from crm_graphql.services.auth import Viewer


def visible_users_q(viewer: Viewer) -> Q:
    """Users a viewer may list: everyone with UM (or superadmin), else only themselves."""
    if viewer.has("UM"):
        return Q()
    return Q(id=viewer.user.id)


class SelfOrUserManager(BasePermission):
    """A user's own record, or anyone's with UM: for fields that reveal access rights."""

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        if viewer is None:
            raise Unauthenticated()
        if viewer.has("UM") or getattr(source, "id", None) == viewer.user.id:
            return True
        raise info.context.deny(f"User {getattr(source, 'id', '')}.{info.field_name}", "not UM")


def can_manage_user(viewer: Viewer, target: User) -> bool:
    """UM manages users, but only a superadmin touches a superadmin account."""
    if not viewer.has("UM"):
        return False
    return viewer.is_superadmin or not target.is_superadmin


def can_grant_superadmin(viewer: Viewer) -> bool:
    return viewer.is_superadmin
