"""Custom fields: one system for companies, contacts, contract types and lead types.

A field belongs to an entity kind (and, for typed entities, to one type through
`owner_id`); its values are rows keyed by (field, object id)."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class CustomFieldEntity(StrEnum):
    COMPANY = "COMPANY"
    CONTACT = "CONTACT"
    CONTRACT = "CONTRACT"
    LEAD = "LEAD"


class CustomFieldKind(StrEnum):
    CHECKBOX = "CHECKBOX"
    COMBO = "COMBO"
    LINKED = "LINKED"
    DATE = "DATE"
    NUMERIC = "NUMERIC"
    TEXT = "TEXT"
    TEXTAREA = "TEXTAREA"


class CustomFieldSection(Model):
    """A block of company custom fields. Fields without one are "Without section"."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    description = fields.CharField(max_length=255, default="")
    position = fields.IntField(default=0)

    class Meta:
        table = "custom_field_sections"
        ordering = ["position", "id"]


class CustomField(Model):
    id = fields.IntField(primary_key=True)
    entity = fields.CharEnumField(CustomFieldEntity, max_length=12)
    # The contract type or lead type the field belongs to; null for companies, contacts.
    owner_id = fields.IntField(null=True)
    section: fields.ForeignKeyNullableRelation[CustomFieldSection] = fields.ForeignKeyField(
        "crm.CustomFieldSection", related_name="fields", null=True, on_delete=fields.SET_NULL
    )
    name = fields.CharField(max_length=100)
    kind = fields.CharEnumField(CustomFieldKind, max_length=10)
    position = fields.IntField(default=0)
    # COMBO: the options. LINKED: "parent value|option" pairs.
    options: fields.JSONField[list[str]] = fields.JSONField(default=list)
    parent: fields.ForeignKeyNullableRelation[CustomField] = fields.ForeignKeyField(
        "crm.CustomField", related_name="children", null=True, on_delete=fields.SET_NULL
    )
    required = fields.BooleanField(default=False)
    show_in_list = fields.BooleanField(default=False)
    version = fields.IntField(default=1)

    section_id: int | None
    parent_id: int | None

    class Meta:
        table = "custom_fields"
        ordering = ["position", "id"]
        unique_together = (("entity", "owner_id", "name"),)


class CustomFieldValue(Model):
    id = fields.IntField(primary_key=True)
    field: fields.ForeignKeyRelation[CustomField] = fields.ForeignKeyField(
        "crm.CustomField", related_name="values", on_delete=fields.CASCADE
    )
    object_id = fields.IntField()
    # Canonical text: "1"/"0", ISO dates, plain decimal numbers, the option as written.
    value = fields.TextField()

    field_id: int

    class Meta:
        table = "custom_field_values"
        unique_together = (("field", "object_id"),)
        indexes = (("object_id", "field_id"),)
