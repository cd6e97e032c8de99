"""Schema extensions: the query cost limit, error masking, and the audit of denials."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    get_named_type,
)
from strawberry.extensions import AddValidationRules, SchemaExtension

from crm_graphql.errors import is_client_error
from crm_graphql.services import audit

log = logging.getLogger("crm_graphql.errors")


def cost_limit_rule(max_cost: int, default_page: int, max_page: int) -> type[ValidationRule]:
    """A validation rule refusing operations whose cost exceeds `max_cost`.

    Each field costs 1; a field with a `first` argument multiplies the cost of what is
    under it by its page size (the default when omitted, the cap when it is a
    variable), so nested lists are priced by the rows they can return."""

    class CostLimit(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            schema = self.context.schema
            root = schema.get_root_type(node.operation)
            if root is None:
                return
            cost = self._selection_cost(node.selection_set, root, set())
            if cost > max_cost:
                self.report_error(
                    GraphQLError(
                        f"Query cost {cost} exceeds the limit of {max_cost}. Ask for smaller "
                        "pages or fewer nested lists.",
                        node,
                        extensions={"code": "QUERY_TOO_COMPLEX", "cost": cost, "limit": max_cost},
                    )
                )

        def _selection_cost(
            self, selection_set: SelectionSetNode | None, parent: Any, seen: set[str]
        ) -> int:
            if selection_set is None:
                return 0
            total = 0
            for selection in selection_set.selections:
                if isinstance(selection, FieldNode):
                    total += self._field_cost(selection, parent, seen)
                elif isinstance(selection, InlineFragmentNode):
                    target = parent
                    if selection.type_condition is not None:
                        target = self.context.schema.get_type(selection.type_condition.name.value)
                    total += self._selection_cost(selection.selection_set, target, seen)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.context.get_fragment(name)
                    if fragment is None or name in seen:
                        continue  # unknown or cyclic: other rules report it
                    target = self.context.schema.get_type(fragment.type_condition.name.value)
                    total += self._selection_cost(fragment.selection_set, target, seen | {name})
            return total

        def _field_cost(self, node: FieldNode, parent: Any, seen: set[str]) -> int:
            if not isinstance(parent, GraphQLObjectType) and not hasattr(parent, "fields"):
                return 1
            field_def = parent.fields.get(node.name.value)
            if field_def is None:
                return 1
            child_type = get_named_type(field_def.type)
            multiplier = 1
            if "first" in field_def.args:
                multiplier = default_page
                for arg in node.arguments or ():
                    if arg.name.value == "first":
                        if isinstance(arg.value, IntValueNode):
                            multiplier = max(int(arg.value.value), 1)
                        else:
                            multiplier = max_page
            return 1 + multiplier * self._selection_cost(node.selection_set, child_type, seen)

    return CostLimit


def cost_limit(max_cost: int, default_page: int, max_page: int) -> AddValidationRules:
    return AddValidationRules([cost_limit_rule(max_cost, default_page, max_page)])


class MaskUnexpectedErrors(SchemaExtension):
    """Unexpected exceptions reach the client as "Internal error" with the request id;
    the traceback goes to the log under that id."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if not errors:
            return
        context = self.execution_context.context
        request_id = getattr(context, "request_id", "")
        masked: list[GraphQLError] = []
        for error in errors:
            if is_client_error(error):
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
