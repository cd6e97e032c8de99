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
