"""Audit log: who did what to which object, when, and what changed (SPEC §9)."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class AuditEntry(Model):
    id = fields.IntField(primary_key=True)
    # No foreign key: the log outlives deleted users and objects.
    user_id = fields.IntField(null=True)
    username = fields.CharField(max_length=60, default="")
    action = fields.CharField(max_length=20)
    object_type = fields.CharField(max_length=60)
    object_id = fields.CharField(max_length=60, default="")
    changes: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    request_id = fields.CharField(max_length=40, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "audit_log"
        ordering = ["id"]
        indexes = (("object_type", "object_id"), ("created_at",))
