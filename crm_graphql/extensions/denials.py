"""The audit of access denials, written after the operation."""

from __future__ import annotations

from collections.abc import AsyncIterator

from strawberry.extensions import SchemaExtension

from crm_graphql.services import audit
from crm_graphql.services.deadline import deadline_scope

# Seconds the audit of a request's denials may take, whatever the request's deadline.
AUDIT_SECONDS = 5.0


class AuditDenials(SchemaExtension):
    """Writes the access denials the synchronous permission checks collected."""

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        denials = getattr(context, "denials", None)
        if not denials:
            return
        viewer = context.viewer
        # The denials are recorded even when the request's own deadline has passed.
        with deadline_scope(AUDIT_SECONDS, inherit=False):
            for denial in denials:
                await audit.record(
                    viewer.user if viewer else None,
                    audit.DENIED,
                    "Field",
                    denial["what"],
                    {
                        "reason": denial["reason"],
                        "operation": self.execution_context.operation_name,
                    },
                    context.request_id,
                )
