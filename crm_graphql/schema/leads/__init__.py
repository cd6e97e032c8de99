"""Leads in the schema: object types (`types`), filters and sort keys (`filters`),
mutation inputs (`inputs`) and payloads (`payloads`). Other modules and
`strawberry.lazy("crm_graphql.schema.leads")` find every name here."""

from __future__ import annotations

from crm_graphql.schema.leads.filters import (
    LEAD_FILTER_SPEC,
    LeadDateFilter,
    LeadFilter,
    LeadOrder,
    LeadOrderField,
    ProgressFilter,
    default_open_q,
    search_q,
)
from crm_graphql.schema.leads.inputs import (
    LeadActivityInput,
    LeadCreateInput,
    LeadTagInput,
    LeadTypeInput,
    LeadUpdateInput,
)
from crm_graphql.schema.leads.payloads import (
    LeadActivityPayload,
    LeadCreatePayload,
    LeadMassPayload,
    LeadOperationResult,
    LeadPayload,
    LeadTagPayload,
    LeadTypePayload,
    SavedLeadSearchPayload,
)
from crm_graphql.schema.leads.types import (
    CurrencyAmount,
    LeadActivityKind,
    LeadActivityType,
    LeadHistoryKind,
    LeadHistoryType,
    LeadKindType,
    LeadObjectType,
    LeadProgress,
    LeadTagType,
    LeadViewerCan,
    SavedLeadSearchType,
    lead_progress,
)

__all__ = [
    "LEAD_FILTER_SPEC",
    "CurrencyAmount",
    "LeadActivityInput",
    "LeadActivityKind",
    "LeadActivityPayload",
    "LeadActivityType",
    "LeadCreateInput",
    "LeadCreatePayload",
    "LeadDateFilter",
    "LeadFilter",
    "LeadHistoryKind",
    "LeadHistoryType",
    "LeadKindType",
    "LeadMassPayload",
    "LeadObjectType",
    "LeadOperationResult",
    "LeadOrder",
    "LeadOrderField",
    "LeadPayload",
    "LeadProgress",
    "LeadTagInput",
    "LeadTagPayload",
    "LeadTagType",
    "LeadTypeInput",
    "LeadTypePayload",
    "LeadUpdateInput",
    "LeadViewerCan",
    "ProgressFilter",
    "SavedLeadSearchPayload",
    "SavedLeadSearchType",
    "default_open_q",
    "lead_progress",
    "search_q",
]
