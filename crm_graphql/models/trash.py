"""The trash: a deleted company, contact, contract or lead kept as a JSON snapshot.

Deleting really deletes the rows (so every list, count and export is as if deleted) and
stores them here in the same transaction, with what hung on them, until a restore puts
them back with their ids or a purge (or the background purge) forgets them."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from crm_graphql.models.users import User


class TrashType(StrEnum):
    COMPANY = "Company"
    CONTACT = "Contact"
    CONTRACT = "Contract"
    LEAD = "Lead"


class TrashEntry(Model):
    """One deleted record and every row that went with it."""

    id = fields.IntField(primary_key=True)
    object_type = fields.CharEnumField(TrashType, max_length=20)
    object_id = fields.IntField()
    label = fields.CharField(max_length=255, default="")
    # Access columns, named as on the record so the domain's visibility filter applies
    # to the entry as is: the owning (contacts, contracts), managing (leads) or parent
    # (companies) company, the manager (companies) or owner (leads), and `private`.
    company_id = fields.IntField(null=True)
    owner_id = fields.IntField(null=True)
    private = fields.BooleanField(default=False)
    # A company's materialized path: the company rule's "under the viewer's company".
    path = fields.CharField(max_length=1000, default="")
    deleted_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "crm.User", related_name="trash_entries", null=True, on_delete=fields.SET_NULL
    )
    deleted_at = fields.DatetimeField(auto_now_add=True)
    # {table: [row, ...]} in restore order, and the rows pointing at it by a SET NULL key.
    snapshot: dict = fields.JSONField(default=dict)
    # Bytes of the trashed files, kept until purge (`files sweep` leaves them alone).
    stored_names: list = fields.JSONField(default=list)

    deleted_by_id: int | None

    class Meta:
        table = "trash_entries"
        ordering = ["-deleted_at", "-id"]
        indexes = (("object_type", "object_id"), ("deleted_at", "id"))
