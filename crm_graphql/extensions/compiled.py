"""The hook of the compiled read path (crm_graphql/compiled/): after validation, the
scope gate and the operation limits, the root fields of a query that the compiler
covers get their values here. When it covers them all, graphql-core's executor does not
run; otherwise the executor (`MixedExecutor`) runs only the others, beside the values
already answered. The result then goes through the same masking, audit of denials and
response shaping."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLObjectType
from graphql.execution.collect_fields import GroupedFieldSet
from graphql.pyutils import AwaitableOrValue
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from crm_graphql.compiled import PlanCache, run_compiled


class CompiledReads(SchemaExtension):
    """Answers covered root fields of read operations from the compiled path (one plan
    cache per schema, shared by its requests)."""

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
            answer = await run_compiled(
                context.schema,
                context.graphql_document,
                context.operation_name,
                context.variables,
                request.viewer,
                settings.limits,
                self.cache,
                root_path=_root_path(request),
            )
            if answer is not None and not answer.left:
                context.result = GraphQLExecutionResult(data=answer.data, errors=None)
                request.compiled_document = context.graphql_document
            elif answer is not None:
                # The executor runs the other root fields (the root value is this
                # operation's own, where a context would be shared by a batch's or a
                # WebSocket's operations).
                context.root_value = Answered(answer.data, context.root_value)
        yield


class Answered:
    """The root value of an operation whose covered root fields are answered: their
    values by response key, and the root value the executor's own resolvers get."""

    def __init__(self, data: dict[str, Any], root: Any) -> None:
        self.data = data
        self.root = root


class MixedExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, which, when the root value is `Answered`, executes only
    the root fields not answered and puts the answered values at their keys: the
    response is the executor's alone (key order, errors and their paths, a non-null
    root's error nulling `data`), its values for those fields already known."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answered: dict[str, Any] = {}
        if isinstance(self.root_value, Answered):
            self.answered = self.root_value.data
            self.root_value = self.root_value.root

    def execute_root_grouped_field_set(
        self,
        root_type: GraphQLObjectType,
        root_value: Any,
        grouped_field_set: GroupedFieldSet,
        serially: bool,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        answered = self.answered
        if not answered:
            return super().execute_root_grouped_field_set(
                root_type, root_value, grouped_field_set, serially, position_context
            )
        rest = {k: v for k, v in grouped_field_set.items() if k not in answered}
        result = super().execute_root_grouped_field_set(
            root_type, root_value, rest, serially, position_context
        )

        def merged(values: dict[str, Any]) -> dict[str, Any]:
            # The operation's key order (a field the schema lacks has no key).
            return {
                k: answered[k] if k in answered else values[k]
                for k in grouped_field_set
                if k in answered or k in values
            }

        if isinstance(result, dict):
            return merged(result)

        async def merge(values: Awaitable[dict[str, Any]]) -> dict[str, Any]:
            return merged(await values)

        return merge(result)


def _root_path(context: object) -> str:
    """The request's root path, which the executor's File.downloadUrl starts with."""
    http = getattr(context, "request", None)
    return str(getattr(http, "scope", {}).get("root_path", ""))
