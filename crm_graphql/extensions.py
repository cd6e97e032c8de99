"""Schema extensions: the query cost limit, error masking, and the audit of denials."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    get_named_type,
)
from strawberry.extensions import AddValidationRules, SchemaExtension

from crm_graphql.errors import is_client_error
from crm_graphql.services import audit

log = logging.getLogger("crm_graphql.errors")


class QueryTooComplex(GraphQLError):
    """Raised (not only reported) by the cost rule, so validation stops at once."""


def cost_limit_rule(
    max_cost: int,
    default_page: int,
    max_page: int,
    *,
    nested_default_page: int | None = None,
    nested_max_page: int | None = None,
    max_selections: int | None = None,
) -> type[ValidationRule]:
    """A validation rule refusing operations whose cost exceeds `max_cost`.

    Each field costs 1; a field with a `first` argument multiplies the cost of what is
    under it by its page size (the default when omitted, the cap when it is a
    variable), so nested lists are priced by the rows they can return. A root field's
    list uses the root page limits; a list below another field uses the nested limits
    (the root ones when not given).

    The rule also refuses a document whose selections, with every fragment spread
    expanded, number more than `max_selections` (default: `max_cost`): a few hundred
    bytes of fragments spreading each other twice expand to 2**n selections, and other
    validators (strawberry's depth limiter) walk every one of them. The rule prices each
    fragment once, so its own work stays linear in the document, and it does its work
    when validation creates it, raising the error instead of only reporting it, so that
    no rule listed after it starts on such a document."""
    nested_default = default_page if nested_default_page is None else nested_default_page
    nested_max = max_page if nested_max_page is None else nested_max_page
    size_limit = max_cost if max_selections is None else max_selections

    class CostLimit(ValidationRule):
        def __init__(self, context: Any) -> None:
            super().__init__(context)
            schema = context.schema
            self._roots = {
                t for t in (schema.query_type, schema.mutation_type, schema.subscription_type) if t
            }
            self._fragments: dict[str, tuple[int, int]] = {}
            for node in context.document.definitions:
                if not isinstance(node, OperationDefinitionNode):
                    continue
                root = schema.get_root_type(node.operation)
                if root is None:
                    continue
                cost, size = self._selection_cost(node.selection_set, root, frozenset())
                if size > size_limit:
                    raise QueryTooComplex(
                        f"Query expands to more than {size_limit} selections once its "
                        "fragments are spread. Ask for less.",
                        node,
                        extensions={"code": "QUERY_TOO_COMPLEX", "limit": size_limit},
                    )
                if cost > max_cost:
                    raise QueryTooComplex(
                        f"Query cost {cost} exceeds the limit of {max_cost}. Ask for smaller "
                        "pages or fewer nested lists.",
                        node,
                        extensions={"code": "QUERY_TOO_COMPLEX", "cost": cost, "limit": max_cost},
                    )

        def _selection_cost(
            self, selection_set: SelectionSetNode | None, parent: Any, path: frozenset[str]
        ) -> tuple[int, int]:
            """(cost, number of selections once fragments are expanded)."""
            if selection_set is None:
                return 0, 0
            cost = size = 0
            for selection in selection_set.selections:
                size += 1
                if isinstance(selection, FieldNode):
                    field_cost, field_size = self._field_cost(selection, parent, path)
                elif isinstance(selection, InlineFragmentNode):
                    target = parent
                    if selection.type_condition is not None:
                        target = self.context.schema.get_type(selection.type_condition.name.value)
                    field_cost, field_size = self._selection_cost(
                        selection.selection_set, target, path
                    )
                elif isinstance(selection, FragmentSpreadNode):
                    field_cost, field_size = self._fragment_cost(selection.name.value, path)
                else:  # pragma: no cover - no other selection kinds exist
                    continue
                cost += field_cost
                size += field_size
            return cost, size

        def _fragment_cost(self, name: str, path: frozenset[str]) -> tuple[int, int]:
            if name in self._fragments:
                return self._fragments[name]
            fragment = self.context.get_fragment(name)
            if fragment is None or name in path:
                return 0, 0  # unknown or cyclic: other rules report it
            target = self.context.schema.get_type(fragment.type_condition.name.value)
            found = self._selection_cost(fragment.selection_set, target, path | {name})
            self._fragments[name] = found
            return found

        def _field_cost(
            self, node: FieldNode, parent: Any, path: frozenset[str]
        ) -> tuple[int, int]:
            fields = getattr(parent, "fields", None)
            field_def = fields.get(node.name.value) if isinstance(fields, dict) else None
            # Unknown fields (other rules report them) are still walked: their
            # selections are work for the validators all the same.
            child_type = get_named_type(field_def.type) if field_def is not None else None
            multiplier = 1
            if field_def is not None and "first" in field_def.args:
                at_root = parent in self._roots
                multiplier = default_page if at_root else nested_default
                for arg in node.arguments or ():
                    if arg.name.value == "first":
                        if isinstance(arg.value, IntValueNode):
                            multiplier = max(int(arg.value.value), 1)
                        elif isinstance(arg.value, NullValueNode):
                            pass  # explicit null: the default page size
                        else:
                            multiplier = max_page if at_root else nested_max
            below_cost, below_size = self._selection_cost(node.selection_set, child_type, path)
            return 1 + multiplier * below_cost, below_size

    return CostLimit


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


# graphql-core's hints: "Did you mean 'first'?", "Did you mean the enum value 'ASC'?",
# "Did you mean 'a', 'b', or 'c'?". Names cannot hold "?", so the hint ends at the first.
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def without_suggestions(message: str) -> str:
    """`message` without graphql-core's "Did you mean ...?" hints."""
    return _SUGGESTION.sub("", message)


def is_safe_error(error: GraphQLError) -> bool:
    """True when `error` may reach the client as it is: one of ours, a syntax or
    validation error, or an input coercion error. graphql-core reports a variable that
    does not fit its type ("Variable '$n' has invalid value: Int cannot represent ...")
    as an error whose `original_error` is the GraphQLError the scalar, enum or input
    type raised; those are the client's to fix, not internal errors."""
    if is_client_error(error):
        return True
    original = error.original_error
    return isinstance(original, GraphQLError) and is_safe_error(original)


def default_code(error: GraphQLError) -> str:
    """A code for graphql-core's own errors, which carry none: every error a client
    gets has `extensions.code`."""
    message = error.message
    if (
        "maximum operation depth" in message
        or "aliases found" in message
        or ("tokens" in message and "limit" in message.lower())
    ):
        return "QUERY_TOO_COMPLEX"
    if message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if error.message.startswith("Variable '$") or error.path is not None:
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED"


class MaskUnexpectedErrors(SchemaExtension):
    """Unexpected exceptions reach the client as "Internal error" with the request id;
    the traceback goes to the log under that id.

    In production, the "Did you mean ...?" hints are also cut from every error: they
    reveal field, argument, input field and enum value names the schema would otherwise
    keep to itself when introspection is off. (StrawberryConfig's
    `disable_field_suggestions` only covers unknown fields.)"""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if not errors:
            return
        context = self.execution_context.context
        request_id = getattr(context, "request_id", "")
        production = bool(getattr(getattr(context, "settings", None), "production", False))
        masked: list[GraphQLError] = []
        for error in errors:
            if is_safe_error(error):
                if production and "Did you mean" in error.message:
                    error.message = without_suggestions(error.message)
                if not (error.extensions or {}).get("code"):
                    error.extensions = {**(error.extensions or {}), "code": default_code(error)}
                masked.append(error)
                continue
            log.error(
                "request %s: unexpected error at %s",
                request_id,
                error.path,
                exc_info=error.original_error,
            )
            masked.append(
                GraphQLError(
                    "Internal error. Quote the request id when reporting it.",
                    nodes=error.nodes,
                    path=error.path,
                    extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
                )
            )
        result.errors = masked  # type: ignore[union-attr]


class AuditDenials(SchemaExtension):
    """Writes the access denials the synchronous permission checks collected."""

    async def on_operation(self) -> AsyncIterator[None]:  # type: ignore[override]
        yield
        context = self.execution_context.context
        denials = getattr(context, "denials", None)
        if not denials:
            return
        viewer = context.viewer
        for denial in denials:
            await audit.record(
                viewer.user if viewer else None,
                audit.DENIED,
                "Field",
                denial["what"],
                {"reason": denial["reason"], "operation": self.execution_context.operation_name},
                context.request_id,
            )


class RequireOperationName(SchemaExtension):
    """A document with several operations must say which one to run (GraphQL spec,
    "GetOperation"); strawberry would otherwise run the first."""

    def on_validate(self) -> Iterator[None]:
        # Before the yield: strawberry reads pre_execution_errors as validation ends,
        # and this extension runs after ValidationCache has stored its own results.
        context = self.execution_context
        document = context.graphql_document
        if context._provided_operation_name is None and document is not None:
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            if len(operations) > 1:
                context.pre_execution_errors = [
                    *(context.pre_execution_errors or []),
                    GraphQLError(
                        "The document has several operations: give operationName.",
                        extensions={"code": "BAD_USER_INPUT"},
                    ),
                ]
        yield
