"""Duplicate detection and merge (issue 18): candidates of one record, groups of records
sharing a key, and the merge inputs and payloads."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry

from crm_graphql.models.companies import Company
from crm_graphql.models.contacts import Contact
from crm_graphql.models.leads import Lead
from crm_graphql.schema.common import PageInfo, UserError
from crm_graphql.schema.companies import CompanyType
from crm_graphql.schema.contacts import ContactType
from crm_graphql.schema.leads import LeadObjectType


@strawberry.enum(name="DuplicateEntity", description="The kinds of record that can be merged.")
class DuplicateEntityEnum(Enum):
    COMPANY = strawberry.enum_value("COMPANY", description="Companies (CR).")
    CONTACT = strawberry.enum_value("CONTACT", description="Contacts (CR).")
    LEAD = strawberry.enum_value("LEAD", description="Leads (LR).")


@strawberry.enum(name="DuplicateRule", description="Why two records look like duplicates.")
class DuplicateRuleEnum(Enum):
    NAME = strawberry.enum_value(
        "NAME", description="Same name ignoring case, accents and punctuation."
    )
    FISCAL_ID = strawberry.enum_value(
        "FISCAL_ID", description="Same fiscal id ignoring case, blanks and separators."
    )
    WEBSITE_DOMAIN = strawberry.enum_value(
        "WEBSITE_DOMAIN", description="Same website host (without scheme, www. and path)."
    )
    EMAIL = strawberry.enum_value("EMAIL", description="Same e-mail address ignoring case.")
    PHONE = strawberry.enum_value(
        "PHONE", description="Same phone digits (a phone or a mobile, 6 digits at least)."
    )


def _one(records: Any, model: type[Any]) -> Any:
    return records if isinstance(records, model) else None


@strawberry.type(description="A record that may be a duplicate of the one asked about.")
class DuplicateCandidate:
    id: strawberry.ID = strawberry.field(description="The candidate's id.")
    rules: list[DuplicateRuleEnum] = strawberry.field(description="The rules it matches by.")
    score: int = strawberry.field(
        description="0-100: how likely a duplicate (each matching rule adds evidence)."
    )
    record: strawberry.Private[Any]

    @strawberry.field(graphql_type=CompanyType | None, description="The company (COMPANY).")
    def company(self) -> Company | None:
        return _one(self.record, Company)

    @strawberry.field(graphql_type=ContactType | None, description="The contact (CONTACT).")
    def contact(self) -> Contact | None:
        return _one(self.record, Contact)

    @strawberry.field(graphql_type=LeadObjectType | None, description="The lead (LEAD).")
    def lead(self) -> Lead | None:
        return _one(self.record, Lead)


@strawberry.type(description="Records you can see that share one matching key.")
class DuplicateGroup:
    rule: DuplicateRuleEnum = strawberry.field(description="The rule they match by.")
    key: str = strawberry.field(
        description="The shared key (the normalised name, digits, domain or address)."
    )
    size: int = strawberry.field(description="How many visible records share it.")
    score: int = strawberry.field(description="0-100: how likely a match by this rule is.")
    ids: list[strawberry.ID] = strawberry.field(
        description="Ids of the first 20 records of the group, lowest first."
    )
    records: strawberry.Private[list[Any]]

    @strawberry.field(graphql_type=list[CompanyType], description="The companies (COMPANY).")
    def companies(self) -> list[Company]:
        return [r for r in self.records if isinstance(r, Company)]

    @strawberry.field(graphql_type=list[ContactType], description="The contacts (CONTACT).")
    def contacts(self) -> list[Contact]:
        return [r for r in self.records if isinstance(r, Contact)]

    @strawberry.field(graphql_type=list[LeadObjectType], description="The leads (LEAD).")
    def leads(self) -> list[Lead]:
        return [r for r in self.records if isinstance(r, Lead)]


@strawberry.type(description="One group with its cursor.")
class DuplicateGroupEdge:
    cursor: str = strawberry.field(description="Pass as `after` for the groups after this one.")
    node: DuplicateGroup = strawberry.field(description="The group.")


@strawberry.type(description="A page of duplicate groups: by rule (strongest first), then by key.")
class DuplicateGroupConnection:
    edges: list[DuplicateGroupEdge] = strawberry.field(description="The groups of this page.")
    page_info: PageInfo = strawberry.field(description="Pagination state.")


@strawberry.input(
    description="One field of the survivor: `field` (its API name, e.g. `name`, `email`, "
    "`ownerId`) or `customFieldId`, taken `fromId` one of the merged records or set to "
    "`value` (text fields and custom fields only)."
)
class MergeFieldInput:
    field: str | None = strawberry.field(default=None, description="The field's API name.")
    custom_field_id: strawberry.ID | None = strawberry.field(
        default=None, description="Or a custom field of the entity."
    )
    from_id: strawberry.ID | None = strawberry.field(
        default=None, description="Take the value of this merged record (survivor or other)."
    )
    value: str | None = strawberry.field(default=None, description="Or this value.")


@strawberry.input(description="A merge: the survivor keeps its id and gets everything.")
class MergeInput:
    survivor_id: strawberry.ID = strawberry.field(description="The record that stays.")
    other_ids: list[strawberry.ID] = strawberry.field(
        description="1 to 9 records merged into it, then moved to the trash."
    )
    fields: list[MergeFieldInput] | None = strawberry.field(
        default=None,
        description="Chosen values; a field not named keeps the survivor's value.",
    )


@strawberry.type(description="Result of companyMerge.")
class CompanyMergePayload:
    company: Company | None = strawberry.field(
        graphql_type=CompanyType | None, description="The survivor, after the merge."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.type(description="Result of contactMerge.")
class ContactMergePayload:
    contact: Contact | None = strawberry.field(
        graphql_type=ContactType | None, description="The survivor, after the merge."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.type(description="Result of leadMerge.")
class LeadMergePayload:
    lead: Lead | None = strawberry.field(
        graphql_type=LeadObjectType | None, description="The survivor, after the merge."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")
