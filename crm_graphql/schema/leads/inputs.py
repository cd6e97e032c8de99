"""The inputs of the lead mutations."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from crm_graphql.schema.customfields import CustomFieldValueInput


@strawberry.input(description="A new lead.")
class LeadCreateInput:
    full_name: str = strawberry.field(description="The prospect's full name (required).")
    email: str = strawberry.field(default="", description="E-mail address.")
    phone: str = strawberry.field(default="", description="Phone.")
    mobile: str = strawberry.field(default="", description="Mobile phone.")
    position: str = strawberry.field(default="", description="Position.")
    prospect_company: str = strawberry.field(default="", description="The prospect's company.")
    country: str = strawberry.field(default="", description="Country.")
    language: str = strawberry.field(default="", description="Language code.")
    product: str = strawberry.field(default="", description="Product or category.")
    channel: str = strawberry.field(default="", description="Channel (one of CRM setup's).")
    estimated_sale: str = strawberry.field(
        default="0", description="Estimated sale as decimal text (e.g. 2400.00), not negative."
    )
    currency: str | None = strawberry.field(
        default=None, description="ISO 4217 code (default: CRM setup's currency)."
    )
    close_date: date | None = strawberry.field(default=None, description="Estimated close date.")
    progress: int = strawberry.field(default=0, description="Progress code (default 0, New).")
    owner_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Owner; default: you. Null: unowned."
    )
    company_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="Managing company (one you can see); default: your company.",
    )
    lead_type_id: strawberry.ID | None = strawberry.field(default=None, description="Lead type.")
    custom_fields: list[CustomFieldValueInput] | None = strawberry.field(
        default=None, description="Values of the lead type's custom fields."
    )
    tag_ids: list[strawberry.ID] | None = strawberry.field(default=None, description="Tags.")
    executive_overview: str = strawberry.field(default="", description="Executive overview.")
    description: str = strawberry.field(default="", description="Description.")
    alarm_at: datetime | None = strawberry.field(default=None, description="Alarm time.")


@strawberry.input(description="Changes to a lead; omitted fields stay as they are.")
class LeadUpdateInput:
    id: strawberry.ID = strawberry.field(description="The lead.")
    version: int | None = strawberry.field(
        default=strawberry.UNSET, description="The version you read (refused when stale)."
    )
    full_name: str | None = strawberry.field(default=strawberry.UNSET, description="Name.")
    email: str | None = strawberry.field(default=strawberry.UNSET, description="E-mail.")
    phone: str | None = strawberry.field(default=strawberry.UNSET, description="Phone.")
    mobile: str | None = strawberry.field(default=strawberry.UNSET, description="Mobile.")
    position: str | None = strawberry.field(default=strawberry.UNSET, description="Position.")
    prospect_company: str | None = strawberry.field(
        default=strawberry.UNSET, description="Prospect company."
    )
    country: str | None = strawberry.field(default=strawberry.UNSET, description="Country.")
    language: str | None = strawberry.field(default=strawberry.UNSET, description="Language.")
    product: str | None = strawberry.field(default=strawberry.UNSET, description="Product.")
    channel: str | None = strawberry.field(default=strawberry.UNSET, description="Channel.")
    estimated_sale: str | None = strawberry.field(
        default=strawberry.UNSET, description="Estimated sale as decimal text."
    )
    currency: str | None = strawberry.field(default=strawberry.UNSET, description="Currency.")
    close_date: date | None = strawberry.field(
        default=strawberry.UNSET, description="Estimated close date; null clears it."
    )
    progress: int | None = strawberry.field(default=strawberry.UNSET, description="Progress code.")
    owner_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Owner; null: unowned."
    )
    company_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Managing company (one you can see); null: none."
    )
    lead_type_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="Lead type; changing it drops the old type's custom values.",
    )
    custom_fields: list[CustomFieldValueInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Custom field values to set (others stay)."
    )
    tag_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="Replace the tags with these."
    )
    executive_overview: str | None = strawberry.field(
        default=strawberry.UNSET, description="Executive overview."
    )
    description: str | None = strawberry.field(default=strawberry.UNSET, description="Description.")
    alarm_at: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="Alarm time; null clears it."
    )


@strawberry.input(description="A lead note.")
class LeadActivityInput:
    lead_id: strawberry.ID = strawberry.field(description="The lead (one you can edit).")
    text: str = strawberry.field(description="The note.")


@strawberry.input(description="A lead type.")
class LeadTypeInput:
    name: str = strawberry.field(description="Name (unique).")
    description: str = strawberry.field(default="", description="What it is for.")


@strawberry.input(description="Changes to a lead type: only the fields given change.")
class LeadTypeUpdateInput:
    id: strawberry.ID = strawberry.field(description="The lead type.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="Name (unique).")
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="What it is for."
    )


@strawberry.input(description="A lead tag.")
class LeadTagInput:
    name: str = strawberry.field(description="Name (unique, at most 60 characters).")
    colour: str = strawberry.field(default="#808080", description="Colour, #rrggbb.")


@strawberry.input(description="Changes to a lead tag: only the fields given change.")
class LeadTagUpdateInput:
    id: strawberry.ID = strawberry.field(description="The tag.")
    name: str | None = strawberry.field(
        default=strawberry.UNSET, description="Name (unique, at most 60 characters)."
    )
    colour: str | None = strawberry.field(default=strawberry.UNSET, description="Colour, #rrggbb.")
