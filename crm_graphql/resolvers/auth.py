"""Login, logout, the viewer and API tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import strawberry
from tortoise import timezone
from tortoise.expressions import F

from crm_graphql.context import Info
from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.ids import id_number
from crm_graphql.models.auth import AuthToken, TokenKind, TokenScope
from crm_graphql.models.users import User
from crm_graphql.permissions.base import auth
from crm_graphql.schema.auth import (
    ApiTokenCreateInput,
    ApiTokenCreatePayload,
    ApiTokenRevokePayload,
    ApiTokenType,
    LoginPayload,
    LogoutPayload,
    PasswordChangePayload,
)
from crm_graphql.schema.common import PayloadErrorCode, UserError, model_enum, user_errors
from crm_graphql.schema.users import UserType
from crm_graphql.services import audit
from crm_graphql.services import auth as auth_service
from crm_graphql.services.mutations import atomic
from crm_graphql.services.passwords import (
    hash_password_async,
    validate_password,
    verify_password_async,
)

_MESSAGES = {
    ErrorCode.INVALID_CREDENTIALS: "Invalid username or password.",
    ErrorCode.RATE_LIMITED: "Too many login attempts. Wait a few minutes and try again.",
}


@strawberry.type
class AuthQuery:
    @strawberry.field(
        description="The authenticated user, with their effective permission bits.",
        extensions=auth(),
        graphql_type=UserType,
    )
    async def viewer(self, info: Info) -> User:
        return info.context.require_viewer().user

    @strawberry.field(
        description="Your API tokens (never their secrets); with `UM`, `all: true` lists "
        "everyone's.",
        extensions=auth(),
        graphql_type=list[ApiTokenType],
    )
    async def api_tokens(
        self,
        info: Info,
        all: Annotated[
            bool, strawberry.argument(description="With `UM`: every user's tokens.")
        ] = False,
    ) -> list[AuthToken]:
        viewer = info.context.require_viewer()
        query = AuthToken.filter(kind=TokenKind.API)
        if not (all and viewer.has("UM")):
            query = query.filter(user_id=viewer.user.id)
        return await query.order_by("id")


@strawberry.type
class AuthMutation:
    @strawberry.mutation(
        description="Exchange a username and password for a bearer token. Wrong credentials "
        "of any kind get the same error. Attempts are limited per username and per address."
    )
    async def login(
        self,
        info: Info,
        username: Annotated[str, strawberry.argument(description="Login name.")],
        password: Annotated[str, strawberry.argument(description="Password.")],
    ) -> LoginPayload:
        ctx = info.context
        outcome = await auth_service.login(
            username[:200], password[:1024], ctx.client_address, ctx.settings
        )
        if outcome.error_code:
            await audit.record(
                None,
                audit.LOGIN_FAILED,
                "User",
                "",
                {"username": username[:60], "reason": outcome.error_code},
                ctx.request_id,
            )
            error = UserError(
                field=None,
                code=PayloadErrorCode(outcome.error_code),
                message=_MESSAGES[outcome.error_code],
            )
            return LoginPayload(token=None, expires_at=None, user=None, errors=[error])
        user = outcome.user
        assert user is not None  # a login without an error code has its user
        await audit.record(user, audit.LOGIN, "User", user.id, {}, ctx.request_id)
        return LoginPayload(
            token=outcome.token,
            expires_at=outcome.expires_at,
            user=user,
            errors=[],
        )

    @strawberry.mutation(
        description="Revoke the token this request was made with (not a web-form token: "
        "that one is revoked by its owner with apiTokenRevoke).",
        extensions=auth(),
    )
    async def logout(self, info: Info) -> LogoutPayload:
        viewer = info.context.viewer
        assert viewer is not None
        await auth_service.revoke_token(viewer.token_id)
        await audit.record(
            viewer.user, audit.LOGOUT, "AuthToken", viewer.token_id, {}, info.context.request_id
        )
        return LogoutPayload(ok=True, errors=[])

    @strawberry.mutation(
        description="Create a named API token for yourself. The secret is in this payload only.",
        extensions=auth(),
    )
    async def api_token_create(
        self,
        info: Info,
        input: Annotated[ApiTokenCreateInput, strawberry.argument(description="The token.")],
    ) -> ApiTokenCreatePayload:
        viewer = info.context.require_viewer()

        async def work() -> tuple[AuthToken, str]:
            name = input.name.strip()
            if not name or len(name) > 100:
                raise FieldError(
                    "name", ErrorCode.INVALID, "Give the token a name of 1 to 100 characters."
                )
            if input.expires_at is not None:
                expires = input.expires_at
                if expires.tzinfo is None:
                    expires = expires.replace(tzinfo=UTC)
                if expires <= datetime.now(UTC):
                    raise FieldError(
                        "expiresAt", ErrorCode.INVALID, "The expiry must be in the future."
                    )
            token, secret = await auth_service.create_api_token(
                viewer.user, name, model_enum(TokenScope, input.scope), input.expires_at
            )
            await audit.record(
                viewer.user,
                audit.CREATE,
                "AuthToken",
                token.id,
                {"name": name, "scope": token.scope.value},
                info.context.request_id,
            )
            return token, secret

        result, errors = await atomic(work)
        if result is None:
            return ApiTokenCreatePayload(api_token=None, secret=None, errors=user_errors(errors))
        token, secret = result
        return ApiTokenCreatePayload(api_token=token, secret=secret, errors=[])

    @strawberry.mutation(
        description="Revoke an API token: your own, or anyone's with `UM`.",
        extensions=auth(),
    )
    async def api_token_revoke(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The token's id.")],
    ) -> ApiTokenRevokePayload:
        viewer = info.context.require_viewer()
        query = AuthToken.filter(kind=TokenKind.API)
        if not viewer.has("UM"):
            query = query.filter(user_id=viewer.user.id)
        number = id_number(id)
        token = await query.filter(id=number).first() if number is not None else None
        if token is None:
            error = FieldError("id", ErrorCode.NOT_FOUND, "No such API token.")
            return ApiTokenRevokePayload(api_token=None, errors=user_errors([error]))
        await auth_service.revoke_token(token.id)
        await audit.record(
            viewer.user,
            audit.UPDATE,
            "AuthToken",
            token.id,
            {"revoked": [False, True]},
            info.context.request_id,
        )
        await token.refresh_from_db()
        return ApiTokenRevokePayload(api_token=token, errors=[])

    @strawberry.mutation(
        description="Change your own password; other sessions stay valid until they expire.",
        extensions=auth(),
    )
    async def viewer_password_change(
        self,
        info: Info,
        current_password: Annotated[str, strawberry.argument(description="Your password now.")],
        new_password: Annotated[
            str, strawberry.argument(description="The new one, at least 8 characters.")
        ],
    ) -> PasswordChangePayload:
        viewer = info.context.require_viewer()
        user = viewer.user
        errors: list[FieldError] = []
        if not await verify_password_async(user.password_hash, current_password[:1024]):
            errors.append(
                FieldError(
                    "currentPassword", ErrorCode.INVALID_CREDENTIALS, "Wrong current password."
                )
            )
        if reason := validate_password(new_password):
            errors.append(FieldError("newPassword", ErrorCode.INVALID, reason))
        if errors:
            return PasswordChangePayload(ok=False, errors=user_errors(errors))
        user.password_hash = await hash_password_async(new_password)
        auth_service.forget_tokens()
        # The viewer's row was read before this request: bump the version in SQL so a
        # concurrent userUpdate's version is not reused.
        await User.filter(id=user.id).update(
            password_hash=user.password_hash, version=F("version") + 1, updated_at=timezone.now()
        )
        await audit.record(
            user, audit.UPDATE, "User", user.id, {"password": "changed"}, info.context.request_id
        )
        return PasswordChangePayload(ok=True, errors=[])
