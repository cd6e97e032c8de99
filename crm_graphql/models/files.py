"""Attachments of any CRM object. Bytes live under the data directory with generated
names; the original name is metadata only."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from crm_graphql.models.users import User


class FileOwner(StrEnum):
    COMPANY = "COMPANY"
    CONTACT = "CONTACT"
    CONTRACT = "CONTRACT"
    INVOICE = "INVOICE"
    LEAD = "LEAD"
    SETUP = "SETUP"  # the invoice logo of CRM setup


class StoredFile(Model):
    id = fields.IntField(primary_key=True)
    owner_kind = fields.CharEnumField(FileOwner, max_length=10)
    owner_id = fields.IntField()
    # The company the owner belongs to, so the company access rule applies in SQL.
    company_id = fields.IntField(null=True)
    original_name = fields.CharField(max_length=255)
    stored_name = fields.CharField(max_length=80, unique=True)
    content_type = fields.CharField(max_length=120, default="application/octet-stream")
    size = fields.BigIntField()
    sha256 = fields.CharField(max_length=64)
    description = fields.CharField(max_length=255, default="")
    uploader: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "crm.User", related_name="files", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    # Made by the server (an invoice's PDF), not uploaded: the next one replaces it.
    generated = fields.BooleanField(default=False, db_default=False)

    uploader_id: int | None

    class Meta:
        table = "files"
        ordering = ["id"]
        indexes = (("owner_kind", "owner_id"),)


class FileBlob(Model):
    """File bytes kept in the database (the `database` file store, shared by every
    instance): one row per chunk of at most `services.files.storage.BLOB_CHUNK` bytes. No
    foreign key to `files`: bytes are written before their row, and the sweeper
    (`crm-graphql files sweep`) reconciles orphans either way."""

    id = fields.BigIntField(primary_key=True)
    stored_name = fields.CharField(max_length=80)
    seq = fields.IntField()
    data = fields.BinaryField()

    class Meta:
        table = "file_blobs"
        ordering = ["stored_name", "seq"]
        unique_together = (("stored_name", "seq"),)
