"""Field permission classes. Each prints an `@auth` directive into the SDL, so a
change of rule shows in review. They are synchronous and read only what the request
already loaded (the viewer and its bits)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.schema_directive import Location

from crm_graphql.errors import Unauthenticated
from crm_graphql.models.auth import TokenScope
from crm_graphql.services.auth import Viewer


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="auth",
    description=(
        "Who may use this field: an authenticated caller holding any of `anyOf` "
        "(superadmins always), reached with a token of one of `scopes`."
    ),
)
class AuthDirective:
    any_of: list[str] = strawberry.field(description="Permission bits, any one of which is enough.")
    scopes: list[str] = strawberry.field(description="Token scopes accepted.")
    superadmin_only: bool = strawberry.field(description="Only superadmins.")


class Auth(BasePermission):
    """Authenticated, with a token of an accepted scope, holding any of the bits."""

    def __init__(
        self,
        *any_of: str,
        scopes: tuple[TokenScope, ...] = (TokenScope.FULL,),
        superadmin_only: bool = False,
    ) -> None:
        self.any_of = any_of
        self.scopes = scopes
        self.superadmin_only = superadmin_only
        self._directive = AuthDirective(
            any_of=list(any_of),
            scopes=[s.value for s in scopes],
            superadmin_only=superadmin_only,
        )

    @property
    def schema_directive(self) -> object:
        """This instance's `@auth` directive, printed into the SDL."""
        return self._directive

    def refusal(self, viewer: Viewer) -> str | None:
        """Why an authenticated viewer may not use the field; None when it may (the
        compiled read path asks this when it plans, before anything runs)."""
        if viewer.scope not in self.scopes:
            return f"token scope {viewer.scope.value}"
        if self.superadmin_only and not viewer.is_superadmin:
            return "superadmin only"
        if self.any_of and not any(viewer.has(bit) for bit in self.any_of):
            return "needs " + " or ".join(self.any_of)
        return None

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        context = info.context
        viewer = context.viewer
        if viewer is None:
            raise Unauthenticated()
        reason = self.refusal(viewer)
        if reason is not None:
            raise context.deny(info.field_name, reason)
        return True


def auth(
    *any_of: str,
    scopes: tuple[TokenScope, ...] = (TokenScope.FULL,),
    superadmin_only: bool = False,
) -> list[FieldExtension]:
    """Field extensions for `strawberry.field(extensions=auth("UM"))`."""
    return [
        PermissionExtension(
            permissions=[Auth(*any_of, scopes=scopes, superadmin_only=superadmin_only)]
        )
    ]
