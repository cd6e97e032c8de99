"""Idempotency keys: a client's `Idempotency-Key` header with the request it came with
and the response it got, so a retry of a request whose answer was lost gets the same
answer instead of doing the work twice."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from crm_graphql.models.users import User


class IdempotencyKey(Model):
    """One key of one user. PENDING while its request runs (`lease_until` bounds how
    long a crashed request keeps it); DONE, with the response, in the same transaction
    as the request's writes."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "crm.User", related_name=False, on_delete=fields.CASCADE
    )
    key = fields.CharField(max_length=255)
    request_hash = fields.CharField(max_length=64)
    done = fields.BooleanField(default=False)
    lease_token = fields.CharField(max_length=32)
    lease_until = fields.DatetimeField()
    response_status = fields.IntField(null=True)
    response_body = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "idempotency_keys"
        unique_together = (("user_id", "key"),)
