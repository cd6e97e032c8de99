"""Types, inputs and payloads of CRM setup (SPEC §8): invoice parameters, the invoice
logo and payment methods."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum

import strawberry

from crm_graphql.context import Info
from crm_graphql.models.files import StoredFile
from crm_graphql.models.setup import CrmSetup, PaymentMethod
from crm_graphql.schema.common import UserError
from crm_graphql.services.leads import channels, progress_names
from crm_graphql.services.setup import logo_file


@strawberry.type(name="SetupLogo", description="The image printed on invoices.")
class SetupLogoType:
    id: strawberry.ID = strawberry.field(description="Its file id.")
    original_name: str = strawberry.field(description="The uploaded file's name, sanitised.")
    content_type: str = strawberry.field(
        description="Media type recognised from the bytes: image/png, image/jpeg, image/gif "
        "or image/webp."
    )
    size: int = strawberry.field(description="Size in bytes.")
    sha256: str = strawberry.field(description="SHA-256 of the bytes, in hex.")
    created_at: datetime = strawberry.field(description="When it was uploaded.")


@strawberry.type(name="ProgressName", description="A lead progress code and its name.")
class ProgressNameType:
    code: int = strawberry.field(description="The fixed code.")
    name: str = strawberry.field(description="Its name.")


@strawberry.input(description="A name for a lead progress code.")
class ProgressNameInput:
    code: int = strawberry.field(description="0, 20, 40, 60, 80, 100, 101, 102 or 200.")
    name: str = strawberry.field(description="Its name (1 to 60 characters).")


@strawberry.enum(description="How the SMTP connection is secured.")
class SmtpSecurity(Enum):
    NONE = strawberry.enum_value("NONE", description="Plain SMTP.")
    STARTTLS = strawberry.enum_value("STARTTLS", description="Upgraded with STARTTLS.")
    TLS = strawberry.enum_value("TLS", description="TLS from the start (SMTPS).")


@strawberry.type(name="MailServers", description="Where lead mail goes out and comes in.")
class MailServersType:
    smtp_host: str = strawberry.field(description="SMTP server host (empty: mail is not sent).")
    smtp_port: int = strawberry.field(description="SMTP port.")
    smtp_security: SmtpSecurity = strawberry.field(description="SMTP security.")
    smtp_username: str = strawberry.field(description="SMTP login (empty: none).")
    smtp_password_set: bool = strawberry.field(description="An SMTP password is stored.")
    imap_host: str = strawberry.field(description="IMAP server host (empty: not polled).")
    imap_port: int = strawberry.field(description="IMAP port.")
    imap_ssl: bool = strawberry.field(description="IMAP over TLS.")
    imap_username: str = strawberry.field(description="IMAP login.")
    imap_password_set: bool = strawberry.field(description="An IMAP password is stored.")


@strawberry.type(
    name="CrmSetup",
    description="The installation's settings: invoice numbering and layout, tax and currency "
    "defaults. Superadmins and FM users change them.",
)
class CrmSetupType:
    invoice_auto_number: bool = strawberry.field(
        description="Submitted invoices get the next bill ID of `invoicePattern` when "
        "created without one."
    )
    invoice_pattern: str = strawberry.field(
        description="Bill ID pattern PREFIX[START]SUFFIX, e.g. `21/[1001]` or `FAC[0100]-B`: "
        "numbers start at START and keep its zero padding; a new pattern starts a new "
        "sequence."
    )
    invoice_header: str = strawberry.field(description="Text printed at the top of invoices.")
    invoice_footer: str = strawberry.field(description="Text printed at the bottom of invoices.")
    tax_name: str = strawberry.field(description='Name of the tax on invoices, e.g. "VAT".')
    default_currency: str = strawberry.field(
        description="ISO 4217 code of the currency new invoices get."
    )
    default_tax_percent: Decimal = strawberry.field(
        description="Tax percentage new invoices get (0 to 100)."
    )
    lead_stale_days: int = strawberry.field(
        description="An open lead not changed for more days than this is flagged stale."
    )
    mail_reference_address: str = strawberry.field(
        description="The reference mailbox: copied (CC) on every lead mail and read over "
        "IMAP for replies."
    )
    mail_poll_seconds: int = strawberry.field(
        description="How often the reference mailbox is read, in seconds."
    )
    version: int = strawberry.field(
        description="Changes on every update; send it back with crmSetupUpdate."
    )

    @strawberry.field(description="Progress names by code (codes are fixed).")
    def lead_progress_names(self, root: strawberry.Parent[CrmSetup]) -> list[ProgressNameType]:
        return [
            ProgressNameType(code=code, name=name) for code, name in progress_names(root).items()
        ]

    @strawberry.field(description="The channels a lead can come through.")
    def lead_channels(self, root: strawberry.Parent[CrmSetup]) -> list[str]:
        return channels(root)

    @strawberry.field(
        description="Mail servers (SMTP and IMAP): only for FM users and superadmins "
        "(null for others); passwords are never shown."
    )
    def mail_servers(self, root: strawberry.Parent[CrmSetup], info: Info) -> MailServersType | None:
        viewer = info.context.viewer
        if viewer is None or not (viewer.is_superadmin or viewer.has("FM")):
            return None
        return MailServersType(
            smtp_host=root.smtp_host,
            smtp_port=root.smtp_port,
            smtp_security=SmtpSecurity(root.smtp_security),
            smtp_username=root.smtp_username,
            smtp_password_set=bool(root.smtp_password),
            imap_host=root.imap_host,
            imap_port=root.imap_port,
            imap_ssl=root.imap_ssl,
            imap_username=root.imap_username,
            imap_password_set=bool(root.imap_password),
        )

    @strawberry.field(
        description="The logo printed on invoices, if one was uploaded.",
        graphql_type=SetupLogoType | None,
    )
    async def invoice_logo(self, root: strawberry.Parent[CrmSetup]) -> StoredFile | None:
        found: StoredFile | None = await logo_file(root)
        return found


@strawberry.input(description="Changes to the CRM setup; omitted fields stay as they are.")
class CrmSetupUpdateInput:
    version: int = strawberry.field(
        description="The version you read; the change is refused (STALE) when it is old."
    )
    invoice_auto_number: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Number Submitted invoices automatically."
    )
    invoice_pattern: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Bill ID pattern PREFIX[START]SUFFIX, START made of digits.",
    )
    invoice_header: str | None = strawberry.field(
        default=strawberry.UNSET, description="Invoice header text (at most 10,000 characters)."
    )
    invoice_footer: str | None = strawberry.field(
        default=strawberry.UNSET, description="Invoice footer text (at most 10,000 characters)."
    )
    tax_name: str | None = strawberry.field(
        default=strawberry.UNSET, description="Tax name (1 to 50 characters)."
    )
    default_currency: str | None = strawberry.field(
        default=strawberry.UNSET, description="ISO 4217 currency code, e.g. EUR."
    )
    default_tax_percent: Decimal | None = strawberry.field(
        default=strawberry.UNSET,
        description="Default tax percentage, 0 to 100, at most 4 decimal places.",
    )
    lead_progress_names: list[ProgressNameInput] | None = strawberry.field(
        default=strawberry.UNSET,
        description="Rename progress steps (codes not given keep their names).",
    )
    lead_channels: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="The channels (1 to 30, each 1 to 60 characters)."
    )
    lead_stale_days: int | None = strawberry.field(
        default=strawberry.UNSET, description="Days before an open lead is stale (1 to 3650)."
    )
    mail_reference_address: str | None = strawberry.field(
        default=strawberry.UNSET, description="The reference mailbox address (empty: none)."
    )
    smtp_host: str | None = strawberry.field(default=strawberry.UNSET, description="SMTP host.")
    smtp_port: int | None = strawberry.field(default=strawberry.UNSET, description="SMTP port.")
    smtp_security: SmtpSecurity | None = strawberry.field(
        default=strawberry.UNSET, description="SMTP security."
    )
    smtp_username: str | None = strawberry.field(
        default=strawberry.UNSET, description="SMTP login."
    )
    smtp_password: str | None = strawberry.field(
        default=strawberry.UNSET, description="SMTP password (write only)."
    )
    imap_host: str | None = strawberry.field(default=strawberry.UNSET, description="IMAP host.")
    imap_port: int | None = strawberry.field(default=strawberry.UNSET, description="IMAP port.")
    imap_ssl: bool | None = strawberry.field(default=strawberry.UNSET, description="IMAP TLS.")
    imap_username: str | None = strawberry.field(
        default=strawberry.UNSET, description="IMAP login."
    )
    imap_password: str | None = strawberry.field(
        default=strawberry.UNSET, description="IMAP password (write only)."
    )
    mail_poll_seconds: int | None = strawberry.field(
        default=strawberry.UNSET, description="Mailbox poll interval, 10 to 86400 seconds."
    )


@strawberry.type(description="Result of a CRM setup change.")
class CrmSetupPayload:
    setup: CrmSetup | None = strawberry.field(
        graphql_type=CrmSetupType | None, description="The setup after the change."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.type(name="PaymentMethod", description="A way to pay, printed on invoices.")
class PaymentMethodType:
    id: strawberry.ID = strawberry.field(description="Payment method id.")
    name: str = strawberry.field(description="Name (unique, ignoring case).")
    text: str = strawberry.field(
        description="Text printed on invoices, e.g. the bank account to transfer to."
    )


@strawberry.input(description="A new payment method.")
class PaymentMethodCreateInput:
    name: str = strawberry.field(description="Name (unique, ignoring case; 1 to 100 characters).")
    text: str = strawberry.field(default="", description="Text printed on invoices.")


@strawberry.input(description="Changes to a payment method; omitted fields stay as they are.")
class PaymentMethodUpdateInput:
    id: strawberry.ID = strawberry.field(description="The payment method.")
    name: str | None = strawberry.field(
        default=strawberry.UNSET, description="Name (unique, ignoring case)."
    )
    text: str | None = strawberry.field(
        default=strawberry.UNSET, description="Text printed on invoices."
    )


@strawberry.type(description="Result of paymentMethodCreate or paymentMethodUpdate.")
class PaymentMethodPayload:
    payment_method: PaymentMethod | None = strawberry.field(
        graphql_type=PaymentMethodType | None, description="The payment method."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")
