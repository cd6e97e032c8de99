"""The GraphQL schema: root Query and Mutation merged from the domain classes, with
the query limits and error handling every request goes through."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.disable_introspection import DisableIntrospection
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from crm_graphql.compiled import PlanCache
from crm_graphql.extensions import (
    AuditDenials,
    CompiledReads,
    MaskUnexpectedErrors,
    MixedExecutor,
    OperationLimits,
    RefuseNulBytes,
    RequireOperationName,
    ScopeGate,
    cost_limit_rule,
)
from crm_graphql.resolvers.activities import ActivitiesMutation
from crm_graphql.resolvers.aggregates import AggregatesQuery
from crm_graphql.resolvers.audit import AuditQuery
from crm_graphql.resolvers.auth import AuthMutation, AuthQuery
from crm_graphql.resolvers.calendar import CalendarMutation, CalendarQuery
from crm_graphql.resolvers.companies import CompaniesMutation, CompaniesQuery
from crm_graphql.resolvers.company_statistics import CompanyStatisticsQuery
from crm_graphql.resolvers.contacts import ContactsMutation, ContactsQuery
from crm_graphql.resolvers.contracts import ContractsMutation, ContractsQuery
from crm_graphql.resolvers.customfields import CustomFieldsMutation, CustomFieldsQuery
from crm_graphql.resolvers.duplicates import DuplicatesMutation, DuplicatesQuery
from crm_graphql.resolvers.events import EventsQuery, EventsSubscription
from crm_graphql.resolvers.files import FilesMutation, FilesQuery
from crm_graphql.resolvers.imports import ImportsMutation
from crm_graphql.resolvers.invoice_statistics import InvoiceStatisticsQuery
from crm_graphql.resolvers.invoices import InvoicesMutation, InvoicesQuery
from crm_graphql.resolvers.lead_mail import LeadMailMutation, LeadMailQuery
from crm_graphql.resolvers.lead_statistics import LeadStatisticsQuery
from crm_graphql.resolvers.leads import LeadsMutation, LeadsQuery
from crm_graphql.resolvers.setup import SetupMutation, SetupQuery
from crm_graphql.resolvers.templates import TemplatesMutation, TemplatesQuery
from crm_graphql.resolvers.trash import TrashMutation, TrashQuery
from crm_graphql.resolvers.users import UsersMutation, UsersQuery
from crm_graphql.resolvers.webhooks import WebhookMutation, WebhookQuery
from crm_graphql.schema.common import GraphQLErrorCode
from crm_graphql.schema.scalars import SCALARS
from crm_graphql.settings import Settings, settings


@strawberry.type(description="Everything you can read.")
class Query(
    AuthQuery,
    UsersQuery,
    CompaniesQuery,
    CompanyStatisticsQuery,
    ContactsQuery,
    ContractsQuery,
    CustomFieldsQuery,
    FilesQuery,
    InvoicesQuery,
    InvoiceStatisticsQuery,
    LeadsQuery,
    LeadStatisticsQuery,
    LeadMailQuery,
    AuditQuery,
    SetupQuery,
    TemplatesQuery,
    CalendarQuery,
    AggregatesQuery,
    DuplicatesQuery,
    TrashQuery,
    WebhookQuery,
    EventsQuery,
):
    pass


@strawberry.type(description="Everything you can change. Each mutation is one transaction.")
class Mutation(
    AuthMutation,
    UsersMutation,
    CompaniesMutation,
    ContactsMutation,
    ContractsMutation,
    ActivitiesMutation,
    CustomFieldsMutation,
    FilesMutation,
    ImportsMutation,
    InvoicesMutation,
    LeadsMutation,
    LeadMailMutation,
    SetupMutation,
    TemplatesMutation,
    CalendarMutation,
    DuplicatesMutation,
    TrashMutation,
    WebhookMutation,
):
    pass


@strawberry.type(description="Live streams over the graphql-transport-ws WebSocket protocol.")
class Subscription(EventsSubscription):
    pass


class Schema(strawberry.Schema):
    # The compiled read path's plans, shared by the CompiledReads extension and the
    # view's lane of repeated reads (graphql_app.py).
    compiled_plans: PlanCache

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Client errors are not server problems, and MaskUnexpectedErrors has already
        logged each unexpected one with its request id: log nothing more here."""


def build_schema(config: Settings) -> Schema:
    limits = config.limits
    # Rule classes are made once, so the shared validation cache recognises them.
    # The cost rule comes first: it prices each fragment once and stops validation on a
    # document that expands too far, before the depth and alias walkers expand it.
    rules: list[type[ASTValidationRule]] = [
        cost_limit_rule(
            limits.max_cost,
            limits.page_size_default,
            limits.page_size_max,
            nested_default_page=limits.nested_page_size_default,
            nested_max_page=limits.nested_page_size_max,
            max_selections=limits.max_selections,
            max_directives=limits.max_directives,
            max_repeated=limits.max_repeated_selections,
            filter_limits=limits,
        ),
        depth_validator(limits.max_depth, None),
        alias_validator(limits.max_aliases),
    ]
    plans = PlanCache(size=512)
    # Factories, so each request gets fresh extension instances.
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: ParserCache(maxsize=512),
        lambda: AddValidationRules(rules),
        lambda: ValidationCache(maxsize=512),
        RequireOperationName,
        # After ValidationCache: a narrow token's refusal replaces validation's answer.
        ScopeGate,
        RefuseNulBytes,
        # After validation, with the variables: filters sent as variables are priced.
        lambda: OperationLimits(limits=limits),
        # Last before execution: covered reads are answered from compiled SQL.
        lambda: CompiledReads(cache=plans),
        MaskUnexpectedErrors,
        AuditDenials,
    ]
    if not config.introspection:
        extensions.append(DisableIntrospection)
    built = Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[GraphQLErrorCode],
        extensions=extensions,
        # Runs only the root fields the compiled path left to it (extensions/compiled.py).
        execution_context_class=MixedExecutor,
        config=StrawberryConfig(
            disable_field_suggestions=config.production,
            batching_config={"max_operations": limits.max_batch_operations},
            scalar_map=SCALARS,
        ),
    )
    built.compiled_plans = plans
    return built


schema = build_schema(settings)
