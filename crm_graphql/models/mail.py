"""Lead e-mail (SPEC §7): CRM templates, the outbox of outgoing messages, and what the
poller has filed from the reference mailbox."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from crm_graphql.models.companies import Company
from crm_graphql.models.leads import Lead
from crm_graphql.models.users import User


class MailTemplate(Model):
    """A CRM template: its company's users use it; its creator and CM editors manage it."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    language = fields.CharField(max_length=10, default="")
    subject = fields.CharField(max_length=255, default="")
    company: fields.ForeignKeyNullableRelation[Company] = fields.ForeignKeyField(
        "crm.Company", related_name="mail_templates", null=True, on_delete=fields.CASCADE
    )
    body_html = fields.TextField(default="")
    # Its creator always manages it (SPEC §7), whatever their company.
    creator: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "crm.User", related_name="created_mail_templates", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    company_id: int | None
    creator_id: int | None

    class Meta:
        table = "mail_templates"
        ordering = ["name", "id"]
        unique_together = (("company", "name", "language"),)


class OutgoingState(StrEnum):
    QUEUED = "QUEUED"
    SENT = "SENT"
    FAILED = "FAILED"


class OutgoingMail(Model):
    """A message waiting for (or done with) delivery. Written in the same transaction as
    the lead activity, delivered by the background sender."""

    id = fields.IntField(primary_key=True)
    lead: fields.ForeignKeyNullableRelation[Lead] = fields.ForeignKeyField(
        "crm.Lead", related_name="outgoing_mails", null=True, on_delete=fields.SET_NULL
    )
    sender: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "crm.User", related_name="outgoing_mails", null=True, on_delete=fields.SET_NULL
    )
    mail_from = fields.CharField(max_length=320)
    recipients = fields.JSONField(default=list)
    subject = fields.CharField(max_length=500, default="")
    message_id = fields.CharField(max_length=255, default="")
    # The whole RFC 5322 message, as sent.
    content = fields.BinaryField()
    state = fields.CharEnumField(OutgoingState, max_length=10, default=OutgoingState.QUEUED)
    attempts = fields.IntField(default=0)
    last_error = fields.TextField(default="")
    next_attempt_at = fields.DatetimeField()
    # A sender process holds the row until then (another may take it afterwards).
    claimed_until = fields.DatetimeField(null=True)
    claimed_by = fields.CharField(max_length=64, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)

    lead_id: int | None
    sender_id: int | None

    class Meta:
        table = "outgoing_mails"
        ordering = ["-id"]
        indexes = (("state", "next_attempt_at"),)


class InboundState(StrEnum):
    FILED = "FILED"
    SKIPPED = "SKIPPED"


class InboundMail(Model):
    """A message of the reference mailbox the poller has dealt with, so it is filed once."""

    id = fields.IntField(primary_key=True)
    uidvalidity = fields.BigIntField()
    uid = fields.BigIntField()
    message_id = fields.CharField(max_length=255, default="")
    lead: fields.ForeignKeyNullableRelation[Lead] = fields.ForeignKeyField(
        "crm.Lead", related_name="inbound_mails", null=True, on_delete=fields.SET_NULL
    )
    state = fields.CharEnumField(InboundState, max_length=10)
    reason = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    lead_id: int | None

    class Meta:
        table = "inbound_mails"
        ordering = ["-id"]
        unique_together = (("uidvalidity", "uid"),)
        indexes = (("message_id",),)


class MailboxState(Model):
    """One row: the poller's lease (one poller at a time across processes) and status."""

    id = fields.IntField(primary_key=True)
    lease_holder = fields.CharField(max_length=64, default="")
    lease_until = fields.DatetimeField(null=True)
    last_poll_at = fields.DatetimeField(null=True)
    last_success_at = fields.DatetimeField(null=True)
    last_error = fields.TextField(default="")
    filed_total = fields.IntField(default=0)

    class Meta:
        table = "mailbox_state"
