"""The query cost limit: a validation rule for what the document shows, and an
extension pricing the operation again once its variables are known."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    ValidationRule,
    get_operation_ast,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.execution.values import get_variable_values
from strawberry.extensions import AddValidationRules, SchemaExtension

from crm_graphql.errors import ApiError, ErrorCode
from crm_graphql.extensions.pricing import Pricer, QueryTooComplex, capped, count_directives
from crm_graphql.settings import Limits


def cost_limit_rule(
    max_cost: int,
    default_page: int,
    max_page: int,
    *,
    nested_default_page: int | None = None,
    nested_max_page: int | None = None,
    max_selections: int | None = None,
    max_directives: int | None = None,
    max_repeated: int | None = None,
    filter_limits: Limits | None = None,
) -> type[ValidationRule]:
    """A validation rule refusing operations whose cost (see `Pricer`) exceeds
    `max_cost`, with filters written into the document priced when `filter_limits` is
    given (those in variables are priced at execution, by `OperationLimits`).

    The rule also refuses a document whose selections, with every fragment spread
    expanded, number more than `max_selections` (default: `max_cost`): a few hundred
    bytes of fragments spreading each other twice expand to 2**n selections, and other
    validators (strawberry's depth limiter) walk every one of them; one with more than
    `max_directives` directives (each unknown one would be an error of its own); and one
    repeating a selection more than `max_repeated` times in a selection set. It does its
    work when validation creates it, raising the error instead of only reporting it, so
    that no rule listed after it starts on such a document."""
    nested_default = default_page if nested_default_page is None else nested_default_page
    nested_max = max_page if nested_max_page is None else nested_max_page
    size_limit = max_cost if max_selections is None else max_selections

    class CostLimit(ValidationRule):
        def __init__(self, context: Any) -> None:
            super().__init__(context)
            document = context.document
            if max_directives is not None and count_directives(document) > max_directives:
                raise QueryTooComplex(
                    f"The document has more than {max_directives} directives.",
                    extensions={"code": ErrorCode.QUERY_TOO_COMPLEX, "limit": max_directives},
                )
            fragments = {
                d.name.value: d
                for d in document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            pricer = Pricer(
                context.schema,
                fragments,
                default_page=default_page,
                max_page=max_page,
                nested_default_page=nested_default,
                nested_max_page=nested_max,
                filter_limits=filter_limits,
                max_repeated=max_repeated,
            )
            for node in document.definitions:
                if not isinstance(node, OperationDefinitionNode):
                    continue
                try:
                    cost, size = pricer.operation(node)
                except ApiError as error:  # a filter over its limits
                    raise QueryTooComplex(
                        error.message, node, extensions=error.extensions
                    ) from None
                if size > size_limit:
                    raise QueryTooComplex(
                        f"Query expands to more than {size_limit} selections once its "
                        "fragments are spread. Ask for less.",
                        node,
                        extensions={"code": ErrorCode.QUERY_TOO_COMPLEX, "limit": size_limit},
                    )
                if cost > max_cost:
                    raise too_costly(cost, max_cost, node)

    return CostLimit


def too_costly(cost: int, max_cost: int, node: Any = None, what: str = "Query") -> GraphQLError:
    return QueryTooComplex(
        f"{what} cost {cost} exceeds the limit of {max_cost}. Ask for smaller pages, fewer "
        "nested lists or fewer filter conditions.",
        node,
        extensions={"code": ErrorCode.QUERY_TOO_COMPLEX, "cost": capped(cost), "limit": max_cost},
    )


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    raw_variables: dict[str, Any] | None,
    limits: Limits,
) -> int | None:
    """The full cost of the operation `operation_name` of `document` with its
    variables, filters included; None when it cannot run at all (no such operation,
    variables that do not fit: execution reports those). Raises a GraphQLError when a
    filter is over its limits."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    variables = get_variable_values(
        schema, operation.variable_definitions or (), raw_variables or {}, max_errors=1
    )
    if isinstance(variables, list):
        return None
    coerced = variables.coerced
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    pricer = Pricer(
        schema,
        fragments,
        default_page=limits.page_size_default,
        max_page=limits.page_size_max,
        nested_default_page=limits.nested_page_size_default,
        nested_max_page=limits.nested_page_size_max,
        filter_limits=limits,
        variables=coerced,
    )
    return pricer.operation(operation)[0]


class OperationLimits(SchemaExtension):
    """The execution-time half of the cost limit: variables are known here, so filters
    sent as variables are checked and priced with the rest of the operation. An operation
    over its limits does not run."""

    def __init__(self, *, limits: Limits) -> None:
        self.limits = limits

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and not context.result:
            error: GraphQLError | None = None
            try:
                cost = operation_cost(
                    context.schema._schema,
                    document,
                    context.operation_name,
                    context.variables,
                    self.limits,
                )
            except ApiError as refused:
                error = refused
            else:
                if cost is not None and cost > self.limits.max_cost:
                    error = too_costly(cost, self.limits.max_cost)
            if error is not None:
                context.result = GraphQLExecutionResult(data=None, errors=[error])
        yield


def cost_limit(
    max_cost: int,
    default_page: int,
    max_page: int,
    *,
    nested_default_page: int | None = None,
    nested_max_page: int | None = None,
) -> AddValidationRules:
    return AddValidationRules(
        [
            cost_limit_rule(
                max_cost,
                default_page,
                max_page,
                nested_default_page=nested_default_page,
                nested_max_page=nested_max_page,
            )
        ]
    )
