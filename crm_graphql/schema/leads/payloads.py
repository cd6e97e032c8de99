"""The payloads of the lead mutations."""

from __future__ import annotations

import strawberry

from crm_graphql.models.leads import Lead, LeadActivity, LeadTag, SavedLeadSearch
from crm_graphql.models.leads import LeadType as LeadTypeModel
from crm_graphql.schema.common import UserError
from crm_graphql.schema.leads.types import (
    LeadActivityType,
    LeadKindType,
    LeadObjectType,
    LeadTagType,
    SavedLeadSearchType,
)


@strawberry.type(description="Result of a lead mutation.")
class LeadPayload:
    lead: Lead | None = strawberry.field(
        graphql_type=LeadObjectType | None, description="The lead."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.type(description="Result of leadCreate.")
class LeadCreatePayload:
    lead: Lead | None = strawberry.field(
        graphql_type=LeadObjectType | None,
        description="The new lead (null for a web-form token, which may only create).",
    )
    lead_id: strawberry.ID | None = strawberry.field(description="The new lead's id.")
    duplicate: bool = strawberry.field(
        description="Another lead had this e-mail: the new one is flagged as a duplicate. "
        "Always false for a web-form token (it must not learn which e-mails are known)."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.type(description="One lead's outcome in a mass operation.")
class LeadOperationResult:
    lead_id: strawberry.ID = strawberry.field(description="The lead.")
    ok: bool = strawberry.field(description="Done (each lead in its own transaction).")
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.type(description="Result of a mass operation on leads, lead by lead.")
class LeadMassPayload:
    results: list[LeadOperationResult] = strawberry.field(description="One per lead id given.")
    succeeded: int = strawberry.field(description="How many were done.")
    failed: int = strawberry.field(description="How many were refused.")


@strawberry.type(description="Result of leadActivityCreate.")
class LeadActivityPayload:
    activity: LeadActivity | None = strawberry.field(
        graphql_type=LeadActivityType | None, description="The note."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.type(description="Result of a lead type mutation.")
class LeadTypePayload:
    lead_type: LeadTypeModel | None = strawberry.field(
        graphql_type=LeadKindType | None, description="The lead type."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.type(description="Result of a lead tag mutation.")
class LeadTagPayload:
    tag: LeadTag | None = strawberry.field(graphql_type=LeadTagType | None, description="The tag.")
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.type(description="Result of leadSearchSave.")
class SavedLeadSearchPayload:
    saved_search: SavedLeadSearch | None = strawberry.field(
        graphql_type=SavedLeadSearchType | None, description="The saved search."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")
