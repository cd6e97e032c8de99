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


def sees_access_rights(viewer: Viewer, user_id: Any) -> bool:
    """Whether the viewer may read a user's access rights (permissions, assignments):
    their own, or anyone's with UM."""
    return viewer.has("UM") or user_id == viewer.user.id


def access_rights_q(viewer: Viewer) -> Q | bool:
    """`sees_access_rights` in SQL, beside it: the users whose rights the viewer may read
    (True: every user)."""
    if viewer.has("UM"):
        return True
    return Q(id=viewer.user.id)


class SelfOrUserManager(BasePermission):
    """A user's own record, or anyone's with UM: for fields that reveal access rights.
    A refusal is an error (audited), not a null: the compiled read path leaves such a
    row to the executor (`access_rights_q`)."""

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        if viewer is None:
            raise Unauthenticated()
        if sees_access_rights(viewer, getattr(source, "id", None)):
            return True
        raise info.context.deny(f"User {getattr(source, 'id', '')}.{info.field_name}", "not UM")


def can_manage_user(viewer: Viewer, target: User) -> bool:
    """UM manages users, but only a superadmin touches a superadmin account."""
    if not viewer.has("UM"):
        return False
    return viewer.is_superadmin or not target.is_superadmin


def can_grant_superadmin(viewer: Viewer) -> bool:
    return viewer.is_superadmin
