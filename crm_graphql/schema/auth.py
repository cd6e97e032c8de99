"""Types of the authentication domain: login, sessions and API tokens."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from crm_graphql.models.auth import AuthToken, TokenKind, TokenScope
from crm_graphql.models.users import User
from crm_graphql.schema.common import UserError
from crm_graphql.schema.users import UserType


@strawberry.enum(name="TokenScope", description="What a token may be used for.")
class TokenScopeEnum(Enum):
    FULL = strawberry.enum_value(TokenScope.FULL.value, description="Everything its owner may do.")
    LEADS_CREATE = strawberry.enum_value(
        TokenScope.LEADS_CREATE.value, description="Only create leads (for web forms)."
    )


@strawberry.enum(name="TokenKind", description="Where a token came from.")
class TokenKindEnum(Enum):
    SESSION = strawberry.enum_value(TokenKind.SESSION.value, description="login; expires.")
    API = strawberry.enum_value(TokenKind.API.value, description="Created for an integrator.")


@strawberry.type(description="Result of login.")
class LoginPayload:
    token: str | None = strawberry.field(
        description="Bearer token: send it as `Authorization: Bearer <token>`."
    )
    expires_at: datetime | None = strawberry.field(description="When the token stops working.")
    user: User | None = strawberry.field(
        graphql_type=UserType | None, description="The user who logged in."
    )
    errors: list[UserError] = strawberry.field(
        description="INVALID_CREDENTIALS (one message for every wrong username or password) "
        "or RATE_LIMITED."
    )


@strawberry.type(description="Result of logout.")
class LogoutPayload:
    ok: bool = strawberry.field(description="The token used for this request is revoked.")
    errors: list[UserError] = strawberry.field(description="Always empty.")


@strawberry.type(name="ApiToken", description="A bearer token; its secret is never shown again.")
class ApiTokenType:
    id: strawberry.ID = strawberry.field(description="Token id.")
    name: str = strawberry.field(description="What the token is for.")
    kind: TokenKindEnum = strawberry.field(description="SESSION or API.")
    scope: TokenScopeEnum = strawberry.field(description="What the token may do.")
    prefix: str = strawberry.field(description="First characters of the secret, to recognise it.")
    created_at: datetime = strawberry.field(description="Creation time.")
    expires_at: datetime | None = strawberry.field(description="Expiry; null: never.")
    revoked_at: datetime | None = strawberry.field(description="Revocation time, if revoked.")
    last_used_at: datetime | None = strawberry.field(
        description="Last use (updated at most every few minutes)."
    )


@strawberry.input(description="A new API token for the calling user.")
class ApiTokenCreateInput:
    name: str = strawberry.field(description="What the token is for (1 to 100 characters).")
    scope: TokenScopeEnum = strawberry.field(
        default=TokenScopeEnum.FULL, description="What the token may do."
    )
    expires_at: datetime | None = strawberry.field(
        default=None, description="Expiry, in the future; null: never."
    )


@strawberry.type(description="Result of apiTokenCreate.")
class ApiTokenCreatePayload:
    api_token: AuthToken | None = strawberry.field(
        graphql_type=ApiTokenType | None, description="The token's metadata."
    )
    secret: str | None = strawberry.field(
        description="The bearer token itself. Shown only in this response: store it now."
    )
    errors: list[UserError] = strawberry.field(description="Why it was not created.")


@strawberry.type(description="Result of apiTokenRevoke.")
class ApiTokenRevokePayload:
    api_token: AuthToken | None = strawberry.field(
        graphql_type=ApiTokenType | None, description="The revoked token."
    )
    errors: list[UserError] = strawberry.field(description="Why it was not revoked.")


@strawberry.type(description="Result of viewerPasswordChange.")
class PasswordChangePayload:
    ok: bool = strawberry.field(description="The password was changed.")
    errors: list[UserError] = strawberry.field(description="Why it was not changed.")
