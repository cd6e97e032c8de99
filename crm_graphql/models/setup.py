"""CRM setup (SPEC §8): one row of settings, and the payment methods printed on
invoices. Only superadmins or FM change them."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class CrmSetup(Model):
    id = fields.IntField(primary_key=True)
    invoice_auto_number = fields.BooleanField(default=True)
    # PREFIX[START]SUFFIX, e.g. 21/[1001] or FAC[0100]-B.
    invoice_pattern = fields.CharField(max_length=100, default="[1]")
    invoice_header = fields.TextField(default="")
    invoice_logo_file_id = fields.IntField(null=True)
    invoice_footer = fields.TextField(default="")
    tax_name = fields.CharField(max_length=50, default="VAT")
    default_currency = fields.CharField(max_length=3, default="EUR")
    default_tax_percent = fields.DecimalField(max_digits=7, decimal_places=4, default=21)
    # Leads: progress names by code (missing codes keep their default name), the
    # channels offered, and the days without change after which a lead is stale.
    lead_progress_names: fields.JSONField[dict[str, str]] = fields.JSONField(
        default=dict, db_default="{}"
    )
    lead_channels: fields.JSONField[list[str]] = fields.JSONField(default=list, db_default="[]")
    lead_stale_days = fields.IntField(default=30, db_default=30)
    # Mail: the reference mailbox (CC of every lead mail, read over IMAP).
    mail_reference_address = fields.CharField(max_length=254, default="", db_default="")
    smtp_host = fields.CharField(max_length=255, default="", db_default="")
    smtp_port = fields.IntField(default=25, db_default=25)
    smtp_security = fields.CharField(max_length=10, default="NONE", db_default="NONE")
    smtp_username = fields.CharField(max_length=255, default="", db_default="")
    smtp_password = fields.CharField(max_length=255, default="", db_default="")
    imap_host = fields.CharField(max_length=255, default="", db_default="")
    imap_port = fields.IntField(default=143, db_default=143)
    imap_ssl = fields.BooleanField(default=False, db_default=False)
    imap_username = fields.CharField(max_length=255, default="", db_default="")
    imap_password = fields.CharField(max_length=255, default="", db_default="")
    mail_poll_seconds = fields.IntField(default=300, db_default=300)
    version = fields.IntField(default=1)

    class Meta:
        table = "crm_setup"


class PaymentMethod(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    text = fields.TextField(default="")

    class Meta:
        table = "payment_methods"
        ordering = ["name", "id"]
