"""Bearer tokens (login sessions and integrators' API tokens) and login attempts.

Both live in the database, not in process memory, so any number of server processes
can share them."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from crm_graphql.models.users import User


class TokenKind(StrEnum):
    SESSION = "SESSION"
    API = "API"


class TokenScope(StrEnum):
    FULL = "FULL"
    LEADS_CREATE = "LEADS_CREATE"


class AuthToken(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "crm.User", related_name="tokens", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(TokenKind, max_length=10)
    name = fields.CharField(max_length=100, default="")
    scope = fields.CharEnumField(TokenScope, max_length=20, default=TokenScope.FULL)
    # SHA-256 of the secret: tokens are 256-bit random, so a fast hash is enough.
    token_hash = fields.CharField(max_length=64, unique=True)
    prefix = fields.CharField(max_length=16, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    last_used_at = fields.DatetimeField(null=True)

    user_id: int

    class Meta:
        table = "auth_tokens"
        ordering = ["id"]


class LoginAttempt(Model):
    """One row per login call. Failed rows inside the window count against the limit."""

    # Written after the password check (a rate-limited call writes none).

    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=60)
    address = fields.CharField(max_length=64)
    succeeded = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "login_attempts"
        indexes = (("username", "created_at"), ("address", "created_at"))
