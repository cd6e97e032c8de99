"""Contract templates (SPEC §5): named HTML with macros, rendered to PDF for a contract."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class ContractTemplate(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200, unique=True)
    description = fields.TextField(default="")
    html = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    version = fields.IntField(default=1)

    class Meta:
        table = "contract_templates"
        ordering = ["name", "id"]
