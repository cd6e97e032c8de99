"""Types, inputs and payloads of CRM setup (SPEC §8): invoice parameters, the invoice
logo and payment methods."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from crm_graphql.models.files import StoredFile
from crm_graphql.models.setup import CrmSetup
from crm_graphql.schema.common import UserError
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
    version: int = strawberry.field(
        description="Changes on every update; send it back with crmSetupUpdate."
    )

    @strawberry.field(description="The logo printed on invoices, if one was uploaded.")
    async def invoice_logo(self, root: strawberry.Parent[CrmSetup]) -> SetupLogoType | None:
        found: StoredFile | None = await logo_file(root)
        return found  # type: ignore[return-value]


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


@strawberry.type(description="Result of a CRM setup change.")
class CrmSetupPayload:
    setup: CrmSetupType | None = strawberry.field(description="The setup after the change.")
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
    payment_method: PaymentMethodType | None = strawberry.field(description="The payment method.")
    errors: list[UserError] = strawberry.field(description="Why it was refused.")
