"""Leads, lead types, tags, notes, saved searches and mass operations: the root fields
of the leads domain, merged from its modules in the schema's field order. Reads filter
through the lead rule in SQL; writes check the object rule (owner or LM) on the loaded
row, then call the service inside one transaction (one per lead for mass operations)."""

from __future__ import annotations

import strawberry

from crm_graphql.resolvers.leads.kinds import LeadKindsMutation
from crm_graphql.resolvers.leads.mass import LeadMassMutation
from crm_graphql.resolvers.leads.queries import LeadReadQuery
from crm_graphql.resolvers.leads.records import LeadRecordsMutation
from crm_graphql.resolvers.leads.searches import LeadSearchesMutation, LeadSearchesQuery
from crm_graphql.resolvers.leads.workflow import LeadWorkflowMutation


@strawberry.type
class LeadsQuery(LeadReadQuery, LeadSearchesQuery):
    pass


@strawberry.type
class LeadsMutation(
    LeadRecordsMutation,
    LeadWorkflowMutation,
    LeadMassMutation,
    LeadKindsMutation,
    LeadSearchesMutation,
):
    pass
