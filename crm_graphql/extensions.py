"""Schema extensions: the query cost limit, error masking, and the audit of denials."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

from graphql import (
    BREAK,
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLArgument,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    Undefined,
    ValidationRule,
    Visitor,
    get_named_type,
    get_operation_ast,
    value_from_ast,
    visit,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.execution.values import get_variable_values
from strawberry.extensions import AddValidationRules, SchemaExtension
from tortoise.exceptions import ValidationError

from crm_graphql.errors import ApiError, FieldError, Forbidden, PayloadErrors, is_client_error
from crm_graphql.permissions.scopes import ROOT_FIELDS, refused_fields
from crm_graphql.schema.filterlimits import check_filter, is_filter_type
from crm_graphql.services import audit
from crm_graphql.services.aggregate_plan import MAX_DIMENSIONS, MAX_MEASURES
from crm_graphql.services.deadline import deadline_scope
from crm_graphql.services.mutations import validation_field_error
from crm_graphql.settings import Limits

log = logging.getLogger("crm_graphql.errors")
# Seconds the audit of a request's denials may take, whatever the request's deadline.
AUDIT_SECONDS = 5.0


class QueryTooComplex(GraphQLError):
    """Raised (not only reported) by the cost rule, so validation stops at once."""


# Costs saturate here: a product of nested page sizes must never grow into a number
# that orjson cannot write (64 bits) or that takes long to compute.
COST_CEILING = 2**50


def _capped(value: int) -> int:
    return min(value, COST_CEILING)


def _selection_key(selection: Any) -> str:
    """What graphql-core compares a selection with its siblings by: the response key,
    the fragment, or the inline fragment's type."""
    if isinstance(selection, FieldNode):
        return (selection.alias or selection.name).value
    if isinstance(selection, FragmentSpreadNode):
        return "..." + selection.name.value
    condition = getattr(selection, "type_condition", None)
    return "... on " + (condition.name.value if condition else "")


def aggregate_parts(node: FieldNode) -> int:
    """What an aggregate field adds to the cost, in filter conditions: each dimension
    and measure is a pass over every visible row's values (a list given as a variable
    counts as the most it may hold; no measures is COUNT)."""
    given = {arg.name.value: arg.value for arg in node.arguments or ()}
    parts = 0
    for name, most, default in (("groupBy", MAX_DIMENSIONS, 0), ("measures", MAX_MEASURES, 1)):
        value = given.get(name)
        if value is None or isinstance(value, NullValueNode):
            parts += default
        elif isinstance(value, ListValueNode):
            parts += min(len(value.values), most)
        elif isinstance(value, ObjectValueNode):
            parts += 1  # one item, coerced to a list
        else:
            parts += most
    return parts


class Pricer:
    """Prices one operation: each field costs 1; a field with a `first` argument
    multiplies the cost of what is under it by its page size (the default when omitted,
    the cap when it is a variable or above the cap), so nested lists are priced by the
    rows they can return; each condition of a filter argument costs
    `filter_condition_cost`. A root field's list uses the root page limits; a list below
    another field uses the nested limits.

    Fragments are priced once each, so the work stays linear in the document. It also
    counts selections with every fragment spread expanded, and refuses a selection set
    repeating one response key (or fragment, or inline fragment type) more than
    `max_repeated` times.

    With `variables` (coerced), filters given as variables are checked and priced too;
    without, only filters written in the document are (validation time)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        *,
        default_page: int,
        max_page: int,
        nested_default_page: int,
        nested_max_page: int,
        filter_limits: Limits | None = None,
        max_repeated: int | None = None,
        variables: dict[str, Any] | None = None,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.default_page = default_page
        self.max_page = max_page
        self.nested_default = nested_default_page
        self.nested_max = nested_max_page
        self.filter_limits = filter_limits
        self.max_repeated = max_repeated
        self.variables = variables
        self._roots = {
            t for t in (schema.query_type, schema.mutation_type, schema.subscription_type) if t
        }
        self._priced: dict[str, tuple[int, int]] = {}

    def operation(self, node: OperationDefinitionNode) -> tuple[int, int]:
        """(cost, number of selections once fragments are expanded)."""
        root = self.schema.get_root_type(node.operation)
        if root is None:
            return 0, 0
        return self.selections(node.selection_set, root, frozenset())

    def selections(
        self, selection_set: SelectionSetNode | None, parent: Any, path: frozenset[str]
    ) -> tuple[int, int]:
        if selection_set is None:
            return 0, 0
        cost = size = 0
        seen: dict[str, int] = {}
        for selection in selection_set.selections:
            size += 1
            key = _selection_key(selection)
            seen[key] = seen.get(key, 0) + 1
            if self.max_repeated is not None and seen[key] > self.max_repeated:
                raise QueryTooComplex(
                    f"`{key}` is selected more than {self.max_repeated} times in one "
                    "selection set.",
                    selection,
                    extensions={"code": "QUERY_TOO_COMPLEX", "limit": self.max_repeated},
                )
            if isinstance(selection, FieldNode):
                field_cost, field_size = self._field(selection, parent, path)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = parent
                if condition is not None:
                    target = self.schema.get_type(condition.name.value)
                field_cost, field_size = self.selections(selection.selection_set, target, path)
            elif isinstance(selection, FragmentSpreadNode):
                field_cost, field_size = self._fragment(selection.name.value, path)
            else:  # pragma: no cover - no other selection kinds exist
                continue
            cost = _capped(cost + field_cost)
            size = _capped(size + field_size)
        return cost, size

    def _fragment(self, name: str, path: frozenset[str]) -> tuple[int, int]:
        if name in self._priced:
            return self._priced[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in path:
            return 0, 0  # unknown or cyclic: other rules report it
        target = self.schema.get_type(fragment.type_condition.name.value)
        found = self.selections(fragment.selection_set, target, path | {name})
        self._priced[name] = found
        return found

    def _field(self, node: FieldNode, parent: Any, path: frozenset[str]) -> tuple[int, int]:
        fields = getattr(parent, "fields", None)
        field_def = fields.get(node.name.value) if isinstance(fields, dict) else None
        # Unknown fields (other rules report them) are still walked: their
        # selections are work for the validators all the same.
        child_type = get_named_type(field_def.type) if field_def is not None else None
        multiplier = 1
        own = 1
        if field_def is not None:
            at_root = parent in self._roots
            cap = self.max_page if at_root else self.nested_max
            if "first" in field_def.args:
                multiplier = self.default_page if at_root else self.nested_default
            for arg in node.arguments or ():
                name = arg.name.value
                if name == "first" and "first" in field_def.args:
                    if isinstance(arg.value, IntValueNode):
                        # Above the cap the resolver refuses it; price it at the cap.
                        multiplier = min(max(int(arg.value.value), 1), cap)
                    elif not isinstance(arg.value, NullValueNode):
                        multiplier = cap  # a variable: whatever it holds, at most the cap
                argument = field_def.args.get(name)
                if self.filter_limits is not None and argument and is_filter_type(argument.type):
                    own += self.filter_limits.filter_condition_cost * self._filter(arg, argument)
            if self.filter_limits is not None and "groupBy" in field_def.args:
                own += self.filter_limits.filter_condition_cost * aggregate_parts(node)
        below_cost, below_size = self.selections(node.selection_set, child_type, path)
        return _capped(own + multiplier * below_cost), below_size

    def _filter(self, arg: ArgumentNode, argument: GraphQLArgument) -> int:
        """Conditions of one filter argument, checked against the limits. A value that
        is not known yet (a variable at validation) or not valid (other rules report
        it) counts nothing here."""
        assert self.filter_limits is not None
        value = value_from_ast(arg.value, argument.type, self.variables)
        if value is Undefined or value is None:
            return 0
        return check_filter(value, argument.type, self.filter_limits, arg.name.value)


def count_directives(document: DocumentNode) -> int:
    count = 0

    class Counter(Visitor):
        def enter_directive(self, *_: Any) -> None:
            nonlocal count
            count += 1

    visit(document, Counter())
    return count


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
                    extensions={"code": "QUERY_TOO_COMPLEX", "limit": max_directives},
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
                        extensions={"code": "QUERY_TOO_COMPLEX", "limit": size_limit},
                    )
                if cost > max_cost:
                    raise too_costly(cost, max_cost, node)

    return CostLimit


def too_costly(cost: int, max_cost: int, node: Any = None, what: str = "Query") -> GraphQLError:
    return QueryTooComplex(
        f"{what} cost {cost} exceeds the limit of {max_cost}. Ask for smaller pages, fewer "
        "nested lists or fewer filter conditions.",
        node,
        extensions={"code": "QUERY_TOO_COMPLEX", "cost": _capped(cost), "limit": max_cost},
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


def truncate_errors(errors: list[GraphQLError], limit: int) -> list[GraphQLError]:
    """At most `limit` errors: the first `limit - 1`, then one saying how many more
    there were (with the code of the first one left out)."""
    if len(errors) <= limit:
        return errors
    kept = errors[: max(limit - 1, 0)]
    rest = errors[len(kept) :]
    code = (rest[0].extensions or {}).get("code") or default_code(rest[0])
    kept.append(
        GraphQLError(
            f"{rest[0].message} (and {len(rest) - 1} more errors, left out: a response "
            f"lists at most {limit}).",
            nodes=rest[0].nodes,
            extensions={"code": code, "omittedErrors": len(rest) - 1},
        )
    )
    return kept


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


def field_error(error: GraphQLError) -> GraphQLError | None:
    """A `FieldError` (or `PayloadErrors`) that escaped a resolver with no payload to
    carry it, e.g. a malformed id argument of a query, as the client error it is:
    BAD_USER_INPUT naming the field, with the payload code as `reason`."""
    original = error.original_error
    if isinstance(original, PayloadErrors) and original.errors:
        original = original.errors[0]
    if isinstance(original, ValidationError):
        original = validation_field_error(original)
    if not isinstance(original, FieldError):
        return None
    extensions: dict[str, Any] = {"code": "BAD_USER_INPUT", "reason": original.code}
    if original.field:
        extensions["field"] = original.field
    message = original.message
    if original.field and original.field not in message:
        message = f"{original.field}: {message}"
    return GraphQLError(message, nodes=error.nodes, path=error.path, extensions=extensions)


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
            client_error = field_error(error)
            if client_error is not None:
                masked.append(client_error)
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


def nul_path(value: Any, path: str, depth: int = 0) -> str | None:
    """Where a NUL byte is in a JSON-like value (keys included), or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if depth > 64:  # deeper than any input type; the JSON scalar has no other bound
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            key_text = str(key)
            if "\x00" in key_text:
                return path
            found = nul_path(item, f"{path}.{key_text}", depth + 1)
            if found:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = nul_path(item, f"{path}.{index}", depth + 1)
            if found:
                return found
    return None


def _document_nul(document: DocumentNode) -> StringValueNode | None:
    found: StringValueNode | None = None

    class Finder(Visitor):
        def enter_string_value(self, node: StringValueNode, *_: Any) -> Any:
            nonlocal found
            if "\x00" in node.value:
                found = node
                return BREAK
            return None

    visit(document, Finder())
    return found


class RefuseNulBytes(SchemaExtension):
    """No string the client sends may hold a NUL byte (written as `\\u0000` in the
    document or in the JSON variables): PostgreSQL cannot store or compare one in text,
    so it is refused before execution on both databases, whatever the field."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if not context.result:
            error: GraphQLError | None = None
            variables = context.variables or {}
            for name, value in variables.items():
                where = nul_path(value, "$" + str(name))
                if where is not None:
                    error = GraphQLError(
                        f"Variable `{where[:200]}` contains a NUL byte (\\u0000); strings "
                        "must not.",
                        extensions={"code": "BAD_USER_INPUT", "variable": where[:200]},
                    )
                    break
            node = _document_nul(document) if error is None and document else None
            if node is not None:
                error = GraphQLError(
                    "A string in the document contains a NUL byte (\\u0000); strings must not.",
                    node,
                    extensions={"code": "BAD_USER_INPUT"},
                )
            if error is not None:
                context.result = GraphQLExecutionResult(data=None, errors=[error])
        yield


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


class ScopeGate(SchemaExtension):
    """A token of a narrow scope (a web form's LEADS_CREATE) reaches only the root
    fields `permissions.scopes.ROOT_FIELDS` lists for it: any other root field,
    introspection included, refuses the whole operation with FORBIDDEN before it is
    validated or run, whatever the field's own permission says."""

    def on_validate(self) -> Iterator[None]:
        # After ValidationCache (it sets pre_execution_errors): this replaces its result.
        context = self.execution_context
        viewer = getattr(context.context, "viewer", None)
        document = context.graphql_document
        if viewer is not None and document is not None:
            refused = refused_fields(viewer.scope, document, context.operation_name)
            if refused:
                allowed = sorted(f.split(".", 1)[1] for f in ROOT_FIELDS.get(viewer.scope, ()))
                context.context.deny(", ".join(refused), f"token scope {viewer.scope.value}")
                context.pre_execution_errors = [
                    Forbidden(
                        f"This API token (scope {viewer.scope.value}) may only call: "
                        f"{', '.join(allowed) or 'nothing'}.",
                        refused=refused,
                    )
                ]
        yield
