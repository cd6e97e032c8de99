"""The audit log, for superadmins and `FM`."""

from __future__ import annotations

from typing import Annotated

import strawberry

from crm_graphql.context import Info
from crm_graphql.models.audit import AuditEntry
from crm_graphql.permissions.base import auth
from crm_graphql.resolvers.common import connection
from crm_graphql.schema.audit import AUDIT_FILTER_SPEC, AuditEntryType, AuditFilter
from crm_graphql.schema.common import Connection
from crm_graphql.services.listing import SortKey


@strawberry.type
class AuditQuery:
    @strawberry.field(
        description="Recorded actions, newest first. Needs `FM`.", extensions=auth("FM")
    )
    async def audit_log(
        self,
        info: Info,
        filter: Annotated[
            AuditFilter | None, strawberry.argument(description="Conditions.")
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="Page size.")] = None,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor of the row before the page.")
        ] = None,
    ) -> Connection[AuditEntryType]:
        return await connection(
            info,
            AuditEntry.all(),
            flt=filter,
            spec=AUDIT_FILTER_SPEC,
            default_order=[SortKey("id", descending=True)],
            first=first,
            after=after,
        )
