"""The hook of the compiled read path (crm_graphql/compiled/): after validation, the
scope gate and the operation limits, a query the compiler covers gets its result here
and graphql-core's executor does not run; anything else runs as before. The result
then goes through the same masking, audit of denials and response shaping."""

from __future__ import annotations

from collections.abc import AsyncIterator

from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension

from crm_graphql.compiled import PlanCache, run_compiled


class CompiledReads(SchemaExtension):
    """Answers covered read operations from the compiled path (one plan cache per
    schema, shared by its requests)."""

    def __init__(self, *, cache: PlanCache) -> None:
        self.cache = cache

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        request = context.context
        settings = getattr(request, "settings", None)
        if (
            not context.result
            and context.graphql_document is not None
            and settings is not None
            and settings.compiled_reads
            and not request.compiled_declined
        ):
            data = await run_compiled(
                context.schema,
                context.graphql_document,
                context.operation_name,
                context.variables,
                request.viewer,
                settings.limits,
                self.cache,
                root_path=_root_path(request),
            )
            if data is not None:
                context.result = GraphQLExecutionResult(data=data, errors=None)
                request.compiled_document = context.graphql_document
        yield


def _root_path(context: object) -> str:
    """The request's root path, which the executor's File.downloadUrl starts with."""
    http = getattr(context, "request", None)
    return str(getattr(http, "scope", {}).get("root_path", ""))
