"""The GraphQL schema: root Query and Mutation merged from the domain classes, with
the query limits and error handling every request goes through."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.extensions.disable_introspection import DisableIntrospection
from strawberry.schema.config import StrawberryConfig

from crm_graphql.extensions import AuditDenials, MaskUnexpectedErrors, cost_limit
from crm_graphql.resolvers.audit import AuditQuery
from crm_graphql.resolvers.auth import AuthMutation, AuthQuery
from crm_graphql.resolvers.users import UsersMutation, UsersQuery
from crm_graphql.settings import Settings, settings


@strawberry.type(description="Everything you can read.")
class Query(AuthQuery, UsersQuery, AuditQuery):
    pass


@strawberry.type(description="Everything you can change. Each mutation is one transaction.")
class Mutation(AuthMutation, UsersMutation):
    pass


def build_schema(config: Settings) -> strawberry.Schema:
    limits = config.limits
    # Factories, so each request gets fresh extension instances.
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: QueryDepthLimiter(max_depth=limits.max_depth),
        lambda: MaxAliasesLimiter(max_alias_count=limits.max_aliases),
        lambda: cost_limit(limits.max_cost, limits.page_size_default, limits.page_size_max),
        MaskUnexpectedErrors,
        AuditDenials,
    ]
    if not config.introspection:
        extensions.append(DisableIntrospection)
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        config=StrawberryConfig(
            disable_field_suggestions=config.production,
            batching_config={"max_operations": limits.max_batch_operations},
        ),
    )


schema = build_schema(settings)
